// The C++ side of decide.lua's contract: which requests are decided without Redis, the ARGV
// in the order the script reads it, the script's reply as a Verdict, and the retry identity.
#include "core/decide_args.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/redis_keys.h"

namespace policyd {
namespace {

using Attrs = std::vector<std::pair<std::string, std::string>>;

PolicyRequest MakeRequest(const Attrs& attrs) {
  PolicyRequest r;
  r.Add("request", "smtpd_access_policy");
  for (const auto& [n, v] : attrs) r.Add(n, v);
  return r;
}

PolicyRequest TypicalRequest() {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                      {"instance", "1a2b.5f3c.9d.0"},
                      {"client_address", "192.0.2.10"},
                      {"client_port", "54321"},
                      {"sasl_username", "alice"},
                      {"sender", "Alice@Example.COM"},
                      {"recipient", "Bob@Example.NET"},
                      {"recipient_count", "3"},
                      {"size", "2048"},
                      {"queue_id", "4XyZ1"}});
}

Config TestConfig() {
  Config c;
  c.plans["default"].name = "default";
  return c;
}

std::vector<std::string> Args(const PolicyRequest& r, const Config& c,
                              const DecideOptions& o = {}) {
  return BuildDecideArgs(r, c, o, PlansSpec(c), AbuseSpec(c));
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Lua's pattern in _common.lua parse_score: '^([%w_]+)=([%d%.]+)$'.
bool MatchesScorePart(const std::string& part) {
  static const std::regex kPart("^[A-Za-z0-9_]+=[0-9.]+$");
  return std::regex_match(part, kPart);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

TEST_CASE("decide_args: stages other than RCPT and END-OF-MESSAGE are DUNNO without Redis") {
  Config c = TestConfig();
  for (const char* state : {"DATA", "CONNECT", "EHLO", "HELO", "MAIL", "VRFY", "ETRN", "rcpt",
                            "end-of-message", "", "RCPT "}) {
    CAPTURE(state);
    PolicyRequest r = MakeRequest({{"protocol_state", state}, {"sasl_username", "alice"}});
    std::optional<Verdict> v = DecideLocally(r, c);
    REQUIRE(v.has_value());
    CHECK(v->action == Action::kDunno);
    CHECK(v->rule == "stage not checked");
  }
  PolicyRequest none = MakeRequest({{"sasl_username", "alice"}});
  REQUIRE(DecideLocally(none, c).has_value());
}

TEST_CASE("decide_args: authenticated RCPT and END-OF-MESSAGE requests go to Redis") {
  Config c = TestConfig();
  for (auto policy : {UnauthenticatedPolicy::kDunno, UnauthenticatedPolicy::kReject,
                      UnauthenticatedPolicy::kSender}) {
    c.policy.unauthenticated = policy;
    for (const char* state : {"RCPT", "END-OF-MESSAGE"}) {
      CAPTURE(state);
      PolicyRequest r = MakeRequest({{"protocol_state", state}, {"sasl_username", "alice"}});
      CHECK_FALSE(DecideLocally(r, c).has_value());
    }
  }
}

TEST_CASE("decide_args: unauthenticated requests follow [policy] unauthenticated") {
  struct Case {
    UnauthenticatedPolicy policy;
    const char* sender;
    bool local;
    Action action;
    const char* rule;
  };
  std::vector<Case> cases = {
      {UnauthenticatedPolicy::kDunno, "a@example.com", true, Action::kDunno,
       "unauthenticated dunno"},
      {UnauthenticatedPolicy::kDunno, "", true, Action::kDunno, "unauthenticated dunno"},
      {UnauthenticatedPolicy::kReject, "a@example.com", true, Action::kUnauthenticatedReject,
       "unauthenticated reject"},
      {UnauthenticatedPolicy::kReject, "", true, Action::kUnauthenticatedReject,
       "unauthenticated reject"},
      {UnauthenticatedPolicy::kSender, "a@example.com", false, Action::kDunno, ""},
      {UnauthenticatedPolicy::kSender, "", true, Action::kDunno, "unauthenticated null sender"},
  };
  Config c = TestConfig();
  for (const Case& k : cases) {
    for (const char* state : {"RCPT", "END-OF-MESSAGE"}) {
      CAPTURE(static_cast<int>(k.policy));
      CAPTURE(k.sender);
      CAPTURE(state);
      c.policy.unauthenticated = k.policy;
      // An empty sasl_username is the same as none (Postfix sends it empty).
      for (bool empty_attr : {false, true}) {
        Attrs attrs = {{"protocol_state", state}, {"sender", k.sender}};
        if (empty_attr) attrs.emplace_back("sasl_username", "");
        std::optional<Verdict> v = DecideLocally(MakeRequest(attrs), c);
        REQUIRE(v.has_value() == k.local);
        if (v) {
          CHECK(v->action == k.action);
          CHECK(v->rule == k.rule);
        }
      }
    }
  }
}

TEST_CASE("decide_args: decide.lua reads exactly ARGV[1..37]") {
  std::string lua = ReadFile(std::string(POLICYD_SOURCE_DIR) + "/lib/store/lua/decide.lua");
  REQUIRE_FALSE(lua.empty());
  std::set<int> used;
  static const std::regex kArgv(R"(ARGV\[(\d+)\])");
  for (auto it = std::sregex_iterator(lua.begin(), lua.end(), kArgv);
       it != std::sregex_iterator(); ++it) {
    used.insert(std::stoi((*it)[1]));
  }
  std::set<int> want;
  // 1-32 from BuildDecideArgs; 33-37 the fast path's (AppendFastPathArgs, issue 16).
  for (int i = 1; i <= 37; ++i) want.insert(i);
  CHECK(used == want);
  CHECK(Args(TypicalRequest(), TestConfig()).size() == kDecideArgsCount);
  CHECK(kDecideArgsCount == 32);
}

TEST_CASE("decide_args: BuildDecideArgs puts each value where decide.lua reads it") {
  Config c = TestConfig();
  c.redis.key_prefix = "t:";
  c.policy.count_at = CountAt::kRcpt;
  c.policy.unknown_user = "reject";
  c.policy.default_plan = "default";
  c.policy.buckets = 30;
  c.policy.dedup_ttl_ms = 123000;
  c.report.ttl_ms = 456000;
  c.report.acl_dedup_ms = 789000;
  c.abuse.list_bombing_messages = 7;
  c.abuse.list_bombing_window_ms = 60000;
  c.plans["default"].limits.push_back({SubjectKind::kUser, Metric::kMessages, 500, 3600000});
  DecideOptions o;
  o.mode = DecideMode::kExplain;
  o.now_ms = 1700000000123;
  o.report_id = "0123456789abcdef0123";
  PolicyRequest r = TypicalRequest();
  std::vector<std::string> a = Args(r, c, o);
  REQUIRE(a.size() == 32);
  // Indices below are decide.lua's ARGV numbers.
  auto argv = [&](int n) { return a[static_cast<std::size_t>(n - 1)]; };
  CHECK(argv(1) == "explain");
  CHECK(argv(2) == "1700000000123");
  CHECK(argv(3) == "t:");
  CHECK(argv(4) == "eom");
  CHECK(argv(5) == "rcpt");
  CHECK(argv(6) == "user:alice");
  CHECK(argv(7) == "sender:alice@example.com");
  CHECK(argv(8) == "example.com");
  CHECK(argv(9) == "ip:192.0.2.10");
  CHECK(argv(10) == "bob@example.net");
  CHECK(argv(11) == "3");
  CHECK(argv(12) == "2048");
  CHECK(argv(13) == MessageIdentity(r));
  CHECK(argv(14) == RecipientIdentity(r));
  CHECK(argv(13).size() == 32);
  CHECK(argv(14).size() == 32);
  CHECK(argv(13) != argv(14));
  CHECK(argv(15) == "reject");
  CHECK(argv(16) == "default");
  CHECK(argv(17) == "default|0|user:messages:500:3600");
  CHECK(argv(18) == "30");
  CHECK(argv(19) == "123000");
  CHECK(argv(20) == "0123456789abcdef0123");
  CHECK(argv(21) == "456000");
  CHECK(argv(22) == "789000");
  CHECK(argv(23) == AbuseSpec(c).escalation);
  CHECK(argv(24) == "192.0.2.10");
  CHECK(argv(25) == "4XyZ1");
  CHECK(argv(26) == "alice@example.com");
  CHECK(argv(27) == AbuseSpec(c).score);
  CHECK(argv(28) == "7,60000");
  CHECK(argv(29) == AbuseSpec(c).rates);
  CHECK(argv(30) == "00000000000000000000ffffc000020a");  // 192.0.2.10, IPv4-mapped
  CHECK(argv(31) == "0|reject|80,90,100");
  CHECK(argv(32) == "");  // count_at = rcpt: list-bombing counts at RCPT
  CHECK(argv(kArgSubject + 1) == "user:alice");
  CHECK(argv(kArgSenderTag + 1) == "sender:alice@example.com");
  CHECK(argv(kArgDomain + 1) == "example.com");
  CHECK(argv(kArgClientHex + 1) == "00000000000000000000ffffc000020a");
}

TEST_CASE("decide_args: ReadDecideSubjects holds what BuildDecideArgs sends in ARGV 6-9, 30") {
  // The access cache and the RCPT pre-check read these before (or without) the ARGV.
  PolicyRequest r = TypicalRequest();
  DecisionFields f = ReadDecisionFields(r);
  DecideSubjects s = ReadDecideSubjects(f);
  std::vector<std::string> a = Args(r, TestConfig());
  CHECK(s.state == ProtocolState::kEndOfMessage);
  CHECK(s.size == 2048);
  CHECK(s.sender == "alice@example.com");
  CHECK(s.subject == a[kArgSubject]);
  CHECK(s.sender_tag == a[kArgSenderTag]);
  CHECK(s.domain == a[kArgDomain]);
  CHECK(s.ip_tag == a[8]);
  CHECK(s.client_hex == a[kArgClientHex]);
  // Built from an owned copy of the fields (the pre-check's fallback): the same ARGV.
  OwnedDecisionFields owned(f);
  const Config c = TestConfig();
  CHECK(BuildDecideArgs(owned.View(), s, c, {}, PlansSpec(c), AbuseSpec(c)) == a);
  // Without sasl_username the subject is the sender's tag.
  PolicyRequest unauthenticated;
  for (const auto& [name, value] : r.attributes()) {
    if (name != "sasl_username") unauthenticated.Add(name, value);
  }
  DecideSubjects u = ReadDecideSubjects(ReadDecisionFields(unauthenticated));
  CHECK(u.subject == "sender:alice@example.com");
  CHECK(u.subject == u.sender_tag);
}

TEST_CASE("decide_args: ARGV[32] carries the collected recipients at END-OF-MESSAGE only") {
  Config c = TestConfig();
  c.policy.count_at = CountAt::kEndOfMessage;
  PolicyRequest eom = TypicalRequest();
  std::vector<std::string> many(kMaxDecideRecipients + 5, "x@example.net");
  DecideOptions o;
  o.recipients = {"Bob@Example.NET", "a\nb@example.net", "carol@example.org"};
  CHECK(Args(eom, c, o)[31] == "bob@example.net\na%0Ab@example.net\ncarol@example.org");
  CHECK(Args(eom, c)[31] == "");  // none collected: decide.lua uses ARGV[10]
  o.recipients.assign(many.begin(), many.end());
  std::string joined = Args(eom, c, o)[31];
  CHECK(std::count(joined.begin(), joined.end(), '\n') == kMaxDecideRecipients - 1);
  c.policy.count_at = CountAt::kRcpt;
  CHECK(Args(eom, c, o)[31] == "");
  c.policy.count_at = CountAt::kEndOfMessage;
  PolicyRequest rcpt = MakeRequest({{"protocol_state", "RCPT"}, {"sasl_username", "alice"}});
  CHECK(Args(rcpt, c, o)[31] == "");
}

TEST_CASE("decide_args: defaults give decide mode, Redis time and RCPT stage names") {
  Config c = TestConfig();
  PolicyRequest r = MakeRequest({{"protocol_state", "RCPT"}, {"sasl_username", "alice"}});
  std::vector<std::string> a = Args(r, c);
  CHECK(a[0] == "decide");
  CHECK(a[1] == "0");
  CHECK(a[3] == "rcpt");
  CHECK(a[4] == "eom");
  CHECK(a[6] == "");   // no sender: no sender tag
  CHECK(a[7] == "");   // and no domain
  CHECK(a[8] == "");   // no client address: no ip tag
  CHECK(a[10] == "0");
  CHECK(a[11] == "0");
  CHECK(a[12] == "");  // no instance: no retry identity
  CHECK(a[13] == "");
  CHECK(a[19] == "");
}

TEST_CASE("decide_args: without a SASL user the subject is the sender") {
  Config c = TestConfig();
  c.policy.unauthenticated = UnauthenticatedPolicy::kSender;
  PolicyRequest r =
      MakeRequest({{"protocol_state", "RCPT"}, {"sender", "Mallory@Evil.Example"}});
  REQUIRE_FALSE(DecideLocally(r, c).has_value());
  std::vector<std::string> a = Args(r, c);
  CHECK(a[5] == "sender:mallory@evil.example");
  CHECK(a[6] == a[5]);
}

TEST_CASE("decide_args: hostile names reach the script only as escaped tags") {
  Config c = TestConfig();
  std::string nasty_user = std::string("a}b{c d\r\n\0\xff%", 12);
  PolicyRequest r = MakeRequest({{"protocol_state", "RCPT"},
                                 {"sasl_username", nasty_user},
                                 {"sender", "x}y{z @Ex}ample"},
                                 {"recipient", std::string("r\n\0}@x", 6) + std::string(1000, 'r')},
                                 {"client_address", "1.2.3.4}{ \n"},
                                 {"queue_id", "Q}{\x01"}});
  std::vector<std::string> a = Args(r, c);
  REQUIRE(a.size() == kDecideArgsCount);
  CHECK(a[5] == "user:" + EscapeKeyName(nasty_user));
  CHECK(a[5] == "user:a%7Db%7Bc%20d%0D%0A%00%FF%25");
  CHECK(a[6] == "sender:x%7Dy%7Bz%20@ex%7Dample");
  CHECK(a[7] == "");  // "ex}ample" is no domain
  CHECK(a[8] == "ip:1.2.3.4%7D%7B%20%0A");
  // Every value that came from the request is printable and brace-free.
  for (int i : {5, 6, 7, 8, 9, 23, 24, 25}) {
    CAPTURE(i);
    for (unsigned char ch : a[static_cast<std::size_t>(i)]) {
      CHECK((ch > 0x20 && ch < 0x7f && ch != '{' && ch != '}'));
    }
  }
  // Evidence values are cut before escaping: at most 320 input bytes.
  CHECK(a[9].size() <= 320 * 3);
  CHECK(a[9].substr(0, 11) == "r%0A%00%7D@");
}

TEST_CASE("decide_args: MessageIdentity is stable and changes with instance, port or user") {
  PolicyRequest base = TypicalRequest();
  std::string id = MessageIdentity(base);
  REQUIRE(id.size() == 32);
  for (char ch : id) CHECK(((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')));
  CHECK(MessageIdentity(TypicalRequest()) == id);

  auto with = [](std::string_view name, std::string_view value) {
    PolicyRequest r;
    const PolicyRequest typical = TypicalRequest();
    for (const auto& [n, v] : typical.attributes()) {
      r.Add(n, n == name ? std::string(value) : v);
    }
    return r;
  };
  CHECK(MessageIdentity(with("instance", "1a2b.5f3c.9d.1")) != id);
  CHECK(MessageIdentity(with("client_port", "54322")) != id);
  CHECK(MessageIdentity(with("client_address", "192.0.2.11")) != id);
  CHECK(MessageIdentity(with("sasl_username", "alice2")) != id);
  // Facts outside the identity do not change it.
  CHECK(MessageIdentity(with("recipient", "carol@example.net")) == id);
  CHECK(MessageIdentity(with("queue_id", "other")) == id);
  CHECK(MessageIdentity(with("size", "1")) == id);
  // Moving bytes between parts is a different identity.
  CHECK(MessageIdentity(with("client_port", "5432")) !=
        MessageIdentity(with("client_address", "192.0.2.105")));

  CHECK(RecipientIdentity(with("recipient", "carol@example.net")) != RecipientIdentity(base));
  CHECK(RecipientIdentity(with("recipient", "BOB@example.NET")) == RecipientIdentity(base));

  CHECK(MessageIdentity(with("instance", "")) == "");
  CHECK(RecipientIdentity(with("instance", "")) == "");
  CHECK(MessageIdentity(MakeRequest({{"sasl_username", "alice"}})) == "");
}

TEST_CASE("decide_args: ParseDecideReply maps each action and its facts") {
  struct Case {
    const char* action;
    Action want;
  };
  std::vector<Case> cases = {{"dunno", Action::kDunno},
                             {"acl", Action::kAclReject},
                             {"block", Action::kBlocked},
                             {"rate", Action::kThrottled},
                             {"ip", Action::kIpRefused},
                             {"quota", Action::kQuotaExceeded}};
  for (const Case& c : cases) {
    CAPTURE(c.action);
    std::vector<std::string> f = {c.action, "rule x", "0123456789abcdef0123", "example.com",
                                  "messages", "501", "500", "3600", "42", "{\"now\":1}",
                                  "throttle", "user:alice 80,account:acme 90"};
    std::string facts;
    Result<Verdict> v = ParseDecideReply(f, &facts);
    REQUIRE(v.ok());
    CHECK(v->action == c.want);
    CHECK(v->rule == "rule x");
    CHECK(v->report_id == "0123456789abcdef0123");
    CHECK(v->domain == "example.com");
    CHECK(v->metric == "messages");
    CHECK(v->count == 501);
    CHECK(v->max == 500);
    CHECK(v->window_ms == 3600000);
    CHECK(v->retry_after_s == 42);
    CHECK(v->created_block == "throttle");
    CHECK(v->quota_warnings == "user:alice 80,account:acme 90");
    CHECK(facts == "{\"now\":1}");
    CHECK(ParseDecideReply(f).ok());  // facts are optional
  }
}

TEST_CASE("decide_args: ParseDecideReply reads garbage numbers as 0") {
  std::vector<std::string> f = {"rate", "", "", "", "", "x", "-1", "", "1e3", "", "", ""};
  Result<Verdict> v = ParseDecideReply(f);
  REQUIRE(v.ok());
  CHECK(v->count == 0);
  CHECK(v->max == 0);
  CHECK(v->window_ms == 0);
  CHECK(v->retry_after_s == 1);  // leading digits only
}

TEST_CASE("decide_args: ParseDecideReply refuses a wrong field count or an unknown action") {
  std::vector<std::string> eleven(12, "");
  eleven[0] = "dunno";
  for (std::size_t n : {0, 1, 10, 11, 13, 20}) {
    CAPTURE(n);
    std::vector<std::string> f(n, "");
    if (n > 0) f[0] = "dunno";
    Result<Verdict> v = ParseDecideReply(f);
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().message.find(std::to_string(n) + " fields, expected 12") !=
          std::string::npos);
  }
  for (const char* action : {"", "DUNNO", "failure", "unauthenticated", "reject", "dunno "}) {
    CAPTURE(action);
    std::vector<std::string> f = eleven;
    f[0] = action;
    Result<Verdict> v = ParseDecideReply(f);
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().message.find(std::string("action '") + action + "'") != std::string::npos);
  }
}

TEST_CASE("decide_args: PlansSpec lists plans, their any-domain flag and limits in seconds") {
  Config c;
  c.plans["basic"] = {"basic", false, {{SubjectKind::kUser, Metric::kMessages, 500, 3600000},
                                       {SubjectKind::kAccount, Metric::kBytes, 1000000, 86400000}}};
  c.plans["open"] = {"open", true, {}};
  CHECK(PlansSpec(c) == "basic|0|user:messages:500:3600,account:bytes:1000000:86400;open|1|");
  CHECK(PlansSpec(Config{}) == "");
}

TEST_CASE("decide_args: AbuseSpec gives every field parse_abuse and parse_score read") {
  Config c;
  AbuseSpecs s = AbuseSpec(c);
  CHECK(s.escalation == "5,600000,3600000,604800000,2,2592000000,50,2592000000");
  CHECK(s.score ==
        "window=3600000,threshold=10,bad_recipient=1,bounce=0,complaint=0,list_bombing=5,spam=5");
  CHECK(s.rates == "604800000,200,0.1,0.5,5,10");
}

TEST_CASE("decide_args: score spec numbers match parse_score's pattern for any valid value") {
  // [abuse] score_threshold has no upper bound and weights go down to 0: a number printed in
  // exponent form would not match '^([%w_]+)=([%d%.]+)$' and the script would lose it.
  struct Case {
    double threshold;
    double weight;
  };
  std::vector<Case> cases = {{10, 5}, {0.5, 0.25}, {1e20, 1e6}, {1e300, 0.00001},
                             {123456789012345678.0, 0},
                             {std::numeric_limits<double>::infinity(), 1e-7}};
  for (const Case& k : cases) {
    CAPTURE(k.threshold);
    CAPTURE(k.weight);
    Config c;
    c.abuse.score_threshold = k.threshold;
    c.abuse.weights["complaint"] = k.weight;
    std::string score = AbuseSpec(c).score;
    CAPTURE(score);
    for (const std::string& part : Split(score, ',')) {
      CAPTURE(part);
      CHECK(MatchesScorePart(part));
    }
    // And the numbers survive: strtod, like Lua's tonumber, reads back the same value.
    for (const std::string& part : Split(score, ',')) {
      std::string value = part.substr(part.find('=') + 1);
      std::string name = part.substr(0, part.find('='));
      double back = std::strtod(value.c_str(), nullptr);
      if (name == "threshold" && std::isfinite(k.threshold)) {
        CHECK(back == doctest::Approx(k.threshold));
      }
      if (name == "threshold" && std::isinf(k.threshold)) CHECK(back > 1e300);
      if (name == "complaint") CHECK(back == doctest::Approx(k.weight).epsilon(1e-9));
    }
  }
}

}  // namespace policyd

namespace policyd {

TEST_CASE("decide_args: DecideSpecsCache computes the specs once per config") {
  auto a = std::make_shared<Config>(TestConfig());
  a->abuse.throttle_events = 7;
  auto b = std::make_shared<Config>(*a);
  b->abuse.throttle_events = 9;
  DecideSpecsCache cache;
  const DecideSpecsCache::Specs* first = &cache.For(a);
  CHECK(first->abuse.escalation == AbuseSpec(*a).escalation);
  CHECK(first->plans == PlansSpec(*a));
  CHECK(&cache.For(a) == first);
  CHECK(cache.For(b).abuse.escalation == AbuseSpec(*b).escalation);
  CHECK(cache.For(b).abuse.escalation != AbuseSpec(*a).escalation);
  CHECK(cache.For(a).abuse.escalation == AbuseSpec(*a).escalation);
}

}  // namespace policyd
