// Internals of ParseConfig shared by config.cc (the key table walk) and config_plans.cc
// ([plans.NAME]): where problems are collected, and how TOML nodes become checked values.
// Not part of the config contract; only lib/core/config*.cc include it.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/config_keys.h"
#include "core/result.h"

namespace policyd {

// Collects every problem of one file, so an operator fixes them all in one pass instead of
// one per --check-config run.
class ConfigDiagnostics {
 public:
  explicit ConfigDiagnostics(std::string_view path) : path_(path) {}

  // Records "path:line:column: key: what". `what` says what is wrong and what is expected.
  void Add(toml::source_position where, std::string_view key, std::string_view what);
  bool empty() const { return problems_.empty(); }
  // One line per problem, ordered by position in the file.
  Error ToError() const;

 private:
  struct Problem {
    toml::source_position where;
    std::string text;
  };
  std::string path_;
  std::vector<Problem> problems_;
};

// Where `node` starts, or `fallback` when toml++ recorded no position for it (line 0).
toml::source_position PositionOf(const toml::node& node, toml::source_position fallback);

// "did you mean 'x'?" naming the candidate closest to `word` within edit distance 2, or "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "unknown key, did you mean 'x'?", or without a close candidate
// "unknown key, expected one of: a, b, c". `what` is "key" or "table".
std::string UnknownName(std::string_view what, std::string_view word,
                        const std::vector<std::string>& candidates);

// "a string", "an integer", ... for "expected X, got Y" messages.
std::string_view TomlTypeName(const toml::node& node);

// A duration value: a string ParseDuration accepts or non-negative integer seconds.
Result<uint64_t> DurationFromNode(const toml::node& node);
// A size value: a string ParseSize accepts or a non-negative integer of bytes.
Result<uint64_t> SizeFromNode(const toml::node& node);

// Converts and range-checks one key's TOML value. The error says what is wrong and what is
// expected, without the key name (the caller adds position and key).
Result<KeyValue> ConvertValue(const ConfigKey& key, const toml::node& node);

// Parses the [plans] table into *plans, one entry per [plans.NAME]. Reports bad plan names,
// unknown keys, and malformed or duplicate limits to `diag`; a plan with problems is still
// added (without its bad limits) so later cross-key checks do not report it as missing.
void ParsePlans(const toml::node& node, ConfigDiagnostics& diag,
                std::map<std::string, Plan>* plans);

// Parses [[webhooks.endpoints]] into *endpoints: name, url, secret, events, each required and
// checked (unique names, http:// URLs, known event types); problems go to `diag`.
void ParseWebhookEndpoints(const toml::node& node, ConfigDiagnostics& diag,
                           std::vector<WebhookEndpoint>* endpoints);

}  // namespace policyd
