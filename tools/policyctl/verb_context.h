// What a policyctl verb gets and gives: the parsed command line, the configuration, the Redis
// session, and buffers for standard output and notes (standard error). A verb returns a
// Status; its Error's code is the exit status (ExitCode): usage and configuration errors 2,
// not found or refused 1, Redis unreachable 3.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "policyctl/admin_keys.h"
#include "policyctl/admin_session.h"
#include "policyctl/cli_args.h"
#include "policyctl/text_output.h"
#include "core/config.h"
#include "core/result.h"

namespace policyd::admin {

struct VerbContext {
  const Invocation& inv;
  const Config& config;
  AdminSession& session;
  AdminKeys keys;
  std::function<std::string()> read_stdin;  // a request from standard input (explain)
  std::string out;    // standard output
  std::string notes;  // standard error, also on success: hints and warnings

  // --json prints json, otherwise text.
  void Emit(const nlohmann::json& json, const std::string& text) {
    out += inv.json ? DumpJson(json) : text;
  }
  void Note(const std::string& line) { notes += line + "\n"; }
};

using VerbFn = Status (*)(VerbContext&);

// Not found, or refused because of what Redis holds (grant of a domain the account lacks):
// exit 1. The message says what to do instead.
inline Error NotFound(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }

// 0 ok; 2 kInvalid/kTooLarge; 3 kUnavailable/kTimeout; 1 otherwise.
int ExitCode(const Error& error);

// A flat HGETALL reply as a sorted map.
std::map<std::string, std::string> HashOf(const RedisValue& reply);
// An array reply's strings (SMEMBERS, LRANGE), in reply order.
std::vector<std::string> StringsOf(const RedisValue& reply);

}  // namespace policyd::admin
