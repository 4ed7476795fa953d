// Where Redis is, from [redis] url: "redis://[[user]:password@]host[:port][/db]" (host may be
// "[v6]") or "unix:///path/to/redis.sock[?db=N&password=P]". Pure parsing; the store connects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace policyd {

struct RedisEndpoint {
  std::string host;         // empty for a unix socket
  int port = 6379;
  std::string unix_path;    // set for unix sockets
  std::string username;     // Redis 6 ACL user; empty = default user
  std::string password;     // empty = no AUTH
  int db = 0;

  bool IsUnix() const { return !unix_path.empty(); }
  std::string Describe() const;  // for logs: never includes the password
};

Result<RedisEndpoint> ParseRedisUrl(std::string_view url);

}  // namespace policyd
