#include "policyctl/cli_args.h"

#include <fmt/format.h>

#include <algorithm>

namespace policyd::admin {
namespace {

bool IsGlobalFlag(std::string_view arg) {
  return arg == "--json" || arg == "--help" || arg == "-h" || arg == "--version" ||
         arg == "-V";
}

const OptionSpec* FindOption(const VerbSpec& verb, std::string_view name) {
  for (const OptionSpec& o : verb.options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// The verb whose words start `words`: two-word verbs ("user set") before one-word ones
// ("grant"). *used is how many words it took.
const VerbSpec* FindVerb(const std::vector<std::string>& words,
                         const std::vector<VerbSpec>& verbs, std::size_t* used) {
  for (const VerbSpec& v : verbs) {
    std::size_t space = v.name.find(' ');
    if (space == std::string_view::npos) {
      if (!words.empty() && words[0] == v.name) {
        *used = 1;
        return &v;
      }
    } else if (words.size() >= 2 && words[0] == v.name.substr(0, space) &&
               words[1] == v.name.substr(space + 1)) {
      *used = 2;
      return &v;
    }
  }
  return nullptr;
}

// "user": which second words exist ("set, show, del"), for an error message.
std::string SubVerbs(std::string_view group, const std::vector<VerbSpec>& verbs) {
  std::string out;
  for (const VerbSpec& v : verbs) {
    std::size_t space = v.name.find(' ');
    if (space != std::string_view::npos && v.name.substr(0, space) == group) {
      out += fmt::format("{}{}", out.empty() ? "" : ", ", v.name.substr(space + 1));
    }
  }
  return out;
}

std::string OptionLabel(const OptionSpec& o) {
  if (o.value_name.empty()) return std::string(o.name);
  return fmt::format("{} {}", o.name, o.value_name);
}

}  // namespace

std::string Invocation::Get(std::string_view option) const {
  auto it = options.find(option);
  if (it == options.end() || it->second.empty()) return {};
  return it->second.back();
}

std::vector<std::string> Invocation::All(std::string_view option) const {
  auto it = options.find(option);
  return it == options.end() ? std::vector<std::string>() : it->second;
}

Result<Invocation> ParseCommandLine(const std::vector<std::string>& argv,
                                    const std::vector<VerbSpec>& verbs,
                                    std::string default_config) {
  Invocation inv;
  inv.config_path = std::move(default_config);
  // Pass 1: global options anywhere; everything else, in order, for pass 2.
  std::vector<std::string> rest;
  bool only_positional = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (only_positional) {
      rest.push_back(arg);
    } else if (arg == "--") {
      only_positional = true;
      rest.push_back(arg);
    } else if (arg == "-c" || arg == "--config") {
      if (i + 1 >= argv.size()) return Invalid(fmt::format("{} needs a FILE", arg));
      inv.config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      inv.config_path = arg.substr(9);
    } else if (IsGlobalFlag(arg)) {
      if (arg == "--json") inv.json = true;
      if (arg == "--help" || arg == "-h") inv.help = true;
      if (arg == "--version" || arg == "-V") inv.version = true;
    } else {
      rest.push_back(arg);
    }
  }
  // Pass 2: the verb words come first.
  std::vector<std::string> words;
  for (const std::string& a : rest) {
    if (a.rfind("-", 0) == 0) break;
    words.push_back(a);
    if (words.size() == 2) break;
  }
  std::size_t used = 0;
  inv.verb = FindVerb(words, verbs, &used);
  if (!inv.verb) {
    if (words.empty()) {
      if (inv.help || inv.version) return inv;
      if (rest.empty()) return Invalid("no verb given; see policyctl --help");
      return Invalid(fmt::format("expected a verb before '{}'; see policyctl --help", rest[0]));
    }
    std::string subs = SubVerbs(words[0], verbs);
    if (!subs.empty()) {
      if (words.size() < 2) {
        if (inv.help) return inv;
        return Invalid(fmt::format("'{}' needs one of: {}", words[0], subs));
      }
      return Invalid(fmt::format("unknown verb '{} {}'; '{}' takes one of: {}", words[0],
                                 words[1], words[0], subs));
    }
    return Invalid(fmt::format("unknown verb '{}'; see policyctl --help", words[0]));
  }
  if (inv.help) return inv;
  const VerbSpec& verb = *inv.verb;
  only_positional = false;
  for (std::size_t i = used; i < rest.size(); ++i) {
    const std::string& arg = rest[i];
    if (only_positional || arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg == "--" && !only_positional) {
        only_positional = true;
        continue;
      }
      inv.args.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    const OptionSpec* opt = FindOption(verb, name);
    if (!opt) {
      return Invalid(fmt::format("unknown option '{}' for '{}'; see policyctl {} --help", name,
                                 verb.name, verb.name));
    }
    if (opt->value_name.empty()) {
      if (inline_value) return Invalid(fmt::format("{} takes no value", name));
    } else if (!inline_value) {
      if (i + 1 >= rest.size()) {
        return Invalid(fmt::format("{} needs a value ({})", name, opt->value_name));
      }
      value = rest[++i];
    }
    auto& values = inv.options[name];
    if (!values.empty() && !opt->repeatable) {
      return Invalid(fmt::format("{} given more than once", name));
    }
    values.push_back(value);
  }
  if (inv.args.size() < verb.min_args || inv.args.size() > verb.max_args) {
    std::string got = inv.args.size() > verb.max_args
                          ? fmt::format("unexpected argument '{}'", inv.args[verb.max_args])
                          : "missing arguments";
    return Invalid(fmt::format("{}; usage: {}", got, VerbSynopsis(verb)));
  }
  for (const OptionSpec& o : verb.options) {
    if (o.required && !inv.Has(o.name)) {
      return Invalid(fmt::format("{} is required; usage: {}", o.name, VerbSynopsis(verb)));
    }
  }
  return inv;
}

std::string VerbSynopsis(const VerbSpec& verb) {
  std::string out = fmt::format("policyctl {}", verb.name);
  if (!verb.synopsis.empty()) out += fmt::format(" {}", verb.synopsis);
  for (const OptionSpec& o : verb.options) {
    std::string label = OptionLabel(o);
    if (o.repeatable) label += "...";
    out += o.required ? fmt::format(" {}", label) : fmt::format(" [{}]", label);
  }
  return out;
}

std::string VerbHelp(const VerbSpec& verb) {
  std::string out = fmt::format("usage: {}\n\n{}\n", VerbSynopsis(verb), verb.help);
  std::size_t width = 6;  // "--json"
  for (const OptionSpec& o : verb.options) width = std::max(width, OptionLabel(o).size());
  out += "\noptions:\n";
  for (const OptionSpec& o : verb.options) {
    out += fmt::format("  {:<{}}  {}\n", OptionLabel(o), width, o.help);
  }
  out += fmt::format("  {:<{}}  {}\n", "--json", width, "print JSON instead of text");
  out += fmt::format("  {:<{}}  {}\n", "-c FILE", width, "configuration file, as policyd's");
  return out;
}

std::string GeneralHelp(const std::vector<VerbSpec>& verbs, std::string_view default_config) {
  std::string out = fmt::format(
      "usage: policyctl [-c FILE] [--json] VERB [ARGS...]\n\n"
      "policyd's operator CLI: accounts, domains, users, grants, blocks, signals, reports,\n"
      "usage and explain, on the Redis of the same configuration file as policyd.\n\n"
      "global options:\n"
      "  -c FILE      configuration file (default {})\n"
      "  --json       print records as JSON\n"
      "  --help       this help, or a verb's: policyctl VERB --help\n"
      "  --version    print the version\n\n"
      "verbs:\n",
      default_config);
  std::size_t width = 0;
  for (const VerbSpec& v : verbs) width = std::max(width, v.name.size());
  for (const VerbSpec& v : verbs) out += fmt::format("  {:<{}}  {}\n", v.name, width, v.summary);
  out +=
      "\nexit codes: 0 ok, 1 not found or refused, 2 usage or configuration error,\n"
      "3 Redis unreachable\n";
  return out;
}

}  // namespace policyd::admin
