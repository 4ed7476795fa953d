#include "bench/decide_template.h"

#include <fmt/format.h>

#include "bench/workload.h"
#include "core/decide_args.h"
#include "core/request_parser.h"

namespace policyd::bench {
namespace {

constexpr std::string_view kPlaceholder = "__rand_int__";  // redis-benchmark: 12 digits

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (std::size_t pos = s->find(from); pos != std::string::npos;
       pos = s->find(from, pos + to.size())) {
    s->replace(pos, from.size(), to);
  }
}

}  // namespace

Result<std::vector<std::string>> DecideArgsTemplate(const Config& config, bool eom,
                                                    std::string_view sender_domain) {
  // User 0 and recipient 0 print as twelve zeros: exactly where __rand_int__ goes.
  RequestFields f;
  f.eom = eom;
  f.user = 0;
  f.recipient = 0;
  f.has_recipient = true;
  f.recipient_count = eom ? 1 : 0;
  f.size = eom ? 20000 : 0;
  f.client_port = 40000;
  f.instance = "3e8.1.1.0";
  f.queue_id = eom ? "1ABCDE" : "";
  std::string text;
  FormatRequest(f, sender_domain, &text);
  RequestParser parser(config.server.parser);
  std::size_t consumed = 0;
  if (parser.Feed(text, &consumed) != RequestParser::Status::kRequest) {
    return Error{ErrorCode::kInternal, "benchmark request does not parse: " + parser.error()};
  }
  PolicyRequest request = parser.TakeRequest();
  if (DecideLocally(request, config)) {
    return Invalid("this config decides the benchmark's requests without Redis");
  }
  DecideOptions options;
  options.report_id = std::string(kPlaceholder) + "00000000";  // 20 characters, as NewReportId
  std::string msg_id = MessageIdentity(request);
  std::string rcpt_id = RecipientIdentity(request);
  std::vector<std::string> args =
      BuildDecideArgs(request, config, options, PlansSpec(config), AbuseSpec(config));
  // ARGV[30], the client address as 32 hex digits (IPv4-mapped: a run of zeros), is the same
  // for every request and must stay valid hex.
  const std::string client_hex = args.size() > 29 ? args[29] : "";
  for (std::string& a : args) {
    if (!client_hex.empty() && a == client_hex) continue;
    // Identities first: a hash could contain a run of zeros by chance. Every placeholder
    // draws from the same range as the users (-r), so three of them keep message identities
    // from repeating (a repeat would be answered from the dedup key, the cheap path).
    if (a == msg_id || a == rcpt_id) {
      // fmt::format, not "m" + std::string(...): GCC 12 at -O2/-O3 reports a false -Wrestrict
      // on a literal copied into a string (the Release build failed on it).
      a = fmt::format("m{0}{0}{0}", kPlaceholder);
      continue;
    }
    ReplaceAll(&a, "000000000000", kPlaceholder);
  }
  return args;
}

}  // namespace policyd::bench
