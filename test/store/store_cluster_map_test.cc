// Issue 17: the slot map the cluster router keeps, read from CLUSTER SLOTS replies shaped as
// redis-server 7.0 sends them (node entries of host, port, id and, since 7.0, a metadata map).
#include <doctest/doctest.h>

#include "store/cluster_map.h"

namespace policyd::test {
namespace {

RedisValue Int(int64_t n) { return {RedisValue::Type::kInteger, n, "", {}}; }
RedisValue Str(std::string s) { return {RedisValue::Type::kString, 0, std::move(s), {}}; }
RedisValue Arr(std::vector<RedisValue> e) { return {RedisValue::Type::kArray, 0, "", std::move(e)}; }
RedisValue Node(std::string host, int64_t port) {
  return Arr({Str(std::move(host)), Int(port), Str("07c37dfeb235213a872192d90877d0cd55635b91"),
              Arr({})});
}

}  // namespace

TEST_CASE("ClusterMap: three primaries with replicas, each slot to its primary") {
  RedisValue reply = Arr({
      Arr({Int(0), Int(5460), Node("127.0.0.1", 30001), Node("127.0.0.1", 30004)}),
      Arr({Int(5461), Int(10922), Node("127.0.0.1", 30002), Node("127.0.0.1", 30005)}),
      Arr({Int(10923), Int(16383), Node("127.0.0.1", 30003), Node("127.0.0.1", 30006)}),
  });
  Result<ClusterMap> map = ClusterMap::FromClusterSlots(reply);
  REQUIRE(map.ok());
  REQUIRE(map->primaries().size() == 3);
  CHECK(map->primaries()[1] == ClusterNode{"127.0.0.1", 30002});
  CHECK(map->AssignedSlots() == 16384);
  CHECK(map->NodeFor(0) == 0);
  CHECK(map->NodeFor(5460) == 0);
  CHECK(map->NodeFor(5461) == 1);
  CHECK(map->NodeFor(16383) == 2);
  CHECK(map->NodeFor(KeySlot("pd:user:{user:alice}")) == 0);  // slot 4489

  map->Move(4489, {"127.0.0.1", 30003});
  CHECK(map->NodeFor(4489) == 2);
  map->Move(4490, {"127.0.0.1", 30007});  // a node the map did not know yet
  CHECK(map->primaries().size() == 4);
  CHECK(map->NodeFor(4490) == 3);
}

TEST_CASE("ClusterMap: a primary serving two ranges is one node; uncovered slots have none") {
  RedisValue reply = Arr({
      Arr({Int(0), Int(99), Node("10.0.0.1", 6379)}),
      Arr({Int(200), Int(299), Node("10.0.0.1", 6379)}),
  });
  Result<ClusterMap> map = ClusterMap::FromClusterSlots(reply);
  REQUIRE(map.ok());
  CHECK(map->primaries().size() == 1);
  CHECK(map->AssignedSlots() == 200);
  CHECK(map->NodeFor(150) == -1);
  CHECK(map->NodeFor(250) == 0);
  CHECK(ClusterMap::FromClusterSlots(Arr({}))->AssignedSlots() == 0);
}

TEST_CASE("ClusterMap: a primary of unknown address is on the host the map was read from") {
  // A one-node cluster's node does not know its address ("", redis-server 7.0); a node behind
  // a load balancer is announced NULL.
  RedisValue nil_host = Arr({RedisValue{}, Int(30002), Str("id"), Arr({})});
  RedisValue reply = Arr({
      Arr({Int(0), Int(8191), Node("", 30001)}),
      Arr({Int(8192), Int(16383), nil_host}),
  });
  Result<ClusterMap> map = ClusterMap::FromClusterSlots(reply, "10.0.0.5");
  REQUIRE(map.ok());
  REQUIRE(map->primaries().size() == 2);
  CHECK(map->primaries()[0] == ClusterNode{"10.0.0.5", 30001});
  CHECK(map->primaries()[1] == ClusterNode{"10.0.0.5", 30002});
}

TEST_CASE("ClusterMap: malformed replies are errors naming the problem") {
  struct Case {
    RedisValue reply;
    const char* says;
  };
  std::vector<Case> cases = {
      {Str("ERR This instance has cluster support disabled"), "not an array"},
      {Arr({Arr({Int(0), Int(5)})}), "range 0 is not"},
      {Arr({Arr({Int(0), Int(16384), Node("h", 1)})}), "outside 0-16383"},
      {Arr({Arr({Int(9), Int(5), Node("h", 1)})}), "outside 0-16383"},
      {Arr({Arr({Int(-1), Int(5), Node("h", 1)})}), "outside 0-16383"},
      {Arr({Arr({Int(0), Int(5), Node("", 1)})}), "its primary is not"},  // no asked host
      {Arr({Arr({Int(0), Int(5), Arr({RedisValue{}})})}), "its primary is not"},
      {Arr({Arr({Int(0), Int(5), Node("h", 0)})}), "its primary is not"},
      {Arr({Arr({Int(0), Int(5), Node("h", 70000)})}), "its primary is not"},
      {Arr({Arr({Int(0), Int(5), Str("h:1")})}), "its primary is not"},
  };
  for (const Case& c : cases) {
    Result<ClusterMap> map = ClusterMap::FromClusterSlots(c.reply);
    REQUIRE_FALSE(map.ok());
    CAPTURE(map.error().message);
    CHECK(map.error().message.find(c.says) != std::string::npos);
  }
}

}  // namespace policyd::test
