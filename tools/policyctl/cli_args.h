// policyctl's command line: a table of verbs (words, positional arguments, options, help
// text) and a parser from argv to an Invocation. Pure: no I/O, so every parse error and
// every help text is unit-tested (test/unit/policyctl/cli_args_test.cc).
//
//   policyctl [-c FILE] [--json] VERB [ARGS...] [--option VALUE...] [--help]
//
// Global options (-c/--config, --json, --help, --version) may appear anywhere, before or after
// the verb, so `policyctl user show alice --json` and `policyctl --json user show alice` mean
// the same. An option's value is always the next argument, taken as is ("--ttl -5m" gives the
// value "-5m", which validation then refuses by name), or written "--ttl=5m".
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace policyd::admin {

struct OptionSpec {
  std::string_view name;        // "--plan"
  std::string_view value_name;  // "PLAN"; empty for a flag ("--verified")
  std::string_view help;
  bool required = false;
  bool repeatable = false;
};

struct VerbSpec {
  std::string_view name;      // "user set": one or two words
  std::string_view synopsis;  // positional part: "USER"
  std::size_t min_args = 0;
  std::size_t max_args = 0;
  std::vector<OptionSpec> options;
  std::string_view summary;  // one line, for the verb list
  std::string_view help;     // paragraphs after the synopsis
};

struct Invocation {
  std::string config_path;
  bool json = false;
  bool help = false;     // --help: print help (of verb, or the general help) and exit 0
  bool version = false;  // --version
  const VerbSpec* verb = nullptr;  // null with help or version only
  std::vector<std::string> args;   // positional arguments after the verb words
  std::map<std::string, std::vector<std::string>, std::less<>> options;  // "--plan" -> values

  bool Has(std::string_view option) const { return options.find(option) != options.end(); }
  // The option's last value, or "" when absent (flags have the value "").
  std::string Get(std::string_view option) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> All(std::string_view option) const;
};

// Parses argv without argv[0]. A usage error (unknown verb or option, missing value, wrong
// number of arguments, missing required option) is kInvalid and names the bad argument.
// With --help, only the verb words must be known: nothing else is checked.
Result<Invocation> ParseCommandLine(const std::vector<std::string>& argv,
                                    const std::vector<VerbSpec>& verbs,
                                    std::string default_config);

// "usage: policyctl [-c FILE] [--json] VERB ...", global options and every verb's summary.
std::string GeneralHelp(const std::vector<VerbSpec>& verbs, std::string_view default_config);
// The verb's synopsis line, help text and options.
std::string VerbHelp(const VerbSpec& verb);
// "policyctl user set USER --account ACCOUNT [--plan PLAN] ...".
std::string VerbSynopsis(const VerbSpec& verb);

}  // namespace policyd::admin
