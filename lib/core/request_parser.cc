#include "core/request_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace policyd {

RequestParser::Status RequestParser::Fail(std::string reason) {
  error_ = std::move(reason);
  return Status::kError;
}

RequestParser::Status RequestParser::Feed(std::string_view input, std::size_t* consumed) {
  *consumed = 0;
  if (!error_.empty()) return Status::kError;
  while (*consumed < input.size()) {
    std::string_view rest = input.substr(*consumed);
    const void* lf = std::memchr(rest.data(), '\n', rest.size());
    std::size_t take = lf ? static_cast<const char*>(lf) - rest.data() : rest.size();
    // Bounds are checked before bytes are kept, so a hostile client cannot grow the buffer.
    // The first offending byte names the error (ties: line, request, NUL), so the reason does
    // not depend on how read() split the stream (found by test/fuzz/request_parser_fuzz.cc).
    constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
    std::size_t line_room = limits_.max_line_bytes - line_.size();
    std::size_t request_room = limits_.max_request_bytes - request_bytes_;
    std::size_t line_at = take > line_room ? line_room : kNone;
    std::size_t request_at = take + (lf ? 1 : 0) > request_room ? request_room : kNone;
    const void* nul = std::memchr(rest.data(), '\0', take);
    std::size_t nul_at = nul ? static_cast<const char*>(nul) - rest.data() : kNone;
    if (std::size_t first = std::min({line_at, request_at, nul_at}); first != kNone) {
      if (first == line_at) {
        return Fail(fmt::format("line longer than max_line_bytes ({})", limits_.max_line_bytes));
      }
      if (first == request_at) {
        return Fail(
            fmt::format("request larger than max_request_bytes ({})", limits_.max_request_bytes));
      }
      return Fail("NUL byte in request");
    }
    request_bytes_ += take;
    *consumed += take;
    if (!lf) {
      line_.append(rest.data(), take);
      return Status::kNeedMore;
    }
    ++*consumed;  // the LF
    ++request_bytes_;
    // A line read whole is parsed where it lies; only a line split across reads is copied.
    std::string_view line = rest.substr(0, take);
    if (!line_.empty()) {
      line_.append(line);
      line = line_;
    }
    if (line.empty()) {
      if (attribute_count_ == 0) return Fail("empty request (a blank line without attributes)");
      if (!request_.Has("request")) return Fail("request without request= attribute");
      return Status::kRequest;
    }
    if (Status s = FinishLine(line); s == Status::kError) return s;
  }
  return Status::kNeedMore;
}

RequestParser::Status RequestParser::FinishLine(std::string_view line) {
  auto eq = line.find('=');
  if (eq == std::string_view::npos) return Fail("line without '=' in request");
  if (eq == 0) return Fail("empty attribute name");
  if (++attribute_count_ > limits_.max_attributes) {
    return Fail(fmt::format("more than max_attributes ({}) attributes", limits_.max_attributes));
  }
  if (attribute_count_ == 1) request_.Reserve(std::min<std::size_t>(limits_.max_attributes, 32));
  request_.Add(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  line_.clear();
  return Status::kNeedMore;
}

PolicyRequest RequestParser::TakeRequest() {
  PolicyRequest out = std::move(request_);
  request_ = PolicyRequest();
  line_.clear();
  request_bytes_ = 0;
  attribute_count_ = 0;
  return out;
}

}  // namespace policyd
