#include "core/listen_address.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace policyd {

std::string ListenAddress::Describe() const {
  if (IsUnix()) return "unix:" + unix_path;
  if (IsIpv6()) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress a;
  if (text.rfind("unix:", 0) == 0) {
    a.unix_path = text.substr(5);
    if (a.unix_path.empty()) return Invalid(fmt::format("'{}': unix: needs a path", text));
    if (a.unix_path.size() > 100) {
      return Invalid(fmt::format("'{}': unix socket path longer than 100 bytes", text));
    }
    return a;
  }
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) {
      return Invalid(fmt::format("'{}': expected [IPv6]:port", text));
    }
    a.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Invalid(fmt::format("'{}': expected host:port, [IPv6]:port or unix:/path", text));
    }
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (a.host == "*") a.host = "0.0.0.0";
  }
  unsigned char buf[16];
  int family = a.IsIpv6() ? AF_INET6 : AF_INET;
  if (inet_pton(family, a.host.c_str(), buf) != 1) {
    return Invalid(fmt::format("'{}': '{}' is not a numeric IP address", text, a.host));
  }
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (ec != std::errc() || end != port.data() + port.size() || a.port < 1 || a.port > 65535) {
    return Invalid(fmt::format("'{}': port must be 1..65535", text));
  }
  return a;
}

}  // namespace policyd
