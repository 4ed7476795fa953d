// What policyd-bench sends. A connection plays one smtpd process: for each message it sends
// the message's RCPT requests and then its END-OF-MESSAGE, as Postfix does when policyd is
// hooked into smtpd_recipient_restrictions and smtpd_end_of_data_restrictions. Each message
// comes from a user drawn uniformly from `users`, with that user's own sender address (in the
// one sender domain the seed grants to every user) and client IP. Requests carry the
// attributes Postfix 3.7 sends, in its order (test/data/requests). Pure: no clock, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace policyd::bench {

// Name of user `index`: "u" + 12 digits, the shape redis-benchmark's __rand_int__ placeholder
// takes, so the users the seed creates serve policyd-bench and the redis-benchmark ceiling.
std::string UserName(uint64_t index);
// The user's sender address: UserName(index) + "@" + domain.
std::string SenderAddress(uint64_t index, std::string_view domain);

// xorshift64*: small, fast, and reproducible for one seed.
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

// Everything that varies between two requests. FormatRequest turns it into protocol bytes.
struct RequestFields {
  bool eom = false;            // END-OF-MESSAGE, else RCPT
  uint64_t user = 0;           // index: UserName(user), its sender and client IP
  uint64_t recipient = 0;      // "r" + 12 digits + "@example.org"
  bool has_recipient = true;   // END-OF-MESSAGE leaves it empty when there were several
  uint64_t recipient_count = 0;  // 0 at RCPT, the accepted count at END-OF-MESSAGE
  uint64_t size = 0;           // message size; 0 at RCPT (no SIZE= in MAIL FROM)
  uint64_t client_port = 0;
  std::string instance;        // Postfix's per-message "instance" attribute
  std::string queue_id;        // empty at RCPT (Postfix assigns it at the first RCPT's end)
};

// Client IP of a user: 10.x.y.z from the index (distinct for up to 2^24 users).
std::string ClientAddress(uint64_t user);

// Appends one complete request ("name=value\n" lines and the empty line) to *out.
void FormatRequest(const RequestFields& f, std::string_view sender_domain, std::string* out);

struct WorkloadOptions {
  uint64_t users = 1000;            // distinct users 0..users-1
  double eom_ratio = 0.5;           // END-OF-MESSAGE share of requests, 0..1
  std::string sender_domain = "example.com";
  uint64_t seed = 1;
  uint64_t run_id = 0;              // distinguishes runs in "instance" (Postfix: a timestamp)
};

// One connection's request stream.
class Workload {
 public:
  Workload(uint64_t connection_index, const WorkloadOptions& options);

  // Appends the next request to *out and returns its fields (user, stage, ...).
  const RequestFields& NextRequest(std::string* out);

 private:
  void StartMessage();

  uint64_t conn_;
  const WorkloadOptions& options_;
  Rng rng_;
  uint64_t message_seq_ = 0;
  uint64_t rcpts_planned_ = 0;  // RCPTs in the current message
  uint64_t rcpts_sent_ = 0;
  bool message_done_ = false;   // the last request ended its message
  RequestFields fields_;
};

}  // namespace policyd::bench
