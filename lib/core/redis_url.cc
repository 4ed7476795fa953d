#include "core/redis_url.h"

#include <fmt/format.h>

#include <charconv>

namespace policyd {
namespace {

bool ParseInt(std::string_view text, int min, int max, int* out) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

Error Bad(std::string_view url, std::string_view why) {
  return Invalid(fmt::format("redis url '{}': {}", url, why));
}

Result<RedisEndpoint> ParseUnix(std::string_view url, std::string_view rest) {
  RedisEndpoint ep;
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.empty() || rest[0] != '/') return Bad(url, "expected unix:///absolute/path.sock");
  ep.unix_path = rest;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) return Bad(url, "query parameters are db=N, password=P");
    std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (key == "db") {
      if (!ParseInt(value, 0, 65535, &ep.db)) return Bad(url, "db must be a number");
    } else if (key == "password") {
      ep.password = value;
    } else if (key == "user") {
      ep.username = value;
    } else {
      return Bad(url, "query parameters are db=N, password=P, user=U");
    }
  }
  return ep;
}

}  // namespace

std::string RedisEndpoint::Describe() const {
  if (IsUnix()) return fmt::format("unix:{} db {}", unix_path, db);
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{} db {}", host, port, db);
  return fmt::format("{}:{} db {}", host, port, db);
}

Result<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kUnix = "unix://", kRedis = "redis://";
  if (url.rfind(kUnix, 0) == 0) return ParseUnix(url, url.substr(kUnix.size()));
  if (url.rfind(kRedis, 0) != 0) return Bad(url, "must start with redis:// or unix://");
  std::string_view rest = url.substr(kRedis.size());
  RedisEndpoint ep;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = auth.find(':');
    if (colon == std::string_view::npos) {
      ep.password = auth;
    } else {
      ep.username = auth.substr(0, colon);
      ep.password = auth.substr(colon + 1);
    }
  }
  std::string_view hostport = rest, db;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    db = rest.substr(slash + 1);
  }
  std::string_view port;
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return Bad(url, "unclosed '[' in IPv6 host");
    ep.host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Bad(url, "expected ':port' after ']'");
      port = after.substr(1);
    }
  } else {
    auto colon = hostport.rfind(':');
    ep.host = hostport.substr(0, colon);
    if (colon != std::string_view::npos) port = hostport.substr(colon + 1);
  }
  if (ep.host.empty()) return Bad(url, "missing host");
  if (!port.empty() && !ParseInt(port, 1, 65535, &ep.port)) {
    return Bad(url, "port must be 1..65535");
  }
  if (!db.empty() && !ParseInt(db, 0, 65535, &ep.db)) return Bad(url, "db must be a number");
  return ep;
}

}  // namespace policyd
