#include "core/ip_allow_list.h"

#include <doctest/doctest.h>

namespace policyd {
namespace {

std::vector<IpNetwork> List(std::vector<std::string> entries) {
  Result<std::vector<IpNetwork>> r = ParseIpAllowList(entries);
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("the issue's allow-list: 203.0.113.0/24 and 2001:db8::/64") {
  auto list = List({"203.0.113.0/24", "2001:db8::/64"});
  CHECK_FALSE(IpAllowed(list, "198.51.100.7"));
  CHECK(IpAllowed(list, "203.0.113.9"));
  CHECK(IpAllowed(list, "2001:db8::5"));
  CHECK_FALSE(IpAllowed(list, "2001:db8:0:1::5"));
  SUBCASE("an IPv4-mapped client address is its IPv4 address") {
    CHECK(IpAllowed(list, "::ffff:203.0.113.9"));
    CHECK_FALSE(IpAllowed(list, "::ffff:198.51.100.7"));
  }
  SUBCASE("an IPv4-mapped network is an IPv4 network") {
    auto mapped = List({"::ffff:203.0.113.0/120"});
    CHECK(IpAllowed(mapped, "203.0.113.200"));
    CHECK(IpNetworkText(mapped[0]) == "203.0.113.0/24");
  }
}

TEST_CASE("an empty list allows every address, an unparsable address is refused by a list") {
  CHECK(IpAllowed({}, "198.51.100.7"));
  CHECK(IpAllowed({}, "unknown"));
  CHECK_FALSE(IpAllowed(List({"0.0.0.0/0"}), "unknown"));
  CHECK(IpAllowed(List({"0.0.0.0/0"}), "198.51.100.7"));
  CHECK_FALSE(IpAllowed(List({"0.0.0.0/0"}), "2001:db8::1"));
  CHECK(IpAllowed(List({"::/0"}), "198.51.100.7"));
}

TEST_CASE("networks are parsed strictly and shown canonically") {
  CHECK(IpNetworkText(*ParseIpNetwork("198.51.100.7")) == "198.51.100.7/32");
  CHECK(IpNetworkText(*ParseIpNetwork("2001:DB8:0::/64")) == "2001:db8::/64");
  CHECK(IpNetworkMatchForm(*ParseIpNetwork("203.0.113.0/24")) ==
        "00000000000000000000ffffcb007100/120");
  CHECK(IpAddressMatchForm("2001:db8::5") == "20010db8000000000000000000000005");
  CHECK(IpAddressMatchForm("nonsense") == "");
  for (const char* bad : {"", "203.0.113.0/33", "2001:db8::/129", "203.0.113.0/", "/24",
                          "203.0.113.0/-1", "203.0.113.0/24x", "example.com", "1.2.3.4.5",
                          "203.0.113.0/ 24"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseIpNetwork(bad).ok());
  }
  Result<IpNetwork> host_bits = ParseIpNetwork("203.0.113.9/24");
  REQUIRE_FALSE(host_bits.ok());
  CHECK(host_bits.error().message.find("did you mean 203.0.113.0/24") != std::string::npos);
}

TEST_CASE("a list holds at most 50 distinct networks; the error names the entry") {
  std::vector<std::string> many;
  for (int i = 0; i < 50; ++i) many.push_back("10.0." + std::to_string(i) + ".0/24");
  CHECK(ParseIpAllowList(many).ok());
  many.push_back("10.0.0.0/24");  // a duplicate does not count
  CHECK(ParseIpAllowList(many)->size() == 50);
  many.push_back("10.1.0.0/24");
  Result<std::vector<IpNetwork>> over = ParseIpAllowList(many);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == ErrorCode::kTooLarge);
  Result<std::vector<IpNetwork>> bad = ParseIpAllowList({"10.0.0.0/8", "bogus"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("entry 2 'bogus'") == 0);
}

TEST_CASE("the stored text splits back into its entries") {
  auto list = List({"203.0.113.0/24", "2001:db8::/64"});
  CHECK(IpAllowListText(list) == "203.0.113.0/24,2001:db8::/64");
  CHECK(SplitIpAllowList(IpAllowListText(list)) ==
        std::vector<std::string>{"203.0.113.0/24", "2001:db8::/64"});
  CHECK(SplitIpAllowList("").empty());
  CHECK(IpAllowListText({}) == "");
}

}  // namespace
}  // namespace policyd
