#include "bench/workload.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace policyd::bench {

std::string UserName(uint64_t index) { return fmt::format("u{:012}", index); }

std::string SenderAddress(uint64_t index, std::string_view domain) {
  return fmt::format("u{:012}@{}", index, domain);
}

std::string ClientAddress(uint64_t user) {
  return fmt::format("10.{}.{}.{}", (user >> 16) & 255, (user >> 8) & 255, user & 255);
}

void FormatRequest(const RequestFields& f, std::string_view sender_domain, std::string* out) {
  // Postfix 3.7's attribute order (smtpd_check.c check_policy_service), as in
  // test/data/requests/*.req.
  fmt::format_to(std::back_inserter(*out),
                 "request=smtpd_access_policy\n"
                 "protocol_state={}\n"
                 "protocol_name=ESMTP\n"
                 "client_address=10.{}.{}.{}\n"
                 "client_name=unknown\n"
                 "client_port={}\n"
                 "reverse_client_name=unknown\n"
                 "server_address=10.255.0.1\n"
                 "server_port=587\n"
                 "helo_name=host{}.example.net\n"
                 "sender=u{:012}@{}\n",
                 f.eom ? "END-OF-MESSAGE" : "RCPT", (f.user >> 16) & 255, (f.user >> 8) & 255,
                 f.user & 255, f.client_port, f.user, f.user, sender_domain);
  if (f.has_recipient) {
    fmt::format_to(std::back_inserter(*out), "recipient=r{:012}@example.org\n", f.recipient);
  } else {
    out->append("recipient=\n");
  }
  fmt::format_to(std::back_inserter(*out),
                 "recipient_count={}\n"
                 "queue_id={}\n"
                 "instance={}\n"
                 "size={}\n"
                 "etrn_domain=\n"
                 "stress=\n"
                 "sasl_method=PLAIN\n"
                 "sasl_username=u{:012}\n"
                 "sasl_sender=\n"
                 "ccert_subject=\n"
                 "ccert_issuer=\n"
                 "ccert_fingerprint=\n"
                 "ccert_pubkey_fingerprint=\n"
                 "encryption_protocol=TLSv1.3\n"
                 "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
                 "encryption_keysize=256\n"
                 "policy_context=\n"
                 "\n",
                 f.recipient_count, f.queue_id, f.instance, f.size, f.user);
}

Workload::Workload(uint64_t connection_index, const WorkloadOptions& options)
    : conn_(connection_index), options_(options), rng_(options.seed * 1000003 + connection_index) {
  StartMessage();
}

void Workload::StartMessage() {
  ++message_seq_;
  // A message has k RCPTs and one END-OF-MESSAGE, so the END-OF-MESSAGE share is 1/(k+1):
  // k averages (1-e)/e, drawn as its floor or ceiling. e = 0 means RCPTs only, each its own
  // message (a pre-check load); e = 1 means END-OF-MESSAGE only.
  double e = options_.eom_ratio;
  if (e <= 0) {
    rcpts_planned_ = 1;
  } else {
    double mean = (1.0 - e) / e;
    rcpts_planned_ = static_cast<uint64_t>(mean);
    if (rng_.Unit() < mean - std::floor(mean)) ++rcpts_planned_;
  }
  rcpts_sent_ = 0;
  fields_.user = rng_.Below(options_.users ? options_.users : 1);
  fields_.client_port = 1024 + rng_.Below(64000);
  // Postfix: process id, time and microseconds in hex, then a counter; unique per message
  // across connections and runs, so no message is mistaken for a retry of another.
  fields_.instance = fmt::format("{:x}.{:x}.{:x}.0", 1000 + conn_, options_.run_id, message_seq_);
  fields_.queue_id.clear();
}

const RequestFields& Workload::NextRequest(std::string* out) {
  // The next message starts here rather than after its END-OF-MESSAGE, so the fields returned
  // for that END-OF-MESSAGE stay those of the request sent.
  if (message_done_) {
    StartMessage();
    message_done_ = false;
  }
  bool eom = options_.eom_ratio > 0 && rcpts_sent_ >= rcpts_planned_;
  fields_.eom = eom;
  if (eom) {
    if (rcpts_sent_ == 0) fields_.recipient = rng_.Below(1000000000000ull);
    uint64_t n = rcpts_sent_ ? rcpts_sent_ : 1;
    fields_.recipient_count = n;
    fields_.has_recipient = n == 1;  // a single recipient stays; several leave it empty
    fields_.size = 2000 + (fields_.user * 7919 + message_seq_) % 50000;
    fields_.queue_id = fmt::format("{:X}{:05X}", conn_ + 1, message_seq_ & 0xFFFFF);
    message_done_ = true;
  } else {
    fields_.recipient = rng_.Below(1000000000000ull);
    fields_.recipient_count = 0;
    fields_.has_recipient = true;
    fields_.size = 0;
    ++rcpts_sent_;
    // RCPT-only load: every RCPT is a message of its own.
    if (options_.eom_ratio <= 0) message_done_ = true;
  }
  FormatRequest(fields_, options_.sender_domain, out);
  return fields_;
}

}  // namespace policyd::bench
