// Assembles one HttpRequest from the bytes of an HTTP/1.1 connection with Debian's
// http-parser, within [http] max_header_bytes and max_body_bytes. No socket and no loop:
// HttpConnection feeds it what it reads, and the fuzz target (test/fuzz/http_fuzz.cc) feeds it
// hostile bytes split anywhere. Like RequestParser it answers need-more, done or error.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/http_message.h"

namespace policyd {

struct HttpLimits {
  uint64_t max_header_bytes = 8192;  // request target + header names + header values
  uint64_t max_body_bytes = 1024 * 1024;
};

class HttpRequestReader {
 public:
  enum class Status {
    kNeedMore,  // everything given was consumed; feed more bytes
    kRequest,   // a complete request: TakeRequest(); bytes after it are ignored (one per conn)
    kError,     // malformed or too large: answer error_status() with error(), then close
  };

  explicit HttpRequestReader(HttpLimits limits);
  // http-parser keeps a pointer to this object for its callbacks.
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Parses the next bytes. After kRequest or kError, further calls return the same status
  // and consume nothing.
  Status Feed(std::string_view bytes);

  // Valid after kRequest: the method, path and raw query of the target, headers with
  // lower-cased names (first value wins), and the body (chunked bodies de-chunked).
  HttpRequest TakeRequest() { return std::move(request_); }
  // Valid after kError: 400 (malformed), 413 (body too large) or 431 (headers too large),
  // and a reason safe to show (a fixed text, never client bytes).
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  static int OnUrl(http_parser* p, const char* at, size_t len);
  static int OnHeaderField(http_parser* p, const char* at, size_t len);
  static int OnHeaderValue(http_parser* p, const char* at, size_t len);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t len);
  static int OnMessageComplete(http_parser* p);

  // Records the error for a callback; returns -1, which stops http-parser with an error.
  int Fail(int status, std::string reason);
  // Counts header bytes; false (and the 431 error recorded) past max_header_bytes.
  bool CountHeaderBytes(size_t len);

  HttpLimits limits_;
  http_parser parser_;
  Status status_ = Status::kNeedMore;
  std::string url_;
  std::string field_;
  std::string value_;
  bool in_value_ = false;
  std::size_t header_bytes_ = 0;
  HttpRequest request_;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace policyd
