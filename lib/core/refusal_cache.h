// The local refusal cache (issue 16): a subject that Redis refused with 421 and a known
// retry_after is refused again by this instance, without Redis, until the window can admit
// the request (counters only grow inside a window, so the refusal stays true until then).
//
// What keeps it truthful (the owner, lib/store/local_refusals, wires these up):
// - Clear() on any invalidation of read-mostly state (users, accounts, domains, grants,
//   blocks), on a config reload, and when either Redis connection is lost. Clear() bumps the
//   generation, so a decision that was in flight across a Clear() is not remembered.
// - Windows are not tracked (every counted message writes one, and Redis would publish each
//   write to every loop of every instance): a window deleted by hand ends the refusals it
//   gave at their retry_after, or at once after any write to the read-mostly keys.
// - A request is answered locally only if it would get the same answer from Redis: same
//   stage, subject, sender and client address (so the same blocks, ACL and limits apply), a
//   cost for the refused metric at least the refused one, [policy] count_at = "eom" (a
//   message counted at RCPT changes what its next RCPT costs).
// - Escalation stays exact: every local refusal is a throttle, batched per subject
//   (TakeBatches) and recorded by record_throttles.lua, which also reports how many
//   throttles the subject has left before [abuse] throttle_events blocks it. A subject is
//   refused locally only while that headroom, minus what is batched, exceeds
//   `escalation_margin`: the throttle that creates a block is always decided in Redis, so the
//   requests around it get exactly the replies they get without a cache.
// Pure: no clock (callers pass loop time in ms), no I/O; one instance per event loop.
#pragma once

#include <cstdint>
#include <string_view>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/policy_request.h"
#include "core/verdict.h"

namespace policyd {

struct RefusalCacheLimits {
  std::size_t max_entries = 100000;     // beyond this, Remember() empties the cache first
  int64_t escalation_margin = 1024;     // throttles left before a block that stay with Redis
  uint64_t max_batch_per_subject = 64;  // local refusals per subject awaiting a flush
};

// Which cached refusal a request could reuse; built once per request.
struct RefusalKey {
  std::string key;      // stage, subject, sender tag, client ip tag
  std::string subject;  // the decision's subject tag: "user:NAME" or "sender:ADDRESS"
  std::string sender_tag, ip_tag;
  uint64_t messages = 0, recipients = 0, bytes = 0;  // what the request costs per metric
};

// A subject's locally refused requests since the last flush: n throttles to record.
struct ThrottleBatch {
  std::string subject;
  uint64_t n = 0;      // 0: only asks for the subject's headroom
  std::string detail;  // evidence detail, as decide.lua writes it
};

class RefusalCache {
 public:
  explicit RefusalCache(RefusalCacheLimits limits = {}) : limits_(limits) {}

  // nullopt when the request must always go to Redis.
  static std::optional<RefusalKey> KeyFor(const PolicyRequest& request, const Config& config);

  uint64_t generation() const { return generation_; }

  // decide.lua's verdict for a request with `key`, sent to Redis at loop time sent_ms while
  // the cache was at `generation`. Keeps it only if it is a 421 with retry_after >= 2 s and
  // nothing was cleared meanwhile.
  // Returns whether it was kept.
  bool Remember(const RefusalKey& key, const Verdict& verdict, uint64_t sent_ms,
                uint64_t generation);

  // The cached refusal for key at now_ms (retry_after counting down), counted as a throttle
  // of its subject; nullopt when Redis must decide.
  std::optional<Verdict> Answer(const RefusalKey& key, uint64_t now_ms);

  // Forgets every refusal and each subject's headroom; the generation moves on. Throttles
  // already answered locally stay batched for the next TakeBatches: they happened.
  void Clear();

  // The batches to record now (subjects with local refusals, or whose headroom is unknown);
  // their counts are reset. Only one set of batches should be in flight at a time.
  std::vector<ThrottleBatch> TakeBatches();
  // record_throttles.lua's answer for one subject of batches taken at `generation`: its
  // throttle list length afterwards and whether it is blocked (blocked: the cache is cleared).
  void OnRecorded(const std::string& subject, int64_t throttles, bool blocked,
                  int throttle_events, uint64_t generation);

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string subject;
    Verdict verdict;
    uint64_t cost = 0;         // of the refused metric
    uint64_t serve_until = 0;  // loop ms; conservative: retry_after rounded up by Redis
    uint64_t retry_at = 0;     // loop ms behind the reply's "try again in" figure
  };
  struct SubjectState {
    int64_t headroom = -1;  // throttles until a block, as last recorded; -1 unknown
    uint64_t batched = 0;   // local refusals not yet taken
    bool probe = true;      // headroom wanted at the next flush
    std::string detail;
  };

  RefusalCacheLimits limits_;
  uint64_t generation_ = 1;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, SubjectState> subjects_;
};

// The metric's cost in a key (messages, recipients or bytes); 0 for an unknown metric.
uint64_t CostOf(const RefusalKey& key, std::string_view metric);

}  // namespace policyd
