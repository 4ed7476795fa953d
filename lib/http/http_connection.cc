#include "http/http_connection.h"


#include "http/http_server.h"
#include "log/log.h"

namespace policyd {
namespace {

HttpLimits LimitsOf(const HttpConfig& http) { return {http.max_header_bytes, http.max_body_bytes}; }

}  // namespace

HttpConnection::HttpConnection(HttpServer* server, uint64_t id, int fd, bool is_unix)
    : StreamConnection(id, fd, is_unix),
      server_(server),
      reader_(LimitsOf(server->config().http)) {}

bool HttpConnection::Start() {
  if (!OpenHandles(server_->loop(), this)) return false;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<HttpConnection*>(t->data)->Fail(408, "timeout"); },
      server_->config().http.timeout_ms, 0);
  uv_read_start(
      &sock_.stream,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto& scratch = static_cast<HttpConnection*>(h->data)->server_->read_buffer();
        *buf = uv_buf_init(scratch.data(), static_cast<unsigned>(scratch.size()));
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* self = static_cast<HttpConnection*>(s->data);
        if (n < 0) {
          self->Close(n == UV_EOF ? "client closed" : uv_strerror(static_cast<int>(n)));
        } else if (n > 0) {
          self->OnBytes(buf->base, static_cast<std::size_t>(n));
        }
      });
  return true;
}

void HttpConnection::OnBytes(const char* data, std::size_t len) {
  if (state_ != State::kReading) return;  // one request per connection; ignore the rest
  switch (reader_.Feed(std::string_view(data, len))) {
    case HttpRequestReader::Status::kNeedMore:
      return;
    case HttpRequestReader::Status::kError:
      return Fail(reader_.error_status(), reader_.error());
    case HttpRequestReader::Status::kRequest:
      state_ = State::kHandling;
      return server_->Handle(id_, reader_.TakeRequest());
  }
}

void HttpConnection::Fail(int status, std::string_view reason) {
  if (state_ == State::kWriting || state_ == State::kClosing) {
    Close(reason);
    return;
  }
  POLICYD_LOG_INFO("event=http_refused status={} {}", status, LogField("reason", reason));
  server_->CountRequest("invalid", status);
  Respond(TextResponse(status, std::string(reason) + "\n"));
}

void HttpConnection::Respond(const HttpResponse& response) {
  if (state_ == State::kWriting || state_ == State::kClosing) return;
  state_ = State::kWriting;
  uv_read_stop(&sock_.stream);
  out_ = FormatHttpResponse(response);
  write_req_.data = this;
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int rc = uv_write(&write_req_, &sock_.stream, &buf, 1, [](uv_write_t* req, int) {
    static_cast<HttpConnection*>(req->data)->Close("response sent");
  });
  if (rc != 0) Close("write failed");
}

void HttpConnection::OnClose(std::string_view reason) {
  state_ = State::kClosing;
  POLICYD_LOG_DEBUG("event=http_close {} conn={}", LogField("reason", reason), id_);
}

void HttpConnection::OnHandlesClosed() {
  server_->OnConnectionClosed(this);  // deletes this
}

}  // namespace policyd
