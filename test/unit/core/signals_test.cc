// Signal batches from the API: both JSON forms, the batch and evidence bounds, and errors that
// name the entry and the bad value.
#include "core/signals.h"
#include "../text_contains.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

std::string Entry(std::string_view subject, std::string_view kind, std::string_view evidence) {
  return "{\"subject\":\"" + std::string(subject) + "\",\"kind\":\"" + std::string(kind) +
         "\",\"evidence\":\"" + std::string(evidence) + "\"}";
}

std::string Batch(std::size_t n) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ",";
    out += Entry("user:u" + std::to_string(i), "bounce", "");
  }
  return out + "]";
}

std::string ErrorOf(std::string_view json) {
  Result<std::vector<Signal>> r = ParseSignalBatch(json);
  CHECK_MESSAGE(!r.ok(), "expected an error for: ", json.substr(0, 200));
  return r.ok() ? "" : r.error().message;
}

using testing::Contains;

}  // namespace

TEST_CASE("signals: the object form and the bare array form parse the same") {
  std::string list = "[" + Entry("user:alice", "complaint", "ARF from example.net") + "," +
                     Entry("sender:Bob@Example.COM", "spam", "") + "]";
  for (const std::string& json : {list, "{\"signals\": " + list + "}"}) {
    CAPTURE(json);
    Result<std::vector<Signal>> r = ParseSignalBatch(json);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].subject == "user:alice");
    CHECK((*r)[0].tag == "user:alice");
    CHECK((*r)[0].kind == "complaint");
    CHECK((*r)[0].evidence == "ARF from example.net");
    CHECK((*r)[1].subject == "sender:Bob@Example.COM");
    CHECK((*r)[1].tag == "sender:bob@example.com");
    CHECK((*r)[1].kind == "spam");
    CHECK((*r)[1].evidence == "");
  }
}

TEST_CASE("signals: evidence is optional and the tag is escaped") {
  Result<std::vector<Signal>> r =
      ParseSignalBatch(R"([{"subject":"user:a}b {c","kind":"bad_recipient"}])");
  REQUIRE(r.ok());
  CHECK((*r)[0].tag == "user:a%7Db%20%7Bc");
  CHECK((*r)[0].evidence == "");
}

TEST_CASE("signals: every kind is accepted, others are named in the error") {
  for (const char* kind : {"complaint", "bounce", "spam", "bad_recipient", "list_bombing"}) {
    CAPTURE(kind);
    CHECK(IsSignalKind(kind));
    CHECK(ParseSignalBatch("[" + Entry("user:a", kind, "") + "]").ok());
  }
  for (const char* kind : {"", "Spam", "spam ", "virus", "block"}) {
    CAPTURE(kind);
    CHECK_FALSE(IsSignalKind(kind));
  }
  std::string e = ErrorOf("[" + Entry("user:a", "spam", "") + "," + Entry("user:b", "virus", "") +
                          "]");
  CHECK(Contains(e, "signals[1]"));
  CHECK(Contains(e, "kind 'virus'"));
}

TEST_CASE("signals: malformed bodies and entries are refused with a reason") {
  struct Case {
    std::string json;
    const char* reason;
  };
  std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[", "not valid JSON"},
      {"[{\"subject\":\"user:a\",\"kind\":\"spam\"},]", "not valid JSON"},
      {"{\"signals\": [] } trailing", "not valid JSON"},
      {"[\"\xff\"]", "not valid JSON"},
      {"{}", "expected {\"signals\": [...]}"},
      {"{\"signal\": []}", "expected {\"signals\": [...]}"},
      {"{\"signals\": {}}", "must be an array"},
      {"{\"signals\": \"x\"}", "must be an array"},
      {"\"x\"", "must be an array"},
      {"42", "must be an array"},
      {"null", "must be an array"},
      {"[]", "empty"},
      {"{\"signals\": []}", "empty"},
      {"[42]", "signals[0]: needs \"subject\" and \"kind\""},
      {"[null]", "signals[0]: needs"},
      {"[[]]", "signals[0]: needs"},
      {"[{\"kind\":\"spam\"}]", "signals[0]: needs"},
      {"[{\"subject\":\"user:a\"}]", "signals[0]: needs"},
      {"[{\"subject\":7,\"kind\":\"spam\"}]", "signals[0]: subject ''"},
      {"[{\"subject\":\"user:a\",\"kind\":[\"spam\"]}]", "signals[0]: kind ''"},
      {"[{\"subject\":\"alice\",\"kind\":\"spam\"}]", "subject 'alice'"},
      {"[{\"subject\":\"account:acme\",\"kind\":\"spam\"}]", "expected user:NAME or sender:"},
      {"[{\"subject\":\"sender:nobody\",\"kind\":\"spam\"}]", "subject 'sender:nobody'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    std::string e = ErrorOf(c.json);
    CHECK_MESSAGE(Contains(e, c.reason), e);
  }
}

TEST_CASE("signals: a batch holds 1 to 1000 signals") {
  Result<std::vector<Signal>> ok = ParseSignalBatch(Batch(kMaxSignalBatch));
  REQUIRE(ok.ok());
  CHECK(ok->size() == 1000);
  CHECK(ok->back().subject == "user:u999");
  CHECK(ParseSignalBatch(Batch(1)).ok());
  CHECK(Contains(ErrorOf(Batch(kMaxSignalBatch + 1)), "more than 1000 signals"));
  CHECK(Contains(ErrorOf("{\"signals\": " + Batch(kMaxSignalBatch + 1) + "}"),
                 "more than 1000 signals"));
}

TEST_CASE("signals: evidence is at most 1000 bytes") {
  std::string at_limit(kMaxEvidenceBytes, 'e');
  Result<std::vector<Signal>> ok = ParseSignalBatch("[" + Entry("user:a", "spam", at_limit) + "]");
  REQUIRE(ok.ok());
  CHECK((*ok)[0].evidence == at_limit);
  std::string e = ErrorOf("[" + Entry("user:a", "spam", "x") + "," +
                          Entry("user:a", "spam", at_limit + "e") + "]");
  CHECK(Contains(e, "signals[1]"));
  CHECK(Contains(e, "evidence longer than 1000 bytes"));
  // 1000 bytes after JSON decoding: "\u00e9" is 2 bytes of UTF-8.
  std::string two_byte;
  for (int i = 0; i < 501; ++i) two_byte += "\\u00e9";
  CHECK(Contains(ErrorOf("[" + Entry("user:a", "spam", two_byte) + "]"), "evidence longer"));
}

TEST_CASE("signals: MakeSignal checks subject, kind and evidence in that order") {
  Result<Signal> s = MakeSignal("user:alice", "spam", "seen in trap");
  REQUIRE(s.ok());
  CHECK(s->tag == "user:alice");
  CHECK(Contains(MakeSignal("nobody", "virus", "").error().message, "subject 'nobody'"));
  CHECK(Contains(MakeSignal("user:a", "virus", "").error().message, "kind 'virus'"));
  CHECK(Contains(MakeSignal("user:a", "spam", std::string(1001, 'x')).error().message,
                 "evidence longer"));
}

}  // namespace policyd
