// policyd: the Postfix policy delegation server. argv -> config -> Supervisor (one ServingLoop per [server] thread) -> exit code.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "core/config.h"
#include "core/config_key_list.h"
#include "log/log.h"
#include "supervisor.h"

namespace {

constexpr const char* kUsage =
    "usage: policyd [-c FILE] [--check-config] [--version]\n"
    "  -c FILE          configuration file (default " POLICYD_DEFAULT_CONFIG ")\n"
    "  --check-config   validate the configuration and exit (0 valid, 2 invalid)\n"
    "  --version        print the version and exit\n";

}  // namespace

int main(int argc, char** argv) {
  std::string path = policyd::kDefaultConfigPath;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      path = argv[++i];
    } else if (arg == "--check-config" || arg == "-t") {
      check_only = true;
    } else if (arg == "--version" || arg == "-V") {
      std::printf("policyd %s\n", POLICYD_VERSION);
      return 0;
    } else if (arg == "--list-config-keys") {
      // Not in the usage text: for tools (the policyd.toml(5) check), not for operators.
      std::fputs(policyd::ConfigKeyList().c_str(), stdout);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "policyd: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }

  policyd::Result<policyd::Config> config = policyd::LoadConfigFile(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.error().message.c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n", path.c_str());
    return 0;
  }
  signal(SIGPIPE, SIG_IGN);  // a client that vanished is a write error, not a death
  // Each Postfix smtpd process may hold a policy connection: use every descriptor allowed.
  if (rlimit lim; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  policyd::SetLogConfig(config->log.level, config->log.target);
  auto shared = std::make_shared<const policyd::Config>(std::move(*config));
  policyd::Supervisor supervisor(shared, path);
  if (policyd::Status s = supervisor.Start(); !s.ok()) {
    POLICYD_LOG_ERROR("event=start_failed {}", policyd::LogField("error", s.error().message, 500));
    return 1;
  }
  POLICYD_LOG_INFO("event=started version={} {}", POLICYD_VERSION,
                   policyd::LogField("config", path));
  int code = supervisor.Run();
  POLICYD_LOG_INFO("event=stopped");
  return code;
}
