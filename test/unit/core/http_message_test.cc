// HTTP response wire form and the bearer-token check of the signals API.
#include "core/http_message.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

// Splits a formatted response into its header block (without the blank line) and body.
std::pair<std::string, std::string> SplitResponse(const std::string& wire) {
  auto end = wire.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  return {wire.substr(0, end + 2), wire.substr(end + 4)};
}

std::string HeaderValue(const std::string& head, const std::string& name) {
  std::string needle = "\r\n" + name + ": ";
  auto at = head.find(needle);
  if (at == std::string::npos) return "<missing>";
  at += needle.size();
  return head.substr(at, head.find("\r\n", at) - at);
}

}  // namespace

TEST_CASE("http_message: FormatHttpResponse frames the body with a matching Content-Length") {
  std::vector<std::string> bodies = {"", "ok\n", std::string(100000, 'x'),
                                     std::string("\0\r\n\r\n\xff", 6), "caf\xc3\xa9"};
  for (const std::string& body : bodies) {
    CAPTURE(body.size());
    std::string wire = FormatHttpResponse(TextResponse(200, body));
    auto [head, got] = SplitResponse(wire);
    CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(HeaderValue(head, "Content-Length") == std::to_string(body.size()));
    CHECK(HeaderValue(head, "Connection") == "close");
    CHECK(got == body);
  }
}

TEST_CASE("http_message: responses carry the security headers and their content type") {
  struct Case {
    HttpResponse response;
    const char* type;
  };
  std::vector<Case> cases = {{TextResponse(404, "no"), "text/plain; charset=utf-8"},
                             {JsonResponse(400, "{}"), "application/json"},
                             {HtmlResponse(200, "<p>"), "text/html; charset=utf-8"}};
  for (const Case& c : cases) {
    CAPTURE(c.type);
    auto [head, body] = SplitResponse(FormatHttpResponse(c.response));
    CHECK(HeaderValue(head, "Content-Type") == c.type);
    CHECK(HeaderValue(head, "Cache-Control") == "no-store");
    CHECK(HeaderValue(head, "X-Content-Type-Options") == "nosniff");
    CHECK(HeaderValue(head, "Referrer-Policy") == "no-referrer");
    std::string csp = HeaderValue(head, "Content-Security-Policy");
    CHECK(csp.find("default-src 'none'") != std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(csp.find("img-src") == std::string::npos);
  }
}

TEST_CASE("http_message: a page with the operator's logo may load images from its origin only") {
  HttpResponse r = HtmlResponse(200, "<p>x</p>");
  r.img_src = "https://relay.example";
  auto [head, body] = SplitResponse(FormatHttpResponse(r));
  CHECK(HeaderValue(head, "Content-Security-Policy") ==
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; img-src https://relay.example");
}

TEST_CASE("http_message: status lines name the reason, unknown codes still format") {
  struct Case {
    int status;
    const char* line;
  };
  std::vector<Case> cases = {
      {200, "HTTP/1.1 200 OK"},
      {400, "HTTP/1.1 400 Bad Request"},
      {401, "HTTP/1.1 401 Unauthorized"},
      {404, "HTTP/1.1 404 Not Found"},
      {405, "HTTP/1.1 405 Method Not Allowed"},
      {408, "HTTP/1.1 408 Request Timeout"},
      {413, "HTTP/1.1 413 Payload Too Large"},
      {431, "HTTP/1.1 431 Request Header Fields Too Large"},
      {500, "HTTP/1.1 500 Internal Server Error"},
      {503, "HTTP/1.1 503 Service Unavailable"},
      {418, "HTTP/1.1 418 Status"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.status);
    std::string wire = FormatHttpResponse(TextResponse(c.status, ""));
    CHECK(wire.substr(0, wire.find("\r\n")) == c.line);
  }
}

TEST_CASE("http_message: extra headers follow the fixed ones, before the blank line") {
  HttpResponse r = TextResponse(405, "method");
  r.headers = {{"Allow", "GET, POST"}, {"WWW-Authenticate", "Bearer"}};
  auto [head, body] = SplitResponse(FormatHttpResponse(r));
  CHECK(HeaderValue(head, "Allow") == "GET, POST");
  CHECK(HeaderValue(head, "WWW-Authenticate") == "Bearer");
  CHECK(head.find("\r\nAllow:") > head.find("\r\nReferrer-Policy:"));
  CHECK(body == "method");
}

TEST_CASE("http_message: HttpRequest::Header finds lower-cased names, else empty") {
  HttpRequest req;
  req.headers["authorization"] = "Bearer t";
  CHECK(req.Header("authorization") == "Bearer t");
  CHECK(req.Header("host") == "");
}

TEST_CASE("http_message: BearerTokenMatches wants exactly 'Bearer ' and the token") {
  const std::string token = "s3cret-token";
  struct Case {
    std::string header;
    bool match;
  };
  std::vector<Case> cases = {
      {"Bearer s3cret-token", true},
      {"Bearer s3cret-toke", false},
      {"Bearer s3cret-tokenX", false},
      {"Bearer S3cret-token", false},
      {"Bearer  s3cret-token", false},
      {"Bearer s3cret-token ", false},
      {"Bearer", false},
      {"Bearer ", false},
      {"", false},
      {"s3cret-token", false},
      {"Basic s3cret-token", false},
      {"Bearers3cret-token", false},
      {std::string("Bearer s3cret-token\0", 20), false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    CHECK(BearerTokenMatches(c.header, token) == c.match);
  }
}

TEST_CASE("http_message: an empty configured token never matches") {
  CHECK_FALSE(BearerTokenMatches("Bearer ", ""));
  CHECK_FALSE(BearerTokenMatches("Bearer x", ""));
  CHECK_FALSE(BearerTokenMatches("", ""));
}

}  // namespace policyd
