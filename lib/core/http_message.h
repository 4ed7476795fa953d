// HTTP request and response values for the report pages, /metrics, /healthz and the signals
// API. Parsing of the wire format is Debian's http-parser's job (lib/http); these are the
// plain values on both sides of it, and the response's wire form.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace policyd {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // "/report"
  std::string query;                           // "id=...&auth=..." (raw)
  std::map<std::string, std::string> headers;  // names lower-cased; first value wins
  std::string body;
  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // The one origin a page may load images from (the operator's logo, [report] logo_url), as
  // core/page_template.h UrlOrigin made it; "" = none.
  std::string img_src;
};

// Status line, Content-Type, Content-Length, Connection: close, security headers that keep a
// report page self-contained (no external loads but img_src, no framing), extra headers, then
// the body.
std::string FormatHttpResponse(const HttpResponse& response);

HttpResponse TextResponse(int status, std::string body);
HttpResponse JsonResponse(int status, std::string body);
HttpResponse HtmlResponse(int status, std::string body);

// Constant-time check of "Authorization: Bearer TOKEN"; false when token is empty.
bool BearerTokenMatches(std::string_view authorization_header, std::string_view token);

}  // namespace policyd
