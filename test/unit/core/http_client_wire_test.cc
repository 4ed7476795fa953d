// Webhook URLs, the POST request's bytes, and status lines read from partial responses.
#include "core/http_client_wire.h"

#include <doctest/doctest.h>

namespace policyd {

TEST_CASE("ParseHttpUrl: host, port and target of http:// URLs") {
  auto u = ParseHttpUrl("http://hooks.example:8080/in/policyd?x=1");
  REQUIRE(u.ok());
  CHECK(u->host == "hooks.example");
  CHECK(u->port == 8080);
  CHECK(u->target == "/in/policyd?x=1");
  u = ParseHttpUrl("http://127.0.0.1");
  REQUIRE(u.ok());
  CHECK(u->port == 80);
  CHECK(u->target == "/");
  u = ParseHttpUrl("http://[::1]:9000/h");
  REQUIRE(u.ok());
  CHECK(u->host == "::1");
  CHECK(u->port == 9000);
}

TEST_CASE("ParseHttpUrl refuses what it cannot send, saying why") {
  auto error = [](std::string_view url) {
    auto u = ParseHttpUrl(url);
    CHECK_MESSAGE(!u.ok(), url);
    return u.ok() ? std::string() : u.error().message;
  };
  CHECK(error("https://hooks.example/").find("https") != std::string::npos);
  CHECK(error("ftp://x/").find("http://") != std::string::npos);
  CHECK(error("http:///path").find("no host") != std::string::npos);
  CHECK(error("http://x:0/").find("port") != std::string::npos);
  CHECK(error("http://x:70000/").find("port") != std::string::npos);
  CHECK(error("http://x:/").find("port") != std::string::npos);
  CHECK(error("http://u:p@x/").find("user info") != std::string::npos);
  CHECK(error("http://x/a b").find("space") != std::string::npos);
  CHECK(error("http://x/\r\nHost: y").find("control") != std::string::npos);
  CHECK(error("http://x/#f").find("fragment") != std::string::npos);
  CHECK(error("http://::1/").find("brackets") != std::string::npos);
}

TEST_CASE("FormatHttpPost: request line, Host, length, close, extra headers, body") {
  HttpUrl url{"hooks.example", 8080, "/in"};
  std::string r = FormatHttpPost(url, {{"X-Policyd-Signature", "t=1,v1=ab"}}, "{}");
  CHECK(r.starts_with("POST /in HTTP/1.1\r\nHost: hooks.example:8080\r\n"));
  CHECK(r.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(r.find("Connection: close\r\n") != std::string::npos);
  CHECK(r.find("X-Policyd-Signature: t=1,v1=ab\r\n") != std::string::npos);
  CHECK(r.ends_with("\r\n\r\n{}"));
  CHECK(FormatHttpPost({"::1", 80, "/"}, {}, "").find("Host: [::1]\r\n") != std::string::npos);
}

TEST_CASE("ParseHttpResponseHead: needs the whole header block, in any fragments") {
  using State = HttpResponseHead::State;
  std::string full = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
  for (size_t cut = 0; cut < full.size(); ++cut) {
    CHECK(ParseHttpResponseHead(full.substr(0, cut), 1024).state == State::kNeedMore);
  }
  HttpResponseHead h = ParseHttpResponseHead(full, 1024);
  CHECK(h.state == State::kDone);
  CHECK(h.status == 204);
  CHECK(ParseHttpResponseHead("HTTP/1.0 500\r\n\r\n", 1024).status == 500);
}

TEST_CASE("ParseHttpResponseHead: malformed status lines and oversized heads are errors") {
  using State = HttpResponseHead::State;
  for (std::string_view bad :
       {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 x\r\n\r\n", "SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 abc\r\n\r\n"}) {
    CHECK_MESSAGE(ParseHttpResponseHead(bad, 1024).state == State::kError, bad);
  }
  CHECK(ParseHttpResponseHead(std::string(2000, 'x'), 1024).state == State::kError);
}

}  // namespace policyd
