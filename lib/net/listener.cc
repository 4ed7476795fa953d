#include "net/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log.h"
#include "net/handle_close.h"

namespace policyd {
namespace {

constexpr int kBacklog = 1024;
constexpr int kAcceptsPerWakeup = 64;  // fairness with the rest of the loop
constexpr uint64_t kEmfilePauseMs = 100;

Error SocketError(const ListenAddress& a, std::string_view what) {
  return Error{ErrorCode::kUnavailable,
               fmt::format("listen {}: {}: {}", a.Describe(), what, std::strerror(errno))};
}

}  // namespace

Listener::Listener(uv_loop_t* loop, ListenAddress address, std::function<bool()> can_accept,
                   std::function<void(int)> on_accept)
    : loop_(loop),
      address_(std::move(address)),
      can_accept_(std::move(can_accept)),
      on_accept_(std::move(on_accept)) {}

Listener::~Listener() {
  if (fd_ >= 0 && open_handles_ == 0) ::close(fd_);
}

Status Listener::Open(bool reuse_port) {
  int fd = -1;
  if (address_.IsUnix()) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return SocketError(address_, "socket");
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, address_.unix_path.c_str(), sizeof(sa.sun_path) - 1);
    ::unlink(address_.unix_path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      Error e = SocketError(address_, "bind");
      ::close(fd);
      return e;
    }
    ::chmod(address_.unix_path.c_str(), 0666);
  } else {
    bool v6 = address_.IsIpv6();
    fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return SocketError(address_, "socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
      sa->sin6_family = AF_INET6;
      sa->sin6_port = htons(address_.port);
      inet_pton(AF_INET6, address_.host.c_str(), &sa->sin6_addr);
      len = sizeof *sa;
    } else {
      auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
      sa->sin_family = AF_INET;
      sa->sin_port = htons(address_.port);
      inet_pton(AF_INET, address_.host.c_str(), &sa->sin_addr);
      len = sizeof *sa;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      Error e = SocketError(address_, "bind");
      ::close(fd);
      return e;
    }
  }
  if (::listen(fd, kBacklog) != 0) {
    Error e = SocketError(address_, "listen");
    ::close(fd);
    return e;
  }
  fd_ = fd;
  uv_poll_init(loop_, &poll_, fd_);
  uv_timer_init(loop_, &retry_timer_);
  poll_.data = retry_timer_.data = this;
  open_handles_ = 2;
  Resume();
  return Ok{};
}

void Listener::Resume() {
  if (closing_ || fd_ < 0 || polling_) return;
  uv_timer_stop(&retry_timer_);
  polling_ = true;
  uv_poll_start(&poll_, UV_READABLE, [](uv_poll_t* p, int status, int) {
    if (status == 0) static_cast<Listener*>(p->data)->OnReadable();
  });
}

void Listener::Pause(uint64_t retry_ms) {
  if (!polling_) return;
  polling_ = false;
  uv_poll_stop(&poll_);
  if (retry_ms > 0) {
    uv_timer_start(
        &retry_timer_, [](uv_timer_t* t) { static_cast<Listener*>(t->data)->Resume(); },
        retry_ms, 0);
  }
}

void Listener::OnReadable() {
  for (int i = 0; i < kAcceptsPerWakeup && polling_; ++i) {
    if (!can_accept_()) {
      Pause(0);  // the server calls Resume() when a connection closes
      return;
    }
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accept_(fd);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      uint64_t now = uv_now(loop_);
      if (now - emfile_logged_ms_ >= 1000) {  // one line a second, not one per attempt
        POLICYD_LOG_ERROR("event=accept_paused {} {} pause_ms={}",
                          LogField("listen", address_.Describe()),
                          LogField("error", std::strerror(errno)), kEmfilePauseMs);
        emfile_logged_ms_ = now;
      }
      Pause(kEmfilePauseMs);
      return;
    }
    POLICYD_LOG_ERROR("event=accept_failed {} {}", LogField("listen", address_.Describe()),
                      LogField("error", std::strerror(errno)));
    return;
  }
}

void Listener::Close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  close_done_ = std::move(done);
  if (open_handles_ == 0) {
    if (close_done_) close_done_();
    return;
  }
  CloseCounted<&Listener::open_handles_, &Listener::OnHandlesClosed>(&poll_);
  CloseCounted<&Listener::open_handles_, &Listener::OnHandlesClosed>(&retry_timer_);
}

void Listener::OnHandlesClosed() {
  ::close(fd_);
  if (address_.IsUnix()) ::unlink(address_.unix_path.c_str());
  fd_ = -1;
  if (close_done_) close_done_();
}

}  // namespace policyd
