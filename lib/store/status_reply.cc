#include "store/status_reply.h"

#include <algorithm>

namespace policyd {

StatusReply ReadStatusReply(const Result<RedisValue>& reply, std::string_view script,
                            std::initializer_list<std::size_t> sizes,
                            std::initializer_list<std::string_view> statuses) {
  StatusReply out;
  if (!reply.ok()) {
    out.error = reply.error().message;
    return out;
  }
  const auto& e = reply->elements;
  if (reply->type != RedisValue::Type::kArray ||
      std::find(sizes.begin(), sizes.end(), e.size()) == sizes.end()) {
    out.error = std::string(script) + ": unexpected reply";
    return out;
  }
  std::string status = e[0].AsString();
  auto it = std::find(statuses.begin(), statuses.end(), status);
  if (it == statuses.end()) {
    out.error = std::string(script) + ": unexpected status";
    return out;
  }
  out.status = static_cast<std::size_t>(it - statuses.begin());
  out.fields = &e;
  return out;
}

}  // namespace policyd
