// store/status_reply: the shape check the cluster's counting scripts' replies share.
#include "store/status_reply.h"

#include <doctest/doctest.h>

namespace policyd {
namespace {

RedisValue Array(std::vector<std::string> words) {
  RedisValue v;
  v.type = RedisValue::Type::kArray;
  for (auto& w : words) {
    RedisValue e;
    e.type = RedisValue::Type::kString;
    e.str = std::move(w);
    v.elements.push_back(std::move(e));
  }
  return v;
}

}  // namespace

TEST_CASE("status reply: a status among the known ones, an array of a known size") {
  Result<RedisValue> ok = Array({"refused", "a", "b"});
  StatusReply r = ReadStatusReply(ok, "demo", {2, 3}, {"counted", "refused"});
  CHECK(r.error.empty());
  CHECK(r.status == 1);
  REQUIRE(r.fields != nullptr);
  CHECK((*r.fields)[2].AsString() == "b");

  CHECK(ReadStatusReply(Array({"refused", "a"}), "demo", {3}, {"refused"}).error ==
        "demo: unexpected reply");
  CHECK(ReadStatusReply(Array({"maybe", "a"}), "demo", {2}, {"refused"}).error ==
        "demo: unexpected status");
  RedisValue text;
  text.type = RedisValue::Type::kString;
  text.str = "counted";
  CHECK(ReadStatusReply(text, "demo", {1}, {"counted"}).error == "demo: unexpected reply");
  Result<RedisValue> failed = Error{ErrorCode::kTimeout, "timed out"};
  CHECK(ReadStatusReply(failed, "demo", {1}, {"counted"}).error == "timed out");
}

}  // namespace policyd
