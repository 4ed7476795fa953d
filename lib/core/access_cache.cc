#include "core/access_cache.h"

namespace policyd {

std::optional<AccessFacts> ParseAccessFacts(const std::vector<std::string>& reply) {
  if (reply.size() == 1 && reply[0] == "full") return AccessFacts{};
  if (reply.size() < 5 || reply[0] != "pass" || reply.size() % 2 != 1) return std::nullopt;
  AccessFacts f;
  f.full = false;
  f.plan = reply[1];
  f.account = reply[2];
  f.user_quota = reply[3];
  f.account_quota = reply[4];
  for (std::size_t i = 5; i + 1 < reply.size(); i += 2) {
    f.overrides.emplace_back(reply[i], reply[i + 1]);
  }
  return f;
}

void AppendFastPathArgs(const AccessFacts& facts, std::vector<std::string>* args) {
  args->push_back("1");
  args->push_back(facts.plan);
  args->push_back(facts.account);
  args->push_back(facts.user_quota);
  args->push_back(facts.account_quota);
  for (const auto& [field, value] : facts.overrides) {
    args->push_back(field);
    args->push_back(value);
  }
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
