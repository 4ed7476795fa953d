// Rspamd verdicts (issue 18): metadata_exporter's json formatter read into a spam signal for
// the authenticated user; the endpoint's Basic/Bearer check.
#include "core/rspamd_verdict.h"

#include <doctest/doctest.h>

namespace policyd {

// As Rspamd 3.4's metadata_exporter (formatter "json") posts a GTUBE reject from a milter.
constexpr const char* kGtube = R"({"ip":"127.0.0.1","user":"alice","qid":"4TqZ3k0Y6Qz9sRb",
  "subject":"test","action":"reject","rspamd_server":"mx","score":1000.0,"fuzzy":[],
  "rcpt":["r@dest.example"],"from":"news@customer.example",
  "symbols":[{"name":"GTUBE","score":0.0,"metric_score":0.0,"options":["0"]},
             {"name":"MISSING_DATE","score":1.0,"metric_score":1.0}],
  "scan_time":12,"header_from":["news@customer.example"],"message_id":"x@y"})";

TEST_CASE("rspamd: a GTUBE reject of an SMTP user is a spam signal with score and symbols") {
  Result<RspamdVerdict> v = ParseRspamdVerdict(kGtube);
  REQUIRE(v.ok());
  CHECK(v->user == "alice");
  CHECK(v->qid == "4TqZ3k0Y6Qz9sRb");
  CHECK(v->action == "reject");
  CHECK(v->score == 1000.0);
  CHECK(v->symbols == std::vector<std::string>{"MISSING_DATE(1.00)", "GTUBE(0.00)"});
  std::string why;
  std::optional<Signal> s = RspamdSignal(*v, &why);
  REQUIRE(s);
  CHECK(s->subject == "user:alice");
  CHECK(s->kind == "spam");
  CHECK(s->evidence ==
        "rspamd reject score 1000.00: MISSING_DATE(1.00), GTUBE(0.00) queue id 4TqZ3k0Y6Qz9sRb");
}

TEST_CASE("rspamd: no user, no spam action or a bad body is not a signal") {
  std::string why;
  auto signal_of = [&](const std::string& body) {
    Result<RspamdVerdict> v = ParseRspamdVerdict(body);
    REQUIRE(v.ok());
    return RspamdSignal(*v, &why);
  };
  CHECK_FALSE(signal_of(R"({"user":"unknown","action":"reject","score":"15.00"})"));
  CHECK(why == "no authenticated user");
  CHECK_FALSE(signal_of(R"({"user":"alice","action":"no action","score":1})"));
  CHECK(why == "action 'no action' is not a spam verdict");
  CHECK(signal_of(R"({"user":"alice","action":"add header","symbols":{"X":{"score":2}}})"));
  // A long non-ASCII action: the reason stays printable ASCII (it goes into a JSON reply).
  CHECK_FALSE(signal_of("{\"user\":\"alice\",\"action\":\"" + std::string(40, 'x') +
                        "\xc3\xa9\xc3\xa9\"}"));
  for (char c : why) CHECK((c >= ' ' && c <= '~'));
  CHECK_FALSE(ParseRspamdVerdict("[]").ok());
  CHECK_FALSE(ParseRspamdVerdict("{\"user\":\"a\"}").ok());
  CHECK_FALSE(ParseRspamdVerdict("not json").ok());
  std::string many = R"({"user":"a","action":"reject","symbols":[)";
  for (int i = 0; i < 200; ++i) many += (i ? "," : "") + std::string(R"({"name":"S","score":1})");
  REQUIRE(ParseRspamdVerdict(many + "]}").ok());
  CHECK(ParseRspamdVerdict(many + "]}")->symbols.size() == kMaxRspamdSymbols);
}

TEST_CASE("rspamd: Basic (any user, token as password) or Bearer, nothing else") {
  const std::string token = "rspamd-token-0123456789";
  // base64("rspamd:rspamd-token-0123456789")
  CHECK(RspamdAuthMatches("Basic cnNwYW1kOnJzcGFtZC10b2tlbi0wMTIzNDU2Nzg5", token));
  CHECK(RspamdAuthMatches("Bearer " + token, token));
  // base64("rspamd:rspamd-token-0123456788")
  CHECK_FALSE(RspamdAuthMatches("Basic cnNwYW1kOnJzcGFtZC10b2tlbi0wMTIzNDU2Nzg4", token));
  // base64("rspamd-token-0123456789"): no user part
  CHECK_FALSE(RspamdAuthMatches("Basic cnNwYW1kLXRva2VuLTAxMjM0NTY3ODk=", token));
  CHECK_FALSE(RspamdAuthMatches("Basic !!!!", token));
  CHECK_FALSE(RspamdAuthMatches("", token));
  CHECK_FALSE(RspamdAuthMatches("Bearer ", ""));
}

}  // namespace policyd
