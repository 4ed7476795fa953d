// policyd-feedback: one feedback message on standard input, as Postfix's pipe(8) delivers it
// (conf/postfix-master.cf): an ARF complaint report, a DSN or a Postfix bounce notice. The
// stamp of the quoted original names whom to credit; the signals go to Redis in one call.
// Exit codes as pipe(8) expects: 0 = done or deliberately ignored (logged), 75 (EX_TEMPFAIL)
// = Redis unavailable: Postfix keeps the message and retries, so nothing is lost. 64 = usage.
#include <sysexits.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/config.h"
#include "feedback/feedback_parse.h"
#include "feedback/feedback_signals.h"
#include "log/log.h"
#include "policyctl/admin_session.h"

namespace {

constexpr const char* kUsage =
    "usage: policyd-feedback [-c FILE]\n"
    "Reads one feedback message (ARF report, DSN, Postfix bounce notice) on standard input\n"
    "and credits it to the SMTP user and sender named by its policyd stamp.\n"
    "Exit 0: done or ignored; 75: Redis unavailable (Postfix retries); 64: usage.\n";

// At most max + 1 bytes, so that an oversized message is seen as one.
std::string ReadAll(std::size_t max) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max) break;
  }
  return out;
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace policyd;
  std::string path = kDefaultConfigPath;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fputs(kUsage, stderr);
      return EX_USAGE;
    }
  }
  Result<Config> config = LoadConfigFile(path);
  if (!config.ok()) {
    // A broken config is the operator's to fix; keep the message queued meanwhile.
    std::fprintf(stderr, "policyd-feedback: %s\n", config.error().message.c_str());
    return EX_TEMPFAIL;
  }
  SetLogConfig(config->log.level, config->log.target, "policyd-feedback");
  std::string message = ReadAll(feedback::kMaxFeedbackMessageBytes);
  feedback::FeedbackReport report =
      feedback::ParseFeedback(message, config->feedback.stamp_header);
  feedback::Credit credit = feedback::CreditFeedback(report, message, *config, NowMs());
  if (credit.signals.empty()) {
    POLICYD_LOG_INFO("event=feedback_ignored {}", LogField("why", credit.why, 400));
    return 0;
  }
  admin::AdminSession session(*config);
  Result<std::vector<SignalOutcome>> r = session.IngestSignals(credit.signals, "feedback");
  if (!r.ok()) {
    POLICYD_LOG_WARN("event=feedback_deferred {} {}", LogField("error", r.error().message),
                     LogField("why", credit.why, 400));
    return EX_TEMPFAIL;
  }
  std::string outcomes;
  for (std::size_t i = 0; i < r->size() && i < credit.signals.size(); ++i) {
    const SignalOutcome& o = (*r)[i];
    outcomes += fmt::format(" {}={}{}", credit.signals[i].subject, o.outcome,
                            o.block_reason.empty() ? "" : "(blocked " + o.block_reason + ")");
  }
  POLICYD_LOG_INFO("event=feedback_credited {} {}", LogField("why", credit.why, 400),
                   LogField("outcomes", outcomes.substr(outcomes.empty() ? 0 : 1), 400));
  return 0;
}
