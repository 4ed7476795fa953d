#include "bench/reply.h"

namespace policyd::bench {

std::string ReplyLabel(std::string_view action) {
  std::string label;
  for (char c : action) {
    if (c == ' ' || c == '\t' || label.size() == 24) break;
    label.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return label;
}

ReplyStatus ParseReply(std::string_view buffer, std::string* label, std::size_t* consumed) {
  constexpr std::string_view kPrefix = "action=";
  std::size_t end = buffer.find("\n\n");
  if (end == std::string_view::npos) {
    // A wrong start can be seen before the end arrives; so can a runaway reply.
    std::string_view head = buffer.substr(0, kPrefix.size());
    if (kPrefix.substr(0, head.size()) != head || buffer.size() > kMaxReplyBytes) {
      return ReplyStatus::kBad;
    }
    return ReplyStatus::kNeedMore;
  }
  if (end + 2 > kMaxReplyBytes || !buffer.starts_with(kPrefix)) return ReplyStatus::kBad;
  std::string_view action = buffer.substr(kPrefix.size(), end - kPrefix.size());
  action = action.substr(0, action.find('\n'));  // other attributes may follow; ignored
  *label = ReplyLabel(action);
  *consumed = end + 2;
  return ReplyStatus::kReply;
}

}  // namespace policyd::bench
