// The access cache of one event loop (issue 16): what access_facts.lua (decide.lua's sections
// 1-3, read only) answered for a (subject, sender tag, sender domain, client address), so
// that a request whose access is a plain pass asks Redis for the windows only (decide.lua's
// fast path, ARGV[33] = '1' and these facts in ARGV[34...]), and policyd answers a RCPT
// pre-check with plain reads of its windows (lib/core/rcpt_precheck.h).
//
// What keeps it truthful (the owner, lib/store/local_refusals, wires these up): Clear() on
// any invalidation of users, accounts, domains, grants or blocks, on FLUSHALL, on a config
// reload and whenever either Redis connection is lost. Clear() moves the generation on, and
// a fill is stored only if the generation it was sent at is still current: an answer Redis
// gave before a change never outlives that change's invalidation.
// Pure: no I/O, no clock; one instance per event loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace policyd {

// One of a request's resolved limits (Lua's effective_limits: the plan's limit, or the user's
// override of it). metric and window_s are the limit's window suffix in pd:rate: as written.
struct ResolvedLimit {
  std::string subject;   // user, sender, ip, account (another word: a limit no request has)
  std::string metric;    // messages, recipients, bytes
  std::string window_s;  // digits
  double max = 0;
};

// access_facts.lua's answer.
struct AccessFacts {
  bool full = true;  // the request needs decide's full path (block, refusal, unknown user)
  std::string limits_text;  // _access.lua format_limits: 'SUBJECT:METRIC:WINDOW_S:MAX,...'
  std::vector<ResolvedLimit> limits;  // limits_text parsed
  std::string account;                // '' none
  std::string user_quota;             // the user's 'quota' field, '' none
  std::string account_quota;          // '' none
  // The user has an IP allow-list: these facts hold for the request's client address only.
  // Otherwise they hold for every client, and are kept under the key without one.
  bool per_client = false;
};

// format_limits' text ('' = no limits) as ResolvedLimits; nullopt when malformed.
std::optional<std::vector<ResolvedLimit>> ParseResolvedLimits(std::string_view text);

// The reply { 'full', per client } or { 'pass', resolved limits, account, user quota, account
// quota, per client } (per client '1' or '0') as AccessFacts; nullopt when malformed.
std::optional<AccessFacts> ParseAccessFacts(const std::vector<std::string>& reply);

// decide.lua's ARGV[33...] for a pass: '1', resolved limits, account, user quota, account
// quota. REQUIRES: !facts.full.
void AppendFastPathArgs(const AccessFacts& facts, std::vector<std::string>* args);

// The cache key: subject, sender tag, sender domain and client address (as 32 hex digits),
// everything sections 1-3 read from a request. Facts that hold for every client (most users
// have no IP allow-list) are kept under kAnyClient instead of an address, so a user sending
// from many addresses needs one fill; for a user with an allow-list that key holds a marker
// (AnyClientMarker) that says to look under the request's address.
std::string AccessKey(std::string_view subject, std::string_view sender_tag,
                      std::string_view domain, std::string_view client_hex);
inline constexpr std::string_view kAnyClient = "any";  // never 32 hex digits nor ''
// Under the kAnyClient key of a user with an IP allow-list: full (never used as facts) and
// per_client (look under the address).
AccessFacts AnyClientMarker();

class AccessCache {
 public:
  explicit AccessCache(std::size_t max_entries = 100000) : max_entries_(max_entries) {}

  uint64_t generation() const { return generation_; }
  std::size_t size() const { return entries_.size(); }

  // The facts for key, or nullptr (valid until the next Store/Clear).
  const AccessFacts* Find(const std::string& key) const;
  // Keeps facts for key if nothing was cleared since `generation` (taken when its request was
  // sent). A full cache is emptied first. Returns whether it was kept.
  bool Store(const std::string& key, AccessFacts facts, uint64_t generation);
  // Forgets everything; fills sent before this are not stored.
  void Clear();

 private:
  std::size_t max_entries_;
  uint64_t generation_ = 1;
  std::unordered_map<std::string, AccessFacts> entries_;
};

}  // namespace policyd
