// One HTTP/1.1 connection on the report/metrics listener: HttpRequestReader (Debian's
// http-parser) turns bytes into an HttpRequest; one request per connection (every response says Connection: close), which
// is all a report page, a scraper or a signals client needs. Limits: [http] max_header_bytes,
// max_body_bytes, and [http] timeout for the whole exchange (slow clients are cut off).
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/http_message.h"
#include "http/http_request_reader.h"
#include "net/stream_connection.h"

namespace policyd {

class HttpServer;

class HttpConnection : public StreamConnection {
 public:
  HttpConnection(HttpServer* server, uint64_t id, int fd, bool is_unix);

  bool Start();
  // Sends the response, then closes. Ignored after Close.
  void Respond(const HttpResponse& response);

 private:
  enum class State { kReading, kHandling, kWriting, kClosing };

  void OnBytes(const char* data, std::size_t len);
  void Fail(int status, std::string_view reason);  // respond with status, then close
  void OnClose(std::string_view reason) override;
  void OnHandlesClosed() override;

  HttpServer* server_;
  State state_ = State::kReading;
  uv_write_t write_req_;
  HttpRequestReader reader_;
  std::string out_;
};

}  // namespace policyd
