#include "server/connection.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "core/log_text.h"
#include "core/reply_template.h"
#include "core/sender_stamp.h"
#include "log/log.h"
#include "server/server.h"
#include "store/wall_clock.h"

namespace policyd {
namespace {

// A client that starts a request must finish it; Postfix writes a whole request at once, so
// only a broken or hostile client (slow-loris) ever waits here. A shorter idle_timeout caps it:
// a half-sent request is no more deserving than an idle connection.
constexpr uint64_t kPartialRequestTimeoutMs = 30 * 1000;

uint64_t PartialRequestTimeoutMs(uint64_t idle_timeout_ms) {
  if (idle_timeout_ms == 0) return kPartialRequestTimeoutMs;
  return std::min(kPartialRequestTimeoutMs, idle_timeout_ms);
}

std::string PeerName(int fd, bool is_unix) {
  if (is_unix) return "unix";
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof host);
    port = ntohs(sa->sin6_port);
    return fmt::format("[{}]:{}", host, port);
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &sa->sin_addr, host, sizeof host);
  port = ntohs(sa->sin_port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace

Connection::Connection(Server* server, uint64_t id, int fd, bool is_unix)
    : StreamConnection(id, fd, is_unix),
      server_(server),
      parser_(server->config()->server.parser),
      peer_(PeerName(fd, is_unix)) {}

bool Connection::Start() {
  if (!OpenHandles(server_->loop(), this)) return false;
  if (!is_unix_) uv_tcp_nodelay(&sock_.tcp, 1);
  ResumeReading();
  ArmTimer(server_->config()->server.idle_timeout_ms);
  return true;
}

void Connection::ResumeReading() {
  if (reading_ || peer_closed_ || state_ == State::kClosing) return;
  reading_ = uv_read_start(&sock_.stream, &Connection::OnAlloc, &Connection::OnRead) == 0;
}

void Connection::StopReading() {
  if (!reading_) return;
  uv_read_stop(&sock_.stream);
  reading_ = false;
}

void Connection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  // One loop-wide buffer: libuv calls OnRead right after, and OnRead copies what it needs, so
  // 10,000 idle connections hold no read buffers.
  auto* self = static_cast<Connection*>(handle->data);
  auto& scratch = self->server_->read_buffer();
  *buf = uv_buf_init(scratch.data(), static_cast<unsigned>(scratch.size()));
}

void Connection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread == 0) return;
  if (nread < 0) {
    if (nread == UV_EOF && self->state_ != State::kReading) {
      // A client that sent its request and shut down its side still gets the reply.
      self->StopReading();
      self->peer_closed_ = true;
    } else if (nread == UV_EOF) {
      // Postfix closes idle policy connections after max_idle/max_ttl: the normal end.
      self->Close(self->in_.size() > self->in_offset_ ? "client closed mid-request"
                                                      : "client closed");
    } else {
      self->Close(fmt::format("read error: {}", uv_strerror(static_cast<int>(nread))));
    }
    return;
  }
  std::string_view data(buf->base, static_cast<size_t>(nread));
  if (self->state_ == State::kReading && self->in_offset_ == self->in_.size()) {
    self->ReadInPlace(data);
    return;
  }
  self->in_.append(data);
  if (self->state_ == State::kReading) {
    self->ProcessInput();
  } else if (self->in_.size() - self->in_offset_ > self->parser_.limits().max_request_bytes) {
    self->StopReading();  // a pipelining client waits in the kernel, not in our memory
  }
}

void Connection::ReadInPlace(std::string_view data) {
  // Nothing is buffered (the usual case: Postfix waits for each reply), so the request is
  // parsed where libuv read it, in the loop's buffer, and an idle connection keeps no copy.
  // Bytes after the first request go to in_ before it runs: its reply may come synchronously
  // and read on from in_.
  std::size_t consumed = 0;
  RequestParser::Status status = parser_.Feed(data, &consumed);
  if (status == RequestParser::Status::kError) {
    Close(fmt::format("bad request: {} (near {})", parser_.error(),
                      LogSafe(data.substr(0, 256), 64)));
    return;
  }
  in_.assign(data.substr(consumed));
  in_offset_ = 0;
  if (status == RequestParser::Status::kRequest) StartRequest(parser_.TakeRequest());
  ProcessInput();  // pipelined requests, and the deadlines
}

void Connection::ProcessInput() {
  while (state_ == State::kReading) {
    std::string_view pending(in_.data() + in_offset_, in_.size() - in_offset_);
    if (pending.empty()) break;
    std::size_t consumed = 0;
    RequestParser::Status status = parser_.Feed(pending, &consumed);
    in_offset_ += consumed;
    if (status == RequestParser::Status::kError) {
      Close(fmt::format("bad request: {} (near {})", parser_.error(),
                        LogSafe(pending.substr(0, 256), 64)));
      return;
    }
    if (status == RequestParser::Status::kNeedMore) break;
    StartRequest(parser_.TakeRequest());
  }
  // Compact: the parser keeps partial lines itself, so consumed bytes can go.
  if (in_offset_ == in_.size()) {
    in_.clear();
    in_offset_ = 0;
  } else if (in_offset_ > 0 && state_ == State::kReading) {
    in_.erase(0, in_offset_);
    in_offset_ = 0;
  }
  if (state_ == State::kReading) {
    ResumeReading();
    uint64_t idle_ms = server_->config()->server.idle_timeout_ms;
    if (parser_.pending_bytes() == 0) {
      partial_deadline_armed_ = false;
      ArmTimer(idle_ms);
    } else if (!partial_deadline_armed_) {
      // One deadline from the request's first byte, not one per read: re-arming on every
      // read let a client trickling a byte a second hold its connection for hours.
      partial_deadline_armed_ = true;
      ArmTimer(PartialRequestTimeoutMs(idle_ms));
    }
  }
}

void Connection::StartRequest(PolicyRequest request) {
  state_ = State::kAwaitingStore;
  partial_deadline_armed_ = false;
  // Reading goes on (stopping and restarting it cost two epoll_ctl calls per request); OnRead
  // stops it once a pipelining client has more than one request's worth of bytes waiting.
  request_ = std::move(request);
  config_ = server_->config();
  started_ns_ = uv_hrtime();
  uint64_t seq = ++seq_;
  ArmTimer(config_->server.request_timeout_ms);
  DecideOptions options;
  ProtocolState state = request_.State();
  if (state == ProtocolState::kRcpt || state == ProtocolState::kEndOfMessage) {
    recipients_.Begin(request_.Instance());
    if (state == ProtocolState::kEndOfMessage) options.recipients = recipients_.Take();
  }
  server_->Decide(config_, request_, id_, seq, std::move(options));
}

void Connection::OnDecided(uint64_t seq, Result<Verdict> verdict) {
  if (state_ != State::kAwaitingStore || seq != seq_) return;  // answered already
  if (verdict.ok()) {
    if (verdict->action == Action::kDunno && request_.State() == ProtocolState::kRcpt) {
      recipients_.Add(request_.Recipient());
    }
    std::string stamp =
        SenderStampAction(request_, *verdict, *config_, static_cast<uint64_t>(WallClockMs()),
                          &stamped_instance_);
    SendReply(stamp.empty() ? FormatVerdict(*verdict, *config_) : stamp, *verdict, false);
    return;
  }
  POLICYD_LOG_WARN("event=failure_reply {} {} {}", LogField("peer", peer_),
                   LogField("error", verdict.error().message),
                   LogField("action", FailureActionText(*config_)));
  Verdict failure;
  failure.action = Action::kFailure;
  failure.rule = verdict.error().message;
  SendReply(FailureActionText(*config_), failure, true);
}

void Connection::SendReply(const std::string& action_text, const Verdict& verdict, bool failed) {
  uint64_t latency_us = (uv_hrtime() - started_ns_) / 1000;
  server_->RecordDecision(request_, verdict, latency_us, failed);
  if (LogEnabled(LogLevel::kInfo)) {
    LogLine(LogLevel::kInfo,
            fmt::format("event=decision {} {} {} {} {} {} {} latency_us={}",
                        LogField("state", request_.StateName(), 32),
                        LogField("user", request_.SaslUsername()),
                        LogField("sender", request_.Sender()),
                        LogField("recipient", request_.Recipient()),
                        LogField("client", request_.ClientAddress(), 64),
                        LogField("action", action_text, 400), LogField("rule", verdict.rule),
                        latency_us));
  }
  out_ = FormatPolicyReply(action_text);
  state_ = State::kWriting;
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  if (!writing_inline_) {
    // A reply nearly always fits the socket buffer: uv_try_write sends it with one write()
    // where uv_write also re-registers the socket with epoll (an epoll_ctl per reply).
    // A reply sent inline may start the next pipelined request, whose reply then takes
    // uv_write: inline completion nests one level at most.
    int sent = uv_try_write(&sock_.stream, &buf, 1);
    if (sent == static_cast<int>(out_.size())) {
      writing_inline_ = true;
      OnWriteDone(0);
      writing_inline_ = false;
      return;
    }
    if (sent < 0 && sent != UV_EAGAIN) {
      Close(fmt::format("write failed: {}", uv_strerror(sent)));
      return;
    }
    if (sent > 0) {
      out_.erase(0, static_cast<std::size_t>(sent));
      buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    }
  }
  ArmTimer(config_->server.idle_timeout_ms);
  // Allocated the first time a reply does not fit the socket at once: most connections never
  // need it, and 10,000 idle connections need not hold one each.
  if (!write_req_) write_req_ = std::make_unique<uv_write_t>();
  write_req_->data = this;
  int rc = uv_write(write_req_.get(), &sock_.stream, &buf, 1, [](uv_write_t* req, int status) {
    static_cast<Connection*>(req->data)->OnWriteDone(status);
  });
  if (rc != 0) Close(fmt::format("write failed: {}", uv_strerror(rc)));
}

void Connection::OnWriteDone(int status) {
  if (state_ == State::kClosing) return;
  if (status != 0) {
    Close(fmt::format("write failed: {}", uv_strerror(status)));
    return;
  }
  request_ = PolicyRequest();
  config_.reset();
  if (draining_) {
    Close("shutdown");
    return;
  }
  state_ = State::kReading;
  if (peer_closed_) {
    // Answer what the client pipelined before its shutdown, then close.
    ProcessInput();
    if (state_ == State::kReading) {
      Close(parser_.pending_bytes() > 0 ? "client closed mid-request" : "client closed");
    }
    return;
  }
  ProcessInput();  // a pipelined request may be waiting in the buffer
}

void Connection::ArmTimer(uint64_t ms) {
  if (ms == 0) {
    uv_timer_stop(&timer_);
    return;
  }
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->OnTimer(); }, ms,
                 0);
}

void Connection::OnTimer() {
  switch (state_) {
    case State::kReading:
      Close(parser_.pending_bytes() > 0 ? "request not completed in time" : "idle timeout");
      return;
    case State::kAwaitingStore:
      // Backstop for the store's own deadline: Postfix must never wait past request_timeout.
      ++seq_;
      OnDecided(seq_, Error{ErrorCode::kTimeout, "no decision within request_timeout"});
      return;
    case State::kWriting:
      Close("client does not read its replies");
      return;
    case State::kClosing:
      return;
  }
}

void Connection::Drain() {
  draining_ = true;
  if (state_ == State::kReading && parser_.pending_bytes() == 0 && in_offset_ == in_.size()) {
    Close("shutdown");
  }
}

void Connection::OnClose(std::string_view reason) {
  state_ = State::kClosing;
  POLICYD_LOG_INFO("event=close {} {} conn={}", LogField("peer", peer_), LogField("reason", reason),
                   id_);
}

void Connection::OnHandlesClosed() {
  server_->OnConnectionClosed(this);  // deletes this
}

}  // namespace policyd
