// Incremental parser for the Postfix policy protocol: "name=value\n" lines, a request ends at
// an empty line. Bytes may arrive split anywhere; the parser never guesses from how read()
// split them. Bounds are constructor arguments, each checked in exactly one place.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/policy_request.h"

namespace policyd {

struct ParserLimits {
  std::size_t max_line_bytes = 4096;        // one name=value line, without its LF
  std::size_t max_attributes = 128;         // lines in one request
  std::size_t max_request_bytes = 65536;    // the whole request, LFs included
};

class RequestParser {
 public:
  enum class Status {
    kNeedMore,  // everything given was consumed; feed more bytes
    kRequest,   // a complete request is ready in request(); bytes after it are not consumed
    kError,     // malformed or oversized; error() says why; the connection must be closed
  };

  explicit RequestParser(ParserLimits limits) : limits_(limits) {}

  // Consumes bytes from input up to and including the end of one request. *consumed is set to
  // the number of bytes used; call again with the rest after taking the request.
  // A line without '=' , a NUL byte, a request without "request=" or any bound exceeded is an
  // error. A trailing CR is kept in the value (Postfix sends LF only).
  Status Feed(std::string_view input, std::size_t* consumed);

  // Valid after kRequest; moves the request out and resets for the next one.
  PolicyRequest TakeRequest();
  const std::string& error() const { return error_; }
  // Bytes of the request currently being parsed (for bounds on buffering).
  std::size_t pending_bytes() const { return request_bytes_; }
  const ParserLimits& limits() const { return limits_; }

 private:
  Status Fail(std::string reason);
  Status FinishLine(std::string_view line);  // line: without its LF

  ParserLimits limits_;
  std::string line_;
  PolicyRequest request_;
  std::size_t request_bytes_ = 0;
  std::size_t attribute_count_ = 0;
  std::string error_;
};

}  // namespace policyd
