// Access facts on a Redis Cluster (issue 17), the pure part: which keys, fields and members
// policyd reads for access_eval.lua, and how it hands them over.
#include "core/access_prefetch.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/cluster_slot.h"
#include "core/decide_args.h"

namespace policyd {
namespace {

using Strings = std::vector<std::string>;

// decide.lua's ARGV 1-31 with only what the plan reads filled in.
Strings Args(const std::string& subject, const std::string& sender_tag,
             const std::string& domain) {
  Strings a(31);
  a[kArgPrefix] = "pd:";
  a[kArgSubject] = subject;
  a[kArgSenderTag] = sender_tag;
  a[kArgDomain] = domain;
  return a;
}

}  // namespace

TEST_CASE("access prefetch: domain candidates as _common.lua lists them") {
  CHECK(DomainCandidates("a.example.com", false) ==
        Strings{"a.example.com", "*.a.example.com", "*.example.com", "*.com"});
  CHECK(DomainCandidates("a.example.com", true) ==
        Strings{"a.example.com", "*.a.example.com", "example.com", "*.example.com", "com",
                "*.com"});
  CHECK(DomainCandidates("localhost", true) == Strings{"localhost", "*.localhost"});
  CHECK(DomainCandidates("", true) == Strings{""});
  // A trailing dot leaves an empty parent, as the Lua loop does.
  CHECK(DomainCandidates("com.", true) == Strings{"com.", "*.com.", ""});
}

TEST_CASE("access prefetch: round 1 reads the blocks, the user and its grants") {
  SUBCASE("an SMTP user with a sender") {
    AccessReads r = PlanAccessReads(Args("user:alice", "sender:a@x.example", "x.example"));
    CHECK(r.block_keys == Strings{"pd:block:{user:alice}", "pd:block:{sender:a@x.example}"});
    CHECK(r.user_key == "pd:user:{user:alice}");
    CHECK(r.grants_key == "pd:grants:{user:alice}");
    CHECK(r.grant_candidates == DomainCandidates("x.example", false));
    // Each key in its subject's slot.
    CHECK(KeySlot(r.block_keys[0]) == KeySlot(r.user_key));
    CHECK(KeySlot(r.block_keys[1]) == KeySlot("sender:a@x.example"));
  }
  SUBCASE("the null sender: no sender block, no ACL") {
    AccessReads r = PlanAccessReads(Args("user:alice", "", ""));
    CHECK(r.block_keys == Strings{"pd:block:{user:alice}"});
    CHECK(r.user_key == "pd:user:{user:alice}");
    CHECK(r.grants_key.empty());
  }
  SUBCASE("a sender without a valid domain: no grants to read (read_access refuses)") {
    AccessReads r = PlanAccessReads(Args("user:alice", "sender:a@", ""));
    CHECK(r.block_keys.size() == 2);
    CHECK(r.grants_key.empty());
  }
  SUBCASE("a sender subject (no SMTP user): its block once, no user, no ACL") {
    AccessReads r = PlanAccessReads(Args("sender:a@x.example", "sender:a@x.example", "x.example"));
    CHECK(r.block_keys == Strings{"pd:block:{sender:a@x.example}"});
    CHECK(r.user_key.empty());
    CHECK(r.grants_key.empty());
  }
}

TEST_CASE("access prefetch: round 2 reads the account load_user will read") {
  Strings args = Args("user:alice", "sender:a@x.example", "x.example");
  CHECK(!PlanAccountReads(args, {}));                          // unknown user
  CHECK(!PlanAccountReads(args, {"plan", "gold"}));            // no account
  CHECK(!PlanAccountReads(args, {"account", ""}));             // empty
  CHECK(!PlanAccountReads(args, {"account", "a}b"}));          // SAFE_NAME refuses it
  CHECK(!PlanAccountReads(args, {"account", "acme corp"}));
  auto r = PlanAccountReads(args, {"mode", "explicit", "account", "Acme-1.x_y"});
  REQUIRE(r);
  CHECK(r->account_key == "pd:account:{account:Acme-1.x_y}");
  CHECK(r->domains_key == "pd:domains:{account:Acme-1.x_y}");
  CHECK(r->domain_candidates == DomainCandidates("x.example", true));
  CHECK(KeySlot(r->account_key) == KeySlot(r->domains_key));
  // No ACL check (null sender): the account only (its plan and quota).
  auto n = PlanAccountReads(Args("user:alice", "", ""), {"account", "acme"});
  REQUIRE(n);
  CHECK(n->account_key == "pd:account:{account:acme}");
  CHECK(n->domains_key.empty());
}

TEST_CASE("access prefetch: records are KIND, KEY, N and N pairs, one argument each") {
  Strings args{"x"};
  AppendHashRecord("pd:user:{user:a}", {"plan", "gold", "mode", "any"}, &args);
  AppendHashRecord("pd:block:{user:a}", {}, &args);
  AppendFieldsRecord("pd:domains:{account:b}", {"x.example", "*.x.example"},
                     {std::string("verified"), std::nullopt}, &args);
  AppendFieldsRecord("k", {"f"}, {std::string("")}, &args);  // present but empty: "="
  AppendMembersRecord("pd:grants:{user:a}", {"x.example", "*.x.example"}, {false, true}, &args);
  CHECK(args == Strings{"x",
                        "h", "pd:user:{user:a}", "2", "plan", "gold", "mode", "any",
                        "h", "pd:block:{user:a}", "0",
                        "f", "pd:domains:{account:b}", "2", "x.example", "=verified",
                        "*.x.example", "",
                        "f", "k", "1", "f", "=",
                        "m", "pd:grants:{user:a}", "2", "x.example", "0", "*.x.example", "1"});
  // Hostile values stay single arguments: nothing is joined or escaped.
  Strings h;
  AppendHashRecord("k", {"a\r\nb", "h 1 x"}, &h);
  CHECK(h == Strings{"h", "k", "1", "a\r\nb", "h 1 x"});
}

}  // namespace policyd
