// [redis] cluster (issue 17): seed nodes as host:port, 1..64 of them, and the cross-key rules
// that keep one way of saying where Redis is (cluster, sentinels, or url's host).
#include <doctest/doctest.h>

#include <string>

#include "config_test_util.h"
#include "core/config.h"

namespace policyd {
namespace {

using testing::Contains;
using testing::ErrorsOf;
using testing::ParseSnippet;

TEST_CASE("config_cluster: seeds parse; unset is no cluster") {
  auto none = ParseSnippet("[redis]\n");
  REQUIRE(none.ok());
  CHECK(none->redis.cluster.empty());

  auto config = ParseSnippet(
      "[redis]\ncluster = [\"10.0.0.1:7000\", \"redis-b.example:7001\", \"[::1]:7002\"]\n");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  CHECK(config->redis.cluster ==
        std::vector<std::string>{"10.0.0.1:7000", "redis-b.example:7001", "[::1]:7002"});
}

TEST_CASE("config_cluster: url may keep the password every node shares") {
  auto config = ParseSnippet(
      "[redis]\nurl = \"redis://user:secret@127.0.0.1:6379/0\"\ncluster = [\"10.0.0.1:7000\"]\n");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  CHECK(config->redis.url == "redis://user:secret@127.0.0.1:6379/0");
}

TEST_CASE("config_cluster: a seed that is not host:port is named") {
  for (const char* seed : {"10.0.0.1", "10.0.0.1:", "redis://10.0.0.1:7000", "a@b:7000",
                           "10.0.0.1:7000/0", "10.0.0.1:99999", "[::1]", ""}) {
    CAPTURE(seed);
    std::string error = ErrorsOf(std::string("[redis]\ncluster = [\"") + seed + "\"]\n");
    CHECK(Contains(error, "t.toml:2:"));
    CHECK(Contains(error, "redis.cluster"));
    CHECK(Contains(error, std::string("'") + seed + "' is not host:port"));
  }
}

TEST_CASE("config_cluster: at most 64 seeds") {
  auto seeds = [](int n) {
    std::string list;
    for (int i = 0; i < n; ++i)
      list += (i ? ", " : "") + ("\"10.0.0.1:" + std::to_string(7000 + i) + "\"");
    return "[redis]\ncluster = [" + list + "]\n";
  };
  CHECK(ParseSnippet(seeds(64)).ok());
  std::string error = ErrorsOf(seeds(65));
  CHECK(Contains(error, "65 seed nodes, expected at most 64"));
}

TEST_CASE("config_cluster: excludes sentinels, and a url that names a Redis") {
  std::string both =
      ErrorsOf("[redis]\nsentinels = [\"10.0.0.9:26379\"]\ncluster = [\"10.0.0.1:7000\"]\n");
  CHECK(Contains(both, "t.toml:3:"));
  CHECK(Contains(both, "redis.cluster: set together with redis.sentinels"));

  for (const char* url : {"redis://10.0.0.5:6379/0", "redis://127.0.0.1:7000/0",
                          "redis://127.0.0.1:6379/2", "unix:///run/redis.sock"}) {
    CAPTURE(url);
    std::string error =
        ErrorsOf(std::string("[redis]\nurl = \"") + url + "\"\ncluster = [\"10.0.0.1:7000\"]\n");
    CHECK(Contains(error, "t.toml:2:"));
    CHECK(Contains(error, "redis.url: names a Redis"));
    CHECK(Contains(error, "while redis.cluster is set"));
  }
  // Without cluster, the same urls are fine.
  CHECK(ParseSnippet("[redis]\nurl = \"redis://10.0.0.5:6379/3\"\n").ok());
}

}  // namespace
}  // namespace policyd
