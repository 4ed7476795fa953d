#include "net/http_post.h"

#include <fmt/format.h>

#include <cstring>

namespace policyd {
namespace {

constexpr size_t kMaxResponseHeadBytes = 16 * 1024;

}  // namespace

HttpPost::HttpPost(uv_loop_t* loop, HttpUrl url, std::string request, Done done)
    : loop_(loop), url_(std::move(url)), request_(std::move(request)), done_(std::move(done)) {}

HttpPost* HttpPost::Start(uv_loop_t* loop, const HttpUrl& url, std::string request,
                          uint64_t timeout_ms, Done done) {
  auto* post = new HttpPost(loop, url, std::move(request), std::move(done));
  uv_timer_init(loop, &post->timer_);
  post->timer_.data = post;
  ++post->open_;
  uv_timer_start(&post->timer_, &HttpPost::OnTimer, timeout_ms, 0);
  post->Resolve();
  return post;
}

void HttpPost::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<HttpPost*>(timer->data);
  self->Finish(0, self->failure_.empty() ? "timed out" : self->failure_);
}

void HttpPost::FailSoon(std::string error) {
  failure_ = std::move(error);
  uv_timer_start(&timer_, &HttpPost::OnTimer, 0, 0);
}

void HttpPost::Resolve() {
  sockaddr_storage address{};
  auto* sa = reinterpret_cast<sockaddr*>(&address);
  if (uv_ip4_addr(url_.host.c_str(), url_.port, reinterpret_cast<sockaddr_in*>(sa)) == 0 ||
      uv_ip6_addr(url_.host.c_str(), url_.port, reinterpret_cast<sockaddr_in6*>(sa)) == 0) {
    Connect(sa);
    return;
  }
  resolve_.data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(url_.port);
  int rc = uv_getaddrinfo(
      loop_, &resolve_,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        auto* self = static_cast<HttpPost*>(req->data);
        self->resolving_ = false;
        if (!self->finished_) {
          if (status != 0 || !res) {
            self->Finish(0, fmt::format("resolving {}: {}", self->url_.host, uv_strerror(status)));
          } else {
            self->Connect(res->ai_addr);
          }
        }
        uv_freeaddrinfo(res);
        self->Release();
      },
      url_.host.c_str(), port.c_str(), &hints);
  if (rc != 0) return FailSoon(fmt::format("resolving {}: {}", url_.host, uv_strerror(rc)));
  resolving_ = true;
  ++open_;
}

void HttpPost::Connect(const sockaddr* address) {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  tcp_open_ = true;
  ++open_;
  connect_.data = this;
  int rc = uv_tcp_connect(&connect_, &tcp_, address, [](uv_connect_t* req, int status) {
    static_cast<HttpPost*>(req->data)->OnConnected(status);
  });
  if (rc != 0) FailSoon(fmt::format("connecting: {}", uv_strerror(rc)));
}

void HttpPost::OnConnected(int status) {
  if (finished_) return;  // closing: the connect was cancelled
  if (status != 0) return Finish(0, fmt::format("connecting: {}", uv_strerror(status)));
  uv_buf_t buf = uv_buf_init(request_.data(), static_cast<unsigned>(request_.size()));
  write_.data = this;
  int rc = uv_write(&write_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
                    [](uv_write_t* req, int status) {
                      auto* self = static_cast<HttpPost*>(req->data);
                      if (status != 0 && !self->finished_) {
                        self->Finish(0, fmt::format("sending: {}", uv_strerror(status)));
                      }
                    });
  if (rc != 0) return Finish(0, fmt::format("sending: {}", uv_strerror(rc)));
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<HttpPost*>(h->data);
        *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<HttpPost*>(s->data)->OnRead(nread, buf);
      });
}

void HttpPost::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (finished_) return;
  if (nread < 0) {
    return Finish(0, nread == UV_EOF ? "connection closed before a response"
                                     : fmt::format("reading: {}", uv_strerror(int(nread))));
  }
  received_.append(buf->base, static_cast<size_t>(nread));
  HttpResponseHead head = ParseHttpResponseHead(received_, kMaxResponseHeadBytes);
  if (head.state == HttpResponseHead::State::kDone) return Finish(head.status, "");
  if (head.state == HttpResponseHead::State::kError) return Finish(0, head.error);
}

void HttpPost::Finish(int status, const std::string& error) {
  if (finished_) return;
  finished_ = true;
  Done done = std::move(done_);
  done_ = nullptr;
  // Close first: `done` may start the next attempt, which must not find this one open.
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { static_cast<HttpPost*>(h->data)->Release(); });
  if (tcp_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
             [](uv_handle_t* h) { static_cast<HttpPost*>(h->data)->Release(); });
  }
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));
  if (done) done(status, error);
}

void HttpPost::Abort() {
  done_ = nullptr;
  Finish(0, "aborted");
}

void HttpPost::Release() {
  if (--open_ == 0) delete this;
}

}  // namespace policyd
