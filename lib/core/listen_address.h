// A listen address from [server] listen or [http] listen: "127.0.0.1:10040", "[::1]:10040",
// "*:10040" (all IPv4), "[::]:10040" (all IPv6) or "unix:/path/to/socket" (a relative path is
// relative to the working directory, as Postfix's "unix:private/policyd" is relative to the
// queue directory).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace policyd {

struct ListenAddress {
  std::string host;       // numeric IPv4 or IPv6 address; empty for unix
  int port = 0;
  std::string unix_path;  // set for unix sockets
  bool IsUnix() const { return !unix_path.empty(); }
  bool IsIpv6() const { return host.find(':') != std::string::npos; }
  std::string Describe() const;
};

Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace policyd
