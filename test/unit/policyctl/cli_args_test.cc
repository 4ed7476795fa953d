// policyctl's command line: global options anywhere, verb words, option values taken as is,
// and usage errors that name the bad argument (issue 4: exit 2 with a clear message).
#include "policyctl/cli_args.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "policyctl/verb_table.h"
#include "../text_contains.h"

namespace policyd::admin {
namespace {

Result<Invocation> Parse(std::vector<std::string> argv) {
  return ParseCommandLine(argv, PolicyctlVerbs(), "conf/policyd.toml");
}

std::string ErrorOf(std::vector<std::string> argv) {
  Result<Invocation> r = Parse(std::move(argv));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalid);
  return r.error().message;
}

using testing::Contains;

}  // namespace

TEST_CASE("cli_args: the DESIGN §8 forms parse as written") {
  Result<Invocation> r = Parse({"account", "set", "acme", "--plan", "starter"});
  REQUIRE(r.ok());
  CHECK(r->verb->name == "account set");
  CHECK(r->args == std::vector<std::string>{"acme"});
  CHECK(r->Get("--plan") == "starter");

  r = Parse({"domain", "add", "acme", "example.com", "--verified"});
  REQUIRE(r.ok());
  CHECK(r->verb->name == "domain add");
  CHECK(r->Has("--verified"));

  r = Parse({"user", "set", "alice", "--account", "acme", "--plan", "starter", "--mode", "any"});
  REQUIRE(r.ok());
  CHECK(r->Get("--mode") == "any");

  r = Parse({"grant", "alice", "example.com"});
  REQUIRE(r.ok());
  CHECK(r->verb->name == "grant");
  CHECK(r->args.size() == 2);

  r = Parse({"block", "add", "user:alice", "--reason", "spam", "--ttl", "1h"});
  REQUIRE(r.ok());
  CHECK(r->Get("--ttl") == "1h");

  r = Parse({"block", "del", "sender:bob@example.com"});
  REQUIRE(r.ok());
  CHECK(r->args[0] == "sender:bob@example.com");
}

TEST_CASE("cli_args: global options go anywhere; -c sets the file, the default otherwise") {
  Result<Invocation> a = Parse({"--json", "-c", "/etc/p.toml", "user", "show", "alice"});
  Result<Invocation> b = Parse({"user", "show", "alice", "--json", "-c", "/etc/p.toml"});
  Result<Invocation> c = Parse({"user", "show", "--config=/etc/p.toml", "alice"});
  for (const Result<Invocation>* r : {&a, &b, &c}) {
    REQUIRE(r->ok());
    CHECK((*r)->config_path == "/etc/p.toml");
    CHECK((*r)->args == std::vector<std::string>{"alice"});
  }
  CHECK(a->json);
  CHECK(b->json);
  CHECK_FALSE(c->json);
  CHECK(Parse({"review", "list"})->config_path == "conf/policyd.toml");
}

TEST_CASE("cli_args: an option's value is the next argument as typed, or after '='") {
  Result<Invocation> r = Parse({"block", "add", "user:a", "--reason", "spam", "--ttl", "-5m"});
  REQUIRE(r.ok());
  CHECK(r->Get("--ttl") == "-5m");  // validation, not the parser, refuses it by name
  r = Parse({"block", "add", "user:a", "--reason=manual", "--evidence=a=b c"});
  REQUIRE(r.ok());
  CHECK(r->Get("--reason") == "manual");
  CHECK(r->Get("--evidence") == "a=b c");
  r = Parse({"user", "set", "a", "--limit", "user:messages:1h=5", "--limit", "ip:bytes:1d=1GiB"});
  REQUIRE(r.ok());
  CHECK(r->All("--limit") == std::vector<std::string>{"user:messages:1h=5", "ip:bytes:1d=1GiB"});
  r = Parse({"explain", "--", "--odd=value", "sasl_username=a"});
  REQUIRE(r.ok());
  CHECK(r->args == std::vector<std::string>{"--odd=value", "sasl_username=a"});
}

TEST_CASE("cli_args: usage errors name what is wrong") {
  CHECK(Contains(ErrorOf({}), "no verb"));
  CHECK(Contains(ErrorOf({"frobnicate"}), "unknown verb 'frobnicate'"));
  CHECK(Contains(ErrorOf({"user", "frob", "x"}), "'user' takes one of: set, show, del"));
  CHECK(Contains(ErrorOf({"user"}), "'user' needs one of: set, show, del"));
  CHECK(Contains(ErrorOf({"user", "show", "a", "--plan", "x"}), "unknown option '--plan'"));
  CHECK(Contains(ErrorOf({"account", "set", "acme", "--plan"}), "--plan needs a value (PLAN)"));
  CHECK(Contains(ErrorOf({"account", "set", "a", "--plan", "x", "--plan", "y"}),
                 "--plan given more than once"));
  CHECK(Contains(ErrorOf({"domain", "add", "acme"}), "missing arguments; usage: policyctl "
                                                     "domain add ACCOUNT DOMAIN"));
  CHECK(Contains(ErrorOf({"grant", "a", "b.com", "c"}), "unexpected argument 'c'"));
  CHECK(Contains(ErrorOf({"block", "add", "user:a"}), "--reason is required"));
  CHECK(Contains(ErrorOf({"domain", "add", "a", "b.com", "--verified=yes"}), "takes no value"));
  CHECK(Contains(ErrorOf({"-c"}), "-c needs a FILE"));
}

TEST_CASE("cli_args: --help needs only the verb words; without a verb it is the general help") {
  Result<Invocation> r = Parse({"user", "set", "--help"});
  REQUIRE(r.ok());
  CHECK(r->help);
  CHECK(r->verb->name == "user set");
  r = Parse({"block", "add", "--bogus", "-h"});
  REQUIRE(r.ok());
  CHECK(r->help);
  r = Parse({"--help"});
  REQUIRE(r.ok());
  CHECK(r->verb == nullptr);
  r = Parse({"user", "--help"});
  REQUIRE(r.ok());
  CHECK(r->verb == nullptr);
  CHECK(Parse({"--version"})->version);
}

TEST_CASE("cli_args: every verb has a unique name, a summary, help, and shows in the help") {
  std::set<std::string_view> names;
  std::string general = GeneralHelp(PolicyctlVerbs(), "conf/policyd.toml");
  for (const VerbSpec& v : PolicyctlVerbs()) {
    CAPTURE(v.name);
    CHECK(names.insert(v.name).second);
    CHECK_FALSE(v.summary.empty());
    CHECK_FALSE(v.help.empty());
    CHECK(Contains(general, std::string(v.name)));
    std::string help = VerbHelp(v);
    CHECK(help.rfind("usage: policyctl " + std::string(v.name), 0) == 0);
    CHECK(Contains(help, "--json"));
    for (const OptionSpec& o : v.options) CHECK(Contains(help, std::string(o.name)));
  }
  for (const char* verb : {"user set", "user show", "user del", "account set", "account show",
                           "domain add", "domain verify", "domain del", "domain list", "grant",
                           "revoke", "block add", "block list", "block show", "block del",
                           "signal", "report show", "review list", "usage", "explain",
                           "user ip-allow", "quota show", "quota set", "quota unlock",
                           "review resolve"}) {
    CHECK(names.count(verb) == 1);
  }
  CHECK(VerbSynopsis(*Parse({"block", "add", "--help"})->verb) ==
        "policyctl block add SUBJECT --reason REASON [--ttl DURATION] [--evidence TEXT]");
}

}  // namespace policyd::admin
