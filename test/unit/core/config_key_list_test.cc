// `policyd --list-config-keys`: one line per key-table row, which the policyd.toml(5) check
// compares with the manual page.
#include "core/config_key_list.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace policyd {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_CASE("config_key_list: one line per row, in table order, four tab-separated fields") {
  std::vector<std::string> lines = Lines(ConfigKeyList());
  REQUIRE(lines.size() == ConfigKeys().size());
  for (size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(lines[i]);
    CHECK(lines[i].starts_with(std::string(ConfigKeys()[i].name) + "\t"));
    CHECK(std::count(lines[i].begin(), lines[i].end(), '\t') == 3);
  }
}

TEST_CASE("config_key_list: type, built-in default and reloadability") {
  std::string text = ConfigKeyList();
  CHECK(text.find("server.request_timeout\tduration\t\"1s\"\treload\n") != std::string::npos);
  CHECK(text.find("server.listen\tlist of strings\t[\"127.0.0.1:10040\"]\trestart\n") !=
        std::string::npos);
  CHECK(text.find("log.level\tone of: debug info warning error\t\"info\"\treload\n") !=
        std::string::npos);
  CHECK(text.find("server.max_request_bytes\tsize\t\"64KiB\"\treload\n") != std::string::npos);
}

}  // namespace
}  // namespace policyd
