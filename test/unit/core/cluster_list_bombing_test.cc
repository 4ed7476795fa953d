// Issue 17: list_bombing.lua's call on a Redis Cluster, built from decide.lua's ARGV.
#include "core/cluster_list_bombing.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/decide_args.h"
#include "core/report_slot.h"

namespace policyd {

TEST_CASE("cluster list-bombing: the call in the user's slot, with decide.lua's facts") {
  std::vector<std::string> a(kDecideArgsCount);
  a[1] = "1800000000000";
  a[kArgPrefix] = "pd:";
  a[kArgSubject] = "user:alice";
  a[9] = "bob@example.net";
  a[12] = "msgid";
  a[18] = "600000";
  a[20] = "2592000000";
  a[22] = "escalation";
  a[26] = "score";
  a[27] = "20,600000";
  a[31] = "bob@example.net\ncarol@example.net";
  auto call = BuildListBombingCall(a, "rcptid", "r1");
  REQUIRE(call);
  // The pd:msg slices of now, span max(dedup_ttl, window) = 600000 ms: 1800000000000 / 600000.
  CHECK(call->keys ==
        std::vector<std::string>{"pd:msg:{user:alice}:3000000", "pd:msg:{user:alice}:2999999"});
  a[27] = "20,900000";  // a longer list-bombing window makes the span
  CHECK(BuildListBombingCall(a, "rcptid", "r1")->keys[0] == "pd:msg:{user:alice}:2000000");
  a[27] = "20,600000";
  std::vector<std::string> want = {"pd:",      "user:alice", "1800000000000",
                                   "rcptid",   "msgid",      "600000",
                                   "20,600000", "score",     "escalation",
                                   "r1",       "2592000000",
                                   std::string(SubjectSlotTag("user:alice")),
                                   "bob@example.net\ncarol@example.net", "bob@example.net"};
  CHECK(call->args == want);
  // decide.lua records no list-bombing for a request without an identity.
  CHECK_FALSE(BuildListBombingCall(a, "", "r1"));
  a[12] = "";
  CHECK_FALSE(BuildListBombingCall(a, "rcptid", "r1"));
}

}  // namespace policyd
