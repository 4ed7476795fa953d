// The recipients a connection answered DUNNO at RCPT, handed to END-OF-MESSAGE (issue 16).
#include "core/transaction_recipients.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

TEST_CASE("a transaction's recipients reach its END-OF-MESSAGE once, then start over") {
  TransactionRecipients r;
  r.Begin("A1");
  r.Add("bob@example.com");
  r.Add("carol@example.com");
  r.Add("bob@example.com");  // a repeated RCPT
  r.Add("");
  r.Begin("A1");  // the same transaction's END-OF-MESSAGE
  CHECK(r.Take() == std::vector<std::string>{"bob@example.com", "carol@example.com"});
  CHECK(r.size() == 0);
  CHECK(r.Take().empty());
}

TEST_CASE("a new transaction (another instance) starts a new list") {
  TransactionRecipients r;
  r.Begin("A1");
  r.Add("bob@example.com");
  r.Begin("B2");  // the first message's END-OF-MESSAGE never came (RSET, or it was refused)
  r.Add("dave@example.com");
  CHECK(r.instance() == "B2");
  CHECK(r.Take() == std::vector<std::string>{"dave@example.com"});
}

TEST_CASE("at most 1,000 recipients are kept, the first ones") {
  TransactionRecipients r;
  r.Begin("A1");
  for (int i = 0; i < 1500; ++i) r.Add("r" + std::to_string(i) + "@example.com");
  std::vector<std::string> got = r.Take();
  REQUIRE(got.size() == TransactionRecipients::kMaxRecipients);
  CHECK(got.front() == "r0@example.com");
  CHECK(got.back() == "r999@example.com");
}

}  // namespace
}  // namespace policyd
