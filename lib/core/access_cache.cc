#include "core/access_cache.h"

#include <cstdlib>

namespace policyd {

namespace {

bool AllOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "SUBJECT:METRIC:WINDOW_S:MAX" as Lua's parse_limits reads it (%a+, %a+, %d+, a number).
std::optional<ResolvedLimit> ParseOne(std::string_view e) {
  std::string_view part[4];
  for (int i = 0; i < 3; ++i) {
    std::size_t colon = e.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    part[i] = e.substr(0, colon);
    e.remove_prefix(colon + 1);
  }
  part[3] = e;
  if (!AllOf(part[0], IsAlpha) || !AllOf(part[1], IsAlpha) || !AllOf(part[2], IsDigit) ||
      part[3].empty() || part[3].size() > 40) {
    return std::nullopt;
  }
  std::string max_text(part[3]);
  char* end = nullptr;
  double max = std::strtod(max_text.c_str(), &end);
  if (end != max_text.c_str() + max_text.size()) return std::nullopt;
  return ResolvedLimit{std::string(part[0]), std::string(part[1]), std::string(part[2]), max};
}

}  // namespace

std::optional<std::vector<ResolvedLimit>> ParseResolvedLimits(std::string_view text) {
  std::vector<ResolvedLimit> out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::optional<ResolvedLimit> l = ParseOne(text.substr(0, comma));
    if (!l) return std::nullopt;
    out.push_back(std::move(*l));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return std::nullopt;  // a trailing ','
  }
  return out;
}

std::optional<AccessFacts> ParseAccessFacts(const std::vector<std::string>& reply) {
  auto flag = [](const std::string& v) -> std::optional<bool> {
    if (v == "1") return true;
    if (v == "0") return false;
    return std::nullopt;
  };
  if (reply.size() == 2 && reply[0] == "full") {
    std::optional<bool> per_client = flag(reply[1]);
    if (!per_client) return std::nullopt;
    AccessFacts f;
    f.per_client = *per_client;
    return f;
  }
  if (reply.size() != 6 || reply[0] != "pass") return std::nullopt;
  std::optional<bool> per_client = flag(reply[5]);
  if (!per_client) return std::nullopt;
  std::optional<std::vector<ResolvedLimit>> limits = ParseResolvedLimits(reply[1]);
  if (!limits) return std::nullopt;
  AccessFacts f;
  f.full = false;
  f.limits_text = reply[1];
  f.limits = std::move(*limits);
  f.account = reply[2];
  f.user_quota = reply[3];
  f.account_quota = reply[4];
  f.per_client = *per_client;
  return f;
}

void AppendFastPathArgs(const AccessFacts& facts, std::vector<std::string>* args) {
  args->push_back("1");
  args->push_back(facts.limits_text);
  args->push_back(facts.account);
  args->push_back(facts.user_quota);
  args->push_back(facts.account_quota);
}

std::string AccessKey(std::string_view subject, std::string_view sender_tag,
                      std::string_view domain, std::string_view client_hex) {
  // NUL never occurs in tags (escaped), domains or hex: the parts cannot run into each other.
  std::string k;
  k.reserve(subject.size() + sender_tag.size() + domain.size() + client_hex.size() + 3);
  k.append(subject).push_back('\0');
  k.append(sender_tag).push_back('\0');
  k.append(domain).push_back('\0');
  k.append(client_hex);
  return k;
}

AccessFacts AnyClientMarker() {
  AccessFacts f;
  f.per_client = true;
  return f;
}

const AccessFacts* AccessCache::Find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

bool AccessCache::Store(const std::string& key, AccessFacts facts, uint64_t generation) {
  if (generation != generation_) return false;
  if (entries_.size() >= max_entries_ && entries_.find(key) == entries_.end()) {
    entries_.clear();  // generation unchanged: nothing stored was stale, only too many
  }
  entries_[key] = std::move(facts);
  return true;
}

void AccessCache::Clear() {
  entries_.clear();
  ++generation_;
}

}  // namespace policyd
