// The key table against itself and against conf/policyd.toml: the shipped file must parse,
// document every key (with a comment right above it) and show the built-in defaults.
#include "core/config_keys.h"

#include <doctest/doctest.h>
#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config_test_util.h"
#include "core/config.h"

namespace policyd {
namespace {

const std::string kShippedPath = POLICYD_SOURCE_DIR "/conf/policyd.toml";

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_CASE("config_keys: names are unique and every row can be read and written") {
  std::set<std::string_view> names;
  for (const ConfigKey& key : ConfigKeys()) {
    CAPTURE(key.name);
    CHECK(names.insert(key.name).second);
    CHECK((key.set != nullptr && key.get != nullptr));
    CHECK(FindConfigKey(key.name) == &key);
    CHECK(IsConfigSection(key.section()));
    CHECK((key.type == KeyType::kEnum) == !key.allowed.empty());
  }
  CHECK(FindConfigKey("server.nope") == nullptr);
  CHECK_FALSE(IsConfigSection("plans"));
}

TEST_CASE("config_keys: every default is valid and survives a round trip through TOML") {
  const Config defaults;
  for (const ConfigKey& key : ConfigKeys()) {
    CAPTURE(key.name);
    KeyValue value = key.get(defaults);
    std::string text = FormatKeyValue(key, value);
    std::string toml = std::string("[") + std::string(key.section()) + "]\n" +
                       std::string(key.leaf()) + " = " + text + "\n";
    if (key.section() == "report" && key.name != "report.secret") {
      toml += "secret = \"0123456789abcdef\"\n";
    }
    CAPTURE(toml);
    Result<Config> parsed = ParseConfig(testing::WithSecret(toml), "t.toml");
    if (key.name == "report.secret") {
      CHECK_FALSE(parsed.ok());  // the default ("") is deliberately not valid
      continue;
    }
    REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
    CHECK(key.get(*parsed) == value);
  }
}

TEST_CASE("config_keys: sizes format in the shortest exact form") {
  CHECK(FormatSize(0) == "0");
  CHECK(FormatSize(1500) == "1500");
  CHECK(FormatSize(4096) == "4KiB");
  CHECK(FormatSize(2'048'000) == "2048KB");
  CHECK(FormatSize(1000) == "1KB");
  CHECK(FormatSize(65536) == "64KiB");
  CHECK(FormatSize(10'000'000) == "10MB");
  CHECK(FormatSize(2ull << 30) == "2GiB");
}

TEST_CASE("config_keys: the shipped conf/policyd.toml parses") {
  Result<Config> config = LoadConfigFile(kShippedPath);
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  CHECK(config->report.secret == "change-me-demo-secret-0123456789");
  CHECK(config->http.listen == std::vector<std::string>{"127.0.0.1:10041"});
  CHECK(config->redis.url == "redis://127.0.0.1:6379/0");
  REQUIRE(config->FindPlan("default") != nullptr);
  CHECK_FALSE(config->FindPlan("default")->limits.empty());
  const Plan* starter = config->FindPlan("starter");
  REQUIRE(starter != nullptr);
  CHECK_FALSE(starter->allow_any_domain);
  REQUIRE(starter->limits.size() == 3);  // the DESIGN §6 example
  CHECK(starter->limits[2].subject == SubjectKind::kAccount);
  CHECK(starter->limits[2].metric == Metric::kBytes);
  CHECK(starter->limits[2].max == 2ull << 30);
  CHECK(starter->limits[2].window_ms == 86'400'000);
  const Plan* business = config->FindPlan("business");
  REQUIRE(business != nullptr);
  CHECK(business->allow_any_domain);
}

TEST_CASE("config_keys: the shipped file documents every key, right above it") {
  toml::table root = toml::parse_file(kShippedPath);
  std::vector<std::string> lines = ReadLines(kShippedPath);
  for (const ConfigKey& key : ConfigKeys()) {
    CAPTURE(key.name);
    toml::node_view<toml::node> node = root.at_path(key.name);
    REQUIRE_MESSAGE(node, "conf/policyd.toml lacks ", key.name);
    size_t line = node.node()->source().begin.line;  // 1-based
    REQUIRE(line >= 2);
    REQUIRE(line <= lines.size());
    CHECK_MESSAGE(lines[line - 2].rfind("#", 0) == 0, "no comment above ", key.name);
  }
}

TEST_CASE("config_keys: the shipped file shows the built-in defaults") {
  // The demo settings that make the shipped file work out of the box.
  const std::set<std::string_view> demo = {"report.secret", "http.listen"};
  Result<Config> shipped = LoadConfigFile(kShippedPath);
  REQUIRE_MESSAGE(shipped.ok(), shipped.error().message);
  const Config defaults;
  for (const ConfigKey& key : ConfigKeys()) {
    if (demo.count(key.name)) continue;
    CAPTURE(key.name);
    CHECK_MESSAGE(key.get(*shipped) == key.get(defaults), "conf/policyd.toml has ",
                  FormatKeyValue(key, key.get(*shipped)), ", the default is ",
                  FormatKeyValue(key, key.get(defaults)));
  }
}

}  // namespace
}  // namespace policyd
