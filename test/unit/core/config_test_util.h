// Helpers shared by the config_*_test.cc files.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "core/config.h"
#include "../text_contains.h"

namespace policyd::testing {

// report.secret is required; snippets that do not set [report] get one appended, after their
// own lines so the line numbers a test expects stay put.
inline std::string WithSecret(std::string_view text) {
  std::string full(text);
  if (full.find("[report]") == std::string::npos) {
    full += "\n[report]\nsecret = \"0123456789abcdef\"\n";
  }
  return full;
}

inline Result<Config> ParseSnippet(std::string_view text) {
  return ParseConfig(WithSecret(text), "t.toml");
}

// The error message of a snippet that must not parse ("" and a failed check if it did).
inline std::string ErrorsOf(std::string_view text) {
  Result<Config> config = ParseSnippet(text);
  CHECK_MESSAGE(!config.ok(), "expected an error for:\n", text);
  return config.ok() ? "" : config.error().message;
}

}  // namespace policyd::testing
