#include "bench/bench_connection.h"

#include <sys/socket.h>

#include "bench/reply.h"

namespace policyd::bench {

BenchConnection::BenchConnection(uv_loop_t* loop, const ListenAddress* target,
                                 ConnectionOwner* owner, uint64_t index)
    : loop_(loop), target_(target), owner_(owner), index_(index) {}

void BenchConnection::Connect() {
  state_ = State::kConnecting;
  close_reason_ = "";
  in_.clear();
  out_.clear();
  connect_req_.data = this;
  int rc;
  if (target_->IsUnix()) {
    uv_pipe_init(loop_, &sock_.pipe, 0);
    sock_.handle.data = this;
    uv_pipe_connect(&connect_req_, &sock_.pipe, target_->unix_path.c_str(), &OnConnect);
    return;
  }
  uv_tcp_init(loop_, &sock_.tcp);
  sock_.handle.data = this;
  sockaddr_storage addr{};
  if (target_->IsIpv6()) {
    uv_ip6_addr(target_->host.c_str(), target_->port, reinterpret_cast<sockaddr_in6*>(&addr));
  } else {
    uv_ip4_addr(target_->host.c_str(), target_->port, reinterpret_cast<sockaddr_in*>(&addr));
  }
  rc = uv_tcp_connect(&connect_req_, &sock_.tcp, reinterpret_cast<sockaddr*>(&addr), &OnConnect);
  if (rc != 0) Fail("connect");
}

void BenchConnection::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<BenchConnection*>(req->data);
  if (self->state_ != State::kConnecting) return;  // aborted meanwhile
  if (status != 0) return self->Fail("connect");
  if (!self->target_->IsUnix()) uv_tcp_nodelay(&self->sock_.tcp, 1);
  if (uv_read_start(&self->sock_.stream, &OnAlloc, &OnRead) != 0) return self->Fail("connect");
  self->state_ = State::kReady;
  self->owner_->OnConnected(self);
}

void BenchConnection::Send(std::string_view request) {
  state_ = State::kAwaiting;
  // Most requests fit the socket buffer at once: no write request, no copy kept.
  uv_buf_t buf = uv_buf_init(const_cast<char*>(request.data()),
                             static_cast<unsigned>(request.size()));
  int n = uv_try_write(&sock_.stream, &buf, 1);
  if (n == static_cast<int>(request.size())) return;
  if (n < 0 && n != UV_EAGAIN) return Fail("write");
  out_.assign(request.substr(n < 0 ? 0 : static_cast<std::size_t>(n)));
  buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  write_req_.data = this;
  writing_ = true;
  if (uv_write(&write_req_, &sock_.stream, &buf, 1, &OnWrite) != 0) {
    writing_ = false;
    Fail("write");
  }
}

void BenchConnection::OnWrite(uv_write_t* req, int status) {
  auto* self = static_cast<BenchConnection*>(req->data);
  self->writing_ = false;
  self->out_.clear();
  if (status != 0 && status != UV_ECANCELED) self->Fail("write");
}

void BenchConnection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  *buf = static_cast<BenchConnection*>(handle->data)->owner_->ReadBuffer();
}

void BenchConnection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<BenchConnection*>(stream->data);
  if (nread == 0 || self->state_ == State::kClosing) return;
  if (nread < 0) return self->Fail("closed");
  self->Consume(std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

void BenchConnection::Consume(std::string_view data) {
  // Fast path: the whole reply in one read, nothing buffered before it.
  std::string_view pending = data;
  if (!in_.empty()) {
    in_.append(data);
    pending = in_;
  }
  std::string label;
  std::size_t consumed = 0;
  switch (ParseReply(pending, &label, &consumed)) {
    case ReplyStatus::kNeedMore:
      if (in_.empty()) in_.assign(data);
      return;
    case ReplyStatus::kBad:
      return Fail("bad_reply");
    case ReplyStatus::kReply:
      break;
  }
  // One request in flight: anything after its reply is a reply to nothing.
  if (consumed != pending.size() || state_ != State::kAwaiting) return Fail("bad_reply");
  in_.clear();
  state_ = State::kReady;
  owner_->OnReply(this, label);
}

void BenchConnection::Abort(const char* reason) {
  if (state_ == State::kIdle || state_ == State::kClosing) return;
  Fail(reason);
}

void BenchConnection::Fail(const char* reason) {
  if (state_ == State::kClosing || state_ == State::kIdle) return;
  state_ = State::kClosing;
  close_reason_ = reason;
  uv_close(&sock_.handle, [](uv_handle_t* h) {
    auto* self = static_cast<BenchConnection*>(h->data);
    self->state_ = State::kIdle;
    self->writing_ = false;
    self->owner_->OnClosed(self, self->close_reason_);
  });
}

}  // namespace policyd::bench
