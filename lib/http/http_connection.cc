#include "http/http_connection.h"

#include <unistd.h>

#include "http/http_server.h"
#include "log/log.h"

namespace policyd {
namespace {

http_parser_settings MakeSettings();
const http_parser_settings kSettings = MakeSettings();

}  // namespace

HttpConnection::HttpConnection(HttpServer* server, uint64_t id, int fd, bool is_unix)
    : server_(server), id_(id), fd_(fd), is_unix_(is_unix) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

bool HttpConnection::Start() {
  uv_loop_t* loop = server_->loop();
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  open_handles_ = 1;
  int rc = is_unix_ ? uv_pipe_init(loop, &sock_.pipe, 0) : uv_tcp_init(loop, &sock_.tcp);
  if (rc == 0) {
    sock_.handle.data = this;
    ++open_handles_;
    rc = is_unix_ ? uv_pipe_open(&sock_.pipe, fd_) : uv_tcp_open(&sock_.tcp, fd_);
  }
  if (rc != 0) {
    ::close(fd_);
    Close("cannot use socket");
    return false;
  }
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
  std::size_t parsed = http_parser_execute(&parser_, &kSettings, data, len);
  if (state_ != State::kReading) return;  // a callback responded or failed
  if (too_large_) return;
  if (parsed != len || HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
    Fail(400, http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
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

void HttpConnection::Close(std::string_view reason) {
  if (state_ == State::kClosing) return;
  state_ = State::kClosing;
  POLICYD_LOG_DEBUG("event=http_close {} conn={}", LogField("reason", reason), id_);
  auto on_closed = [](uv_handle_t* h) {
    auto* self = static_cast<HttpConnection*>(h->data);
    if (--self->open_handles_ == 0) self->server_->OnConnectionClosed(self);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
  if (open_handles_ == 2) uv_close(&sock_.handle, on_closed);
}

// --- http-parser callbacks: collect with bounds, hand the request over when complete. ---

int HttpConnection::OnUrl(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpConnection*>(p->data);
  self->header_bytes_ += len;
  if (self->header_bytes_ > self->server_->config().http.max_header_bytes) {
    self->too_large_ = true;
    self->Fail(431, "request line and headers too large");
    return 1;
  }
  self->url_.append(at, len);
  return 0;
}

int HttpConnection::OnHeaderField(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpConnection*>(p->data);
  if (self->in_value_) {
    self->request_.headers.emplace(self->field_, self->value_);
    self->field_.clear();
    self->value_.clear();
    self->in_value_ = false;
  }
  self->header_bytes_ += len;
  if (self->header_bytes_ > self->server_->config().http.max_header_bytes) {
    self->too_large_ = true;
    self->Fail(431, "request line and headers too large");
    return 1;
  }
  for (size_t i = 0; i < len; ++i) {
    char c = at[i];
    self->field_ += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return 0;
}

int HttpConnection::OnHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpConnection*>(p->data);
  self->in_value_ = true;
  self->header_bytes_ += len;
  if (self->header_bytes_ > self->server_->config().http.max_header_bytes) {
    self->too_large_ = true;
    self->Fail(431, "request line and headers too large");
    return 1;
  }
  self->value_.append(at, len);
  return 0;
}

int HttpConnection::OnHeadersComplete(http_parser* p) {
  auto* self = static_cast<HttpConnection*>(p->data);
  if (self->in_value_) self->request_.headers.emplace(self->field_, self->value_);
  if (p->content_length != ULLONG_MAX &&
      p->content_length > self->server_->config().http.max_body_bytes) {
    self->too_large_ = true;
    self->Fail(413, "body too large");
    return -1;  // 1 would mean 'no body' to http-parser, not an error
  }
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(self->url_.data(), self->url_.size(), 0, &u) != 0) {
    self->Fail(400, "bad request target");
    return -1;  // 1 would mean 'no body' to http-parser, not an error
  }
  if (u.field_set & (1 << UF_PATH)) {
    self->request_.path = self->url_.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  }
  if (u.field_set & (1 << UF_QUERY)) {
    self->request_.query =
        self->url_.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
  }
  self->request_.method = http_method_str(static_cast<http_method>(p->method));
  return 0;
}

int HttpConnection::OnBody(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpConnection*>(p->data);
  if (self->request_.body.size() + len > self->server_->config().http.max_body_bytes) {
    self->too_large_ = true;
    self->Fail(413, "body too large");
    return 1;
  }
  self->request_.body.append(at, len);
  return 0;
}

int HttpConnection::OnMessageComplete(http_parser* p) {
  auto* self = static_cast<HttpConnection*>(p->data);
  if (self->state_ != State::kReading) return -1;
  self->state_ = State::kHandling;
  self->server_->Handle(self->id_, std::move(self->request_));
  return 1;  // stop parsing: one request per connection
}

namespace {

http_parser_settings MakeSettings() {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_url = &HttpConnection::OnUrl;
  s.on_header_field = &HttpConnection::OnHeaderField;
  s.on_header_value = &HttpConnection::OnHeaderValue;
  s.on_headers_complete = &HttpConnection::OnHeadersComplete;
  s.on_body = &HttpConnection::OnBody;
  s.on_message_complete = &HttpConnection::OnMessageComplete;
  return s;
}

}  // namespace

}  // namespace policyd
