// A user's client IP allow-list (issue 19): up to kMaxIpAllowEntries IPv4/IPv6 networks in
// CIDR form; an empty list allows any address. Pure.
//
// Every address is handled as 128 bits, an IPv4 address as its IPv4-mapped IPv6 form
// (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so 203.0.113.0/24 covers both "203.0.113.9" and
// "::ffff:203.0.113.9" as Postfix may report a client on a dual-stack socket. decide.lua does
// not parse addresses: it gets the client address and each network as 32 hex digits (the
// "match form", "HEX/LEN") and compares hex prefixes, so the Lua side stays a few string
// compares per entry.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace policyd {

inline constexpr std::size_t kMaxIpAllowEntries = 50;

using Ip128 = std::array<uint8_t, 16>;

struct IpNetwork {
  Ip128 address{};  // host bits zero
  int prefix = 0;   // 0..128 in the 128-bit space (an IPv4 /24 is 120)
  bool operator==(const IpNetwork&) const = default;
};

// "198.51.100.7", "2001:db8::5", "::ffff:198.51.100.7" (IPv4 also as "[...]" is not accepted).
std::optional<Ip128> ParseIpAddress(std::string_view text);

// "203.0.113.0/24", "2001:db8::/64", or one address (/32, /128). Host bits set below the
// prefix ("203.0.113.9/24") are an error that names the network meant.
Result<IpNetwork> ParseIpNetwork(std::string_view text);

// The canonical text: IPv4-mapped networks as IPv4 ("203.0.113.0/24"), others as RFC 5952
// IPv6 ("2001:db8::/64").
std::string IpNetworkText(const IpNetwork& network);

// "HEX32/LEN", what decide.lua compares (_common.lua ip_allowed).
std::string IpNetworkMatchForm(const IpNetwork& network);
// The 32 lowercase hex digits of an address; "" for text that is not an address.
std::string IpAddressMatchForm(std::string_view address);

// A whole list: each entry parsed, duplicates dropped (first kept), at most
// kMaxIpAllowEntries. The error names the entry and its position.
Result<std::vector<IpNetwork>> ParseIpAllowList(const std::vector<std::string>& entries);

// The user hash fields (docs/redis-keys.md): ip_allow = canonical texts joined by ",",
// ip_allow_match = match forms joined by ",". Both "" for an empty list.
std::string IpAllowListText(const std::vector<IpNetwork>& list);
std::string IpAllowListMatchForm(const std::vector<IpNetwork>& list);
// ip_allow's text back as its entries ("" -> none).
std::vector<std::string> SplitIpAllowList(std::string_view text);

// Whether address is allowed: an empty list allows all; an unparsable address none.
bool IpAllowed(const std::vector<IpNetwork>& list, std::string_view address);

}  // namespace policyd
