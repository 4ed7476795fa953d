// Process-wide log sink: one line per event in a stable "key=value" form (docs/logging.md),
// to stderr or syslog. Values are made printable and bounded by the caller through
// LogField(), so a hostile sasl_username cannot split or forge a log line.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "core/config.h"

namespace policyd {

void SetLogConfig(LogLevel level, LogTarget target, std::string_view ident = "policyd");
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view line);

// key=value with the value printable, truncated and quoted when it holds a space or quote.
std::string LogField(std::string_view key, std::string_view value, std::size_t max_chars = 128);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (!LogEnabled(level)) return;
  LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

#define POLICYD_LOG_INFO(...) ::policyd::Log(::policyd::LogLevel::kInfo, __VA_ARGS__)
#define POLICYD_LOG_WARN(...) ::policyd::Log(::policyd::LogLevel::kWarning, __VA_ARGS__)
#define POLICYD_LOG_ERROR(...) ::policyd::Log(::policyd::LogLevel::kError, __VA_ARGS__)
#define POLICYD_LOG_DEBUG(...) ::policyd::Log(::policyd::LogLevel::kDebug, __VA_ARGS__)

}  // namespace policyd
