// What policyd-bench sends and how it reads the answers. A connection plays one smtpd process:
// it sends the RCPT requests of a message and then its END-OF-MESSAGE (share set by
// --eom-ratio), each message from a user drawn uniformly from --users, with that user's own
// sender address and client IP. Requests carry the attributes Postfix 3.x sends, in its order.
// Pure: the formatting and parsing here are tested in test/unit/bench_workload_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace policyd::bench {

// Name of user `index`: "u" + 12 digits, the shape redis-benchmark's __rand_int__ produces,
// so the same users serve policyd-bench and the redis-benchmark ceiling.
std::string UserName(uint64_t index);

// xorshift64*: small, fast, and reproducible across runs for one seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    if (s_ == 0) s_ = 1;
  }
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  uint64_t Below(uint64_t n) { return n ? Next() % n : 0; }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_;
};

// One connection's request stream. Each NextRequest() appends one complete request
// ("name=value\n" lines and the empty line) to *out.
class Workload {
 public:
  Workload(uint64_t connection_index, uint64_t users, double eom_ratio, uint64_t seed);
  void NextRequest(std::string* out);

 private:
  void StartMessage();

  uint64_t conn_;
  uint64_t users_;
  double eom_ratio_;
  Rng rng_;
  uint64_t message_seq_ = 0;
  uint64_t user_ = 0;
  uint64_t rcpts_ = 0;  // RCPTs sent for the current message
  uint64_t client_port_ = 0;
};

// How a reply is tallied.
enum class ReplyKind { kDunno, k421, k550, kOther };

// Parses one reply "action=TEXT" (the bytes before the empty line, without it). Returns false
// when it is not a policy reply (no "action=" line first).
bool ClassifyReply(std::string_view reply, ReplyKind* kind);

}  // namespace policyd::bench
