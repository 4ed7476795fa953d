#include "log/log.h"

#include <syslog.h>
#include <time.h>

#include <atomic>
#include <cstdio>

#include "core/log_text.h"

namespace policyd {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogTarget> g_target{LogTarget::kStderr};

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return LOG_DEBUG;
    case LogLevel::kInfo: return LOG_INFO;
    case LogLevel::kWarning: return LOG_WARNING;
    case LogLevel::kError: return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void SetLogConfig(LogLevel level, LogTarget target, std::string_view ident) {
  static std::string syslog_ident;  // openlog keeps the pointer
  g_level = level;
  if (target == LogTarget::kSyslog && g_target != LogTarget::kSyslog) {
    syslog_ident = ident;
    openlog(syslog_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
  g_target = target;
}

bool LogEnabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view line) {
  if (g_target.load(std::memory_order_relaxed) == LogTarget::kSyslog) {
    syslog(SyslogPriority(level), "level=%s %.*s", LevelName(level).data(),
           static_cast<int>(line.size()), line.data());
    return;
  }
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts;
  gmtime_r(&ts.tv_sec, &parts);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &parts);
  // One fwrite per line so lines from threads never interleave mid-line.
  std::string out = fmt::format("{}.{:03}Z level={} {}\n", stamp, ts.tv_nsec / 1000000,
                                LevelName(level), line);
  fwrite(out.data(), 1, out.size(), stderr);
}

std::string LogField(std::string_view key, std::string_view value, std::size_t max_chars) {
  std::string safe = LogSafe(value, max_chars);
  bool quote = safe.empty() || safe.find_first_of(" \"=") != std::string::npos;
  if (!quote) return fmt::format("{}={}", key, safe);
  std::string escaped;
  for (char c : safe) {
    if (c == '"') escaped += '\\';
    escaped += c;
  }
  return fmt::format("{}=\"{}\"", key, escaped);
}

}  // namespace policyd
