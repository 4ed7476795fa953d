// Redis key names from network input: escaping is injective and can never close the hash tag;
// sender domains, account names and block subjects accept exactly what the header promises.
#include "core/redis_keys.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace policyd {
namespace {

std::vector<std::string> TrickyNames() {
  std::vector<std::string> names = {
      "",           "a",          "a}b",       "a%7Db",      "a%257Db",     "a%b",
      "a%25b",      "%",          "%25",       "%%",         "{",           "}",
      "{}",         "}{",         "%7B%7D",    "a b",        "a%20b",       "a\nb",
      "a%0Ab",      "a%0ab",      "a\rb",      "A",          "user:a",      "a:b",
      "alice",      "Alice",      "alice ",    " alice",     "\xff",        "%FF",
      "\xc3\xa9",   "%C3%A9",     "\x7f",      "%7F",        "\t",          "%09",
      "a}:{user:b", "a}:{user:b}",
  };
  names.push_back(std::string("a\0b", 3));
  names.push_back(std::string("a\0", 2));
  names.push_back(std::string("\0", 1));
  names.push_back("%00");
  names.push_back(std::string(2000, 'x'));
  names.push_back(std::string(2000, '}'));
  names.push_back(std::string(1999, 'x') + "}");
  return names;
}

bool SafeTagChar(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != '{' && c != '}';
}

}  // namespace

TEST_CASE("redis_keys: EscapeKeyName is injective and never emits braces, spaces or control bytes") {
  std::vector<std::string> names = TrickyNames();
  std::set<std::string> seen;
  for (const std::string& name : names) {
    CAPTURE(name);
    std::string e = EscapeKeyName(name);
    for (unsigned char c : e) CHECK(SafeTagChar(c));
    CHECK(seen.insert(e).second);  // no two names share an escaped form
  }
  CHECK(seen.size() == names.size());
}

TEST_CASE("redis_keys: EscapeKeyName writes %XX in upper-case hex and keeps other printables") {
  struct Case {
    std::string in;
    const char* want;
  };
  std::vector<Case> cases = {
      {"alice@example.com", "alice@example.com"},
      {"a}b", "a%7Db"},
      {"a%7Db", "a%257Db"},
      {"{x}", "%7Bx%7D"},
      {"a b", "a%20b"},
      {"a\nb", "a%0Ab"},
      {std::string("\0", 1), "%00"},
      {"\xff", "%FF"},
      {"\x7f", "%7F"},
      {"~!:|\"'", "~!:|\"'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(EscapeKeyName(c.in) == c.want);
  }
  CHECK(EscapeKeyName(std::string(2000, '}')).size() == 6000);
}

TEST_CASE("redis_keys: SubjectTag names the kind and is empty for an empty name") {
  CHECK(SubjectTag(SubjectKind::kUser, "alice") == "user:alice");
  CHECK(SubjectTag(SubjectKind::kSender, "a@b.example") == "sender:a@b.example");
  CHECK(SubjectTag(SubjectKind::kAccount, "acme") == "account:acme");
  CHECK(SubjectTag(SubjectKind::kIp, "192.0.2.1") == "ip:192.0.2.1");
  CHECK(SubjectTag(SubjectKind::kIp, "2001:db8::1") == "ip:2001:db8::1");
  CHECK(SubjectTag(SubjectKind::kUser, "a}b") == "user:a%7Db");
  CHECK(SubjectTag(SubjectKind::kUser, "") == "");
  CHECK(SubjectTag(SubjectKind::kSender, "") == "");
  // A user cannot pose as another kind: the kind prefix stays outside the escaped part.
  CHECK(SubjectTag(SubjectKind::kUser, "}:{sender:x") == "user:%7D:%7Bsender:x");
}

TEST_CASE("redis_keys: BuildKey wraps the tag in braces and appends rest after a colon") {
  CHECK(BuildKey("pd:", "block", "user:alice") == "pd:block:{user:alice}");
  CHECK(BuildKey("pd:", "win", "user:alice", "messages:3600") ==
        "pd:win:{user:alice}:messages:3600");
  CHECK(BuildKey("", "report", "x") == "report:{x}");
  std::string key = BuildKey("pd:", "block", SubjectTag(SubjectKind::kUser, "a}b{c"));
  CHECK(key == "pd:block:{user:a%7Db%7Bc}");
  CHECK(std::count(key.begin(), key.end(), '{') == 1);
  CHECK(std::count(key.begin(), key.end(), '}') == 1);
}

TEST_CASE("redis_keys: SenderDomain takes the last '@', lower-cases and drops one trailing dot") {
  std::string label63(63, 'a');
  std::string label64(64, 'a');
  // 4 labels of 63 plus 3 dots = 255; trim to build exact lengths.
  std::string d253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                     std::string(63, 'c') + "." + std::string(61, 'd');
  REQUIRE(d253.size() == 253);
  std::string d254 = d253 + "d";
  struct Case {
    std::string sender;
    std::string want;
  };
  std::vector<Case> cases = {
      {"a@Example.COM.", "example.com"},
      {"a@example.com", "example.com"},
      {"no-at", ""},
      {"", ""},
      {"a@", ""},
      {"@example.com", "example.com"},
      {"a@b@c.example", "c.example"},
      {"\"a@b\"@c.example", "c.example"},
      {"a@exa mple.com", ""},
      {"a@exa}mple.com", ""},
      {"a@example.com\n", ""},
      {"a@ex\xc3\xa4mple.com", ""},
      {"a@b..c", ""},
      {"a@.b", ""},
      {"a@b.", "b"},
      {"a@b..", ""},
      {"a@.", ""},
      {"a@[192.0.2.1]", ""},
      {"a@sub_domain.example", "sub_domain.example"},
      {"a@xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"a@" + label63 + ".com", label63 + ".com"},
      {"a@" + label64 + ".com", ""},
      {"a@" + d253, d253},
      {"a@" + d253 + ".", d253},
      {"a@" + d254, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.sender);
    CHECK(SenderDomain(c.sender) == c.want);
  }
}

TEST_CASE("redis_keys: NormalizeSender lower-cases ASCII only and keeps everything else") {
  CHECK(NormalizeSender("Alice@Example.COM") == "alice@example.com");
  CHECK(NormalizeSender("") == "");
  CHECK(NormalizeSender("\xc3\x84@X") == "\xc3\x84@x");
  CHECK(NormalizeSender(std::string("A\0B", 3)) == std::string("a\0b", 3));
}

TEST_CASE("redis_keys: IsValidDomainPattern accepts domains and '*.' wildcards only") {
  struct Case {
    std::string pattern;
    bool valid;
  };
  std::vector<Case> cases = {
      {"example.com", true},
      {"*.example.com", true},
      {"com", true},
      {"*.com", true},
      {"a-b_c.example", true},
      {"", false},
      {"*", false},
      {"*.", false},
      {"**.example.com", false},
      {"*.*.example.com", false},
      {"a.*.example.com", false},
      {"*example.com", false},
      {"Example.com", false},  // operators' patterns are stored lower-case
      {"example.com.", false},
      {".example.com", false},
      {"exa mple.com", false},
      {"example..com", false},
      {std::string(64, 'a') + ".com", false},
      {std::string(63, 'a') + ".com", true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.pattern);
    CHECK(IsValidDomainPattern(c.pattern) == c.valid);
  }
}

TEST_CASE("redis_keys: IsValidAccountName is 1-64 bytes of [A-Za-z0-9._-]") {
  struct Case {
    std::string name;
    bool valid;
  };
  std::vector<Case> cases = {
      {"acme", true},       {"Acme.Corp_1-2", true}, {std::string(64, 'a'), true},
      {"", false},          {std::string(65, 'a'), false}, {"a b", false},
      {"a:b", false},       {"a{b}", false},         {"a%b", false},
      {"a\nb", false},      {"\xc3\xa9", false},     {std::string("a\0", 2), false},
      {"a@b", false},       {"a/b", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(IsValidAccountName(c.name) == c.valid);
  }
}

TEST_CASE("redis_keys: ParseBlockSubject turns user: and sender: into escaped tags") {
  struct Case {
    std::string text;
    std::string tag;
  };
  std::vector<Case> cases = {
      {"user:alice", "user:alice"},
      {"user:Alice", "user:Alice"},  // SASL names keep their case, as decisions use them
      {"user:a}b", "user:a%7Db"},
      {"user:a b\n", "user:a%20b%0A"},
      {"user:user:x", "user:user:x"},
      {"sender:Bob@Example.COM", "sender:bob@example.com"},
      {"sender:a}@b", "sender:a%7D@b"},
      {"sender:@", "sender:@"},
      {"user:" + std::string(320, 'u'), "user:" + std::string(320, 'u')},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    Result<std::string> r = ParseBlockSubject(c.text);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(*r == c.tag);
  }
}

TEST_CASE("redis_keys: ParseBlockSubject refuses other kinds, empty and oversized names") {
  std::vector<std::string> bad = {
      "",
      "alice",
      "user:",
      "user",
      "User:alice",
      "sender:",
      "sender:bob",  // an address needs an '@'
      "account:acme",
      "ip:192.0.2.1",
      " user:alice",
      "user:" + std::string(321, 'u'),
      "sender:" + std::string(319, 'b') + "@x",  // 321 bytes
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    Result<std::string> r = ParseBlockSubject(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalid);
    CHECK(r.error().message.find("expected user:NAME or sender:ADDRESS") != std::string::npos);
  }
  CHECK(ParseBlockSubject("sender:" + std::string(318, 'b') + "@x").ok());  // 320 bytes
}

TEST_CASE("GlobEscape: a key prefix in a SCAN pattern matches only itself") {
  CHECK(GlobEscape("pd:") == "pd:");
  CHECK(GlobEscape("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f");
}

}  // namespace policyd
