#include "core/cluster_slot.h"

#include <doctest/doctest.h>

namespace policyd {

TEST_CASE("Crc16: the specification's check value") {
  CHECK(Crc16("123456789") == 0x31C3);
  CHECK(Crc16("") == 0);
}

TEST_CASE("KeyHashTag: the first {...} that is not empty, else the whole key") {
  CHECK(KeyHashTag("{user1000}.following") == "user1000");
  CHECK(KeyHashTag("foo{}{bar}") == "foo{}{bar}");  // the first braces are empty
  CHECK(KeyHashTag("foo{{bar}}zap") == "{bar");
  CHECK(KeyHashTag("foo{bar}{zap}") == "bar");
  CHECK(KeyHashTag("no-tag") == "no-tag");
  CHECK(KeyHashTag("open{only") == "open{only");
  CHECK(KeyHashTag("pd:rate:{user:alice}:messages:3600") == "user:alice");
}

// Every value below is what a real redis-server 7.0 (cluster-enabled) answered to
// CLUSTER KEYSLOT for the same key.
TEST_CASE("KeySlot: as Redis computes it") {
  CHECK(KeySlot("foo") == 12182);
  CHECK(KeySlot("bar") == 5061);
  CHECK(KeySlot("hello") == 866);
  CHECK(KeySlot("somekey") == 11058);
  CHECK(KeySlot("123456789") == 12739);
  CHECK(KeySlot("{user1000}.following") == 3443);
  CHECK(KeySlot("foo{}{bar}") == 8363);
  CHECK(KeySlot("foo{{bar}}zap") == 4015);
  CHECK(KeySlot("foo{bar}{zap}") == 5061);
  CHECK(KeySlot("{") == 4092);
  CHECK(KeySlot("}") == 12090);
  CHECK(KeySlot("") == 0);
  // Every key of one subject lands in one slot.
  CHECK(KeySlot("pd:rate:{user:alice}:messages:3600") == 4489);
  CHECK(KeySlot("pd:user:{user:alice}") == 4489);
}

TEST_CASE("ParseClusterRedirect: MOVED and ASK with their slot and node") {
  auto moved = ParseClusterRedirect("MOVED 3999 127.0.0.1:6381");
  REQUIRE(moved);
  CHECK(moved->kind == ClusterRedirect::Kind::kMoved);
  CHECK(moved->slot == 3999);
  CHECK(moved->host == "127.0.0.1");
  CHECK(moved->port == 6381);

  auto ask = ParseClusterRedirect("ASK 16383 ::1:7002");
  REQUIRE(ask);
  CHECK(ask->kind == ClusterRedirect::Kind::kAsk);
  CHECK(ask->slot == 16383);
  CHECK(ask->host == "::1");
  CHECK(ask->port == 7002);
}

TEST_CASE("ParseClusterRedirect: anything else is not a redirect") {
  for (const char* bad :
       {"", "ERR unknown command", "MOVED", "MOVED 3999", "MOVED 16384 127.0.0.1:6381",
        "MOVED -1 127.0.0.1:6381", "MOVED 3999 127.0.0.1", "MOVED 3999 127.0.0.1:",
        "MOVED 3999 127.0.0.1:0", "MOVED 3999 127.0.0.1:65536", "MOVED 3999 :6381",
        "ASK x 127.0.0.1:6381", "moved 3999 127.0.0.1:6381", "MOVED 39 99 h:1x"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseClusterRedirect(bad));
  }
}

TEST_CASE("IsClusterRetryable: TRYAGAIN and CLUSTERDOWN, nothing else") {
  CHECK(IsClusterRetryable("TRYAGAIN Multiple keys request during rehashing of slot"));
  CHECK(IsClusterRetryable("TRYAGAIN"));
  CHECK(IsClusterRetryable("CLUSTERDOWN The cluster is down"));
  CHECK(IsClusterRetryable("CLUSTERDOWN Hash slot not served"));
  for (const char* other : {"", "ERR TRYAGAIN", "TRYAGAINX", "tryagain later",
                            "MOVED 3999 127.0.0.1:6381", "ASK 1 h:2", "CLUSTERDOWNX",
                            "ERR Error running script: CLUSTERDOWN"}) {
    CAPTURE(other);
    CHECK_FALSE(IsClusterRetryable(other));
  }
}

}  // namespace policyd
