#include "core/ip_allow_list.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/hex.h"
#include "core/log_text.h"

namespace policyd {
namespace {

constexpr std::size_t kMaxEntryText = 64;  // the longest IPv6 CIDR is 43 characters

bool IsV4Mapped(const Ip128& a) {
  for (int i = 0; i < 10; ++i) {
    if (a[i] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff;
}

// Zero bits beyond prefix; true if any was set.
bool MaskHostBits(Ip128* a, int prefix) {
  bool had = false;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix - 8 * i, 0, 8);
    uint8_t mask = keep == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
    if ((*a)[i] & ~mask) had = true;
    (*a)[i] &= mask;
  }
  return had;
}

bool Covers(const IpNetwork& n, const Ip128& a) {
  Ip128 masked = a;
  MaskHostBits(&masked, n.prefix);
  return masked == n.address;
}

}  // namespace

std::optional<Ip128> ParseIpAddress(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s(text);
  Ip128 out{};
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

Result<IpNetwork> ParseIpNetwork(std::string_view text) {
  std::string shown = LogSafe(text, 80);
  if (text.size() > kMaxEntryText) {
    return Invalid(fmt::format("'{}': expected an IPv4 or IPv6 network such as "
                               "203.0.113.0/24 or 2001:db8::/64",
                               shown));
  }
  auto slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  std::optional<Ip128> addr = ParseIpAddress(addr_text);
  if (!addr) {
    return Invalid(fmt::format("'{}': expected an IPv4 or IPv6 network such as "
                               "203.0.113.0/24 or 2001:db8::/64",
                               shown));
  }
  bool v4_text = addr_text.find(':') == std::string_view::npos;
  int max_len = v4_text ? 32 : 128;
  int len = max_len;
  if (slash != std::string_view::npos) {
    std::string_view len_text = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (len_text.empty() || ec != std::errc() || p != len_text.data() + len_text.size() ||
        len < 0 || len > max_len) {
      return Invalid(fmt::format("'{}': prefix length must be 0-{}", shown, max_len));
    }
  }
  IpNetwork n;
  n.address = *addr;
  n.prefix = v4_text ? len + 96 : len;
  if (MaskHostBits(&n.address, n.prefix)) {
    return Invalid(fmt::format("'{}': host bits are set below the prefix; did you mean {}?",
                               shown, IpNetworkText(n)));
  }
  return n;
}

std::string IpNetworkText(const IpNetwork& n) {
  char buf[INET6_ADDRSTRLEN];
  if (IsV4Mapped(n.address) && n.prefix >= 96) {
    inet_ntop(AF_INET, n.address.data() + 12, buf, sizeof buf);
    return fmt::format("{}/{}", buf, n.prefix - 96);
  }
  inet_ntop(AF_INET6, n.address.data(), buf, sizeof buf);
  return fmt::format("{}/{}", buf, n.prefix);
}

std::string IpNetworkMatchForm(const IpNetwork& n) {
  return fmt::format("{}/{}", HexLower(n.address.data(), n.address.size()), n.prefix);
}

std::string IpAddressMatchForm(std::string_view address) {
  std::optional<Ip128> a = ParseIpAddress(address);
  return a ? HexLower(a->data(), a->size()) : std::string();
}

Result<std::vector<IpNetwork>> ParseIpAllowList(const std::vector<std::string>& entries) {
  std::vector<IpNetwork> out;
  std::size_t position = 0;
  for (const std::string& e : entries) {
    ++position;
    Result<IpNetwork> n = ParseIpNetwork(e);
    if (!n.ok()) return Invalid(fmt::format("entry {} {}", position, n.error().message));
    if (std::find(out.begin(), out.end(), *n) == out.end()) out.push_back(*n);
    if (out.size() > kMaxIpAllowEntries) {
      return Error{ErrorCode::kTooLarge,
                   fmt::format("more than {} networks: at most {} per user",
                               kMaxIpAllowEntries, kMaxIpAllowEntries)};
    }
  }
  return out;
}

std::string IpAllowListText(const std::vector<IpNetwork>& list) {
  std::string out;
  for (const IpNetwork& n : list) out += (out.empty() ? "" : ",") + IpNetworkText(n);
  return out;
}

std::string IpAllowListMatchForm(const std::vector<IpNetwork>& list) {
  std::string out;
  for (const IpNetwork& n : list) out += (out.empty() ? "" : ",") + IpNetworkMatchForm(n);
  return out;
}

std::vector<std::string> SplitIpAllowList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    if (comma != 0) out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool IpAllowed(const std::vector<IpNetwork>& list, std::string_view address) {
  if (list.empty()) return true;
  std::optional<Ip128> a = ParseIpAddress(address);
  if (!a) return false;
  for (const IpNetwork& n : list) {
    if (Covers(n, *a)) return true;
  }
  return false;
}

}  // namespace policyd
