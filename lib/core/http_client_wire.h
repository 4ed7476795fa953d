// The client side of HTTP/1.1 as plain functions, for webhook deliveries (lib/net/http_client
// does the I/O): the URL a [webhooks] endpoint names, the POST request's bytes, and the
// response's status line read from whatever bytes have arrived. Only http:// URLs: TLS is not
// implemented (docs/operator-guide.md: put a local TLS-terminating proxy in front if needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace policyd {

struct HttpUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 80;
  std::string target = "/";  // path and query, as sent in the request line
};

// "http://host[:port][/path[?query]]". The error says what is wrong ("https is not supported",
// "no host", "bad port"). No user info, no fragment, no control characters or spaces.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// "POST target HTTP/1.1", Host, Content-Type: application/json, Content-Length,
// Connection: close, User-Agent, the extra headers, a blank line and the body. Header values
// must not hold CR or LF (callers pass their own, fixed-shape values).
std::string FormatHttpPost(const HttpUrl& url,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string_view body);

// Reading a response: only its status matters to a delivery, so the parse stops at the end of
// the header block. kNeedMore until "\r\n\r\n" has arrived; kError for a malformed status line
// or a header block longer than max_bytes.
struct HttpResponseHead {
  enum class State { kNeedMore, kDone, kError };
  State state = State::kNeedMore;
  int status = 0;     // kDone
  std::string error;  // kError
};
HttpResponseHead ParseHttpResponseHead(std::string_view received, size_t max_bytes);

}  // namespace policyd
