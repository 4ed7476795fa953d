#include "core/http_client_wire.h"

#include <fmt/format.h>

#include <charconv>

namespace policyd {
namespace {

bool IsVisibleAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  if (url.size() > 2048) return Invalid("URL longer than 2048 bytes");
  if (!IsVisibleAscii(url)) return Invalid("URL has spaces or control characters");
  if (url.starts_with("https://")) {
    return Invalid("https:// is not supported, expected http:// (terminate TLS in a local proxy)");
  }
  if (!url.starts_with("http://")) return Invalid("expected http://HOST[:PORT]/PATH");
  std::string_view rest = url.substr(7);
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  if (slash != std::string_view::npos) {
    std::string_view target = rest.substr(slash);
    if (target.find('#') != std::string_view::npos) return Invalid("URL has a #fragment");
    out.target = target.front() == '?' ? "/" + std::string(target) : std::string(target);
  }
  if (authority.find('@') != std::string_view::npos) return Invalid("URL has user info");
  std::string_view port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("unclosed [ in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid("expected :PORT after ]");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Invalid("URL has no host");
  if (out.host.find(':') != std::string::npos && !authority.starts_with("[")) {
    return Invalid("an IPv6 address needs brackets: http://[::1]:8080/");
  }
  if (!port.empty() || authority.ends_with(":")) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return Invalid(fmt::format("bad port '{}', expected 1-65535", port));
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

std::string FormatHttpPost(const HttpUrl& url,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string_view body) {
  bool v6 = url.host.find(':') != std::string::npos;
  std::string host = v6 ? fmt::format("[{}]", url.host) : url.host;
  if (url.port != 80) host += fmt::format(":{}", url.port);
  std::string out = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: policyd-webhooks\r\n"
      "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
      url.target, host, body.size());
  for (const auto& [name, value] : headers) out += fmt::format("{}: {}\r\n", name, value);
  out += "\r\n";
  out += body;
  return out;
}

HttpResponseHead ParseHttpResponseHead(std::string_view received, size_t max_bytes) {
  HttpResponseHead head;
  size_t end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (received.size() > max_bytes) {
      head.state = HttpResponseHead::State::kError;
      head.error = fmt::format("response header longer than {} bytes", max_bytes);
    }
    return head;
  }
  // "HTTP/1.x NNN reason"
  std::string_view line = received.substr(0, received.find("\r\n"));
  int status = 0;
  bool ok = line.size() >= 12 && (line.starts_with("HTTP/1.1 ") || line.starts_with("HTTP/1.0 "));
  if (ok) {
    auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
    ok = ec == std::errc{} && p == line.data() + 12 && status >= 100 && status <= 599 &&
         (line.size() == 12 || line[12] == ' ');
  }
  if (!ok) {
    head.state = HttpResponseHead::State::kError;
    head.error = "malformed status line";
    return head;
  }
  head.state = HttpResponseHead::State::kDone;
  head.status = status;
  return head;
}

}  // namespace policyd
