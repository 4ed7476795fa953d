#include "bench/workload.h"

#include <fmt/format.h>

#include <iterator>

namespace policyd::bench {

std::string UserName(uint64_t index) { return fmt::format("u{:012}", index); }

Workload::Workload(uint64_t connection_index, uint64_t users, double eom_ratio, uint64_t seed)
    : conn_(connection_index),
      users_(users ? users : 1),
      eom_ratio_(eom_ratio),
      rng_(seed + connection_index) {
  StartMessage();
}

void Workload::StartMessage() {
  ++message_seq_;
  user_ = rng_.Below(users_);
  rcpts_ = 0;
  client_port_ = 1024 + rng_.Below(64000);
}

void Workload::NextRequest(std::string* out) {
  // A message has at least one RCPT before its END-OF-MESSAGE unless every request is EOM.
  bool eom = eom_ratio_ >= 1.0 || (rcpts_ > 0 && rng_.Unit() < eom_ratio_ / (1.0 - eom_ratio_ + 1e-12) * 0 + rng_.Unit() < eom_ratio_);
  (void)eom;
  eom = eom_ratio_ >= 1.0 || (eom_ratio_ > 0 && rcpts_ > 0 && rng_.Unit() < eom_ratio_ * 2 / (1 + eom_ratio_ * 0));
  uint64_t u = user_;
  std::string user = UserName(u);
  // The recipient varies per recipient and message, so no recipient collects a long history.
  uint64_t rcpt = rng_.Below(1000000);
  auto it = std::back_inserter(*out);
  fmt::format_to(it,
                 "request=smtpd_access_policy\n"
                 "protocol_state={}\n"
                 "protocol_name=ESMTP\n"
                 "helo_name=host{}.example.net\n"
                 "queue_id={}\n"
                 "sender={}@example.com\n"
                 "recipient={}\n"
                 "recipient_count={}\n"
                 "client_address=10.{}.{}.{}\n"
                 "client_name=host{}.example.net\n"
                 "client_port={}\n"
                 "reverse_client_name=host{}.example.net\n"
                 "instance={:x}.{:x}\n"
                 "sasl_method=PLAIN\n"
                 "sasl_username={}\n"
                 "sasl_sender=\n"
                 "size={}\n"
                 "ccert_subject=\n"
                 "ccert_issuer=\n"
                 "ccert_fingerprint=\n"
                 "ccert_pubkey_fingerprint=\n"
                 "encryption_protocol=TLSv1.3\n"
                 "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
                 "encryption_keysize=256\n"
                 "etrn_domain=\n"
                 "stress=\n"
                 "server_address=10.255.0.1\n"
                 "server_port=587\n"
                 "policy_context=submission\n"
                 "compatibility_level=3.6\n"
                 "\n",
                 eom ? "END-OF-MESSAGE" : "RCPT", u, eom ? fmt::format("{:X}", message_seq_) : "",
                 user, eom && rcpts_ > 1 ? "" : fmt::format("r{}@example.org", rcpt),
                 eom ? rcpts_ : 0, (u >> 16) & 255, (u >> 8) & 255, u & 255, u, client_port_, u,
                 conn_, message_seq_, user, eom ? 2000 + (u % 50000) : 0);
  if (eom) {
    StartMessage();
  } else {
    ++rcpts_;
  }
}

bool ClassifyReply(std::string_view reply, ReplyKind* kind) {
  constexpr std::string_view kPrefix = "action=";
  if (!reply.starts_with(kPrefix)) return false;
  std::string_view action = reply.substr(kPrefix.size());
  action = action.substr(0, action.find('\n'));
  auto iequals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
    }
    return true;
  };
  if (iequals(action, "dunno")) {
    *kind = ReplyKind::kDunno;
  } else if (action.starts_with("421")) {
    *kind = ReplyKind::k421;
  } else if (action.starts_with("550")) {
    *kind = ReplyKind::k550;
  } else {
    *kind = ReplyKind::kOther;
  }
  return true;
}

}  // namespace policyd::bench
