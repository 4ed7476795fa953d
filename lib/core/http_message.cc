#include "core/http_message.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace policyd {
namespace {

std::string_view Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
  }
  return "Status";
}

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string FormatHttpResponse(const HttpResponse& r) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
      "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
      "form-action 'self'; frame-ancestors 'none'{}\r\nReferrer-Policy: no-referrer\r\n",
      r.status, Reason(r.status), r.content_type, r.body.size(),
      r.img_src.empty() ? std::string() : "; img-src " + r.img_src);
  for (const auto& [name, value] : r.headers) out += fmt::format("{}: {}\r\n", name, value);
  out += "\r\n";
  out += r.body;
  return out;
}

HttpResponse TextResponse(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}, {}};
}

HttpResponse JsonResponse(int status, std::string body) {
  return {status, "application/json", std::move(body), {}, {}};
}

HttpResponse HtmlResponse(int status, std::string body) {
  return {status, "text/html; charset=utf-8", std::move(body), {}, {}};
}

bool BearerTokenMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (token.empty() || header.substr(0, kBearer.size()) != kBearer) return false;
  std::string_view given = header.substr(kBearer.size());
  if (given.size() != token.size()) return false;
  return CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

}  // namespace policyd
