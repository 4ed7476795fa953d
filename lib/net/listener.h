// One listening socket (TCP v4/v6 or unix) polled on a libuv loop. We own accept() instead of
// using uv_listen so that admission is ours: at the connection limit, or when accept fails
// with EMFILE/ENFILE, the listener stops polling (the kernel backlog holds new clients) rather
// than spinning or accepting-and-dropping, and resumes when a slot frees or after a pause.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "core/listen_address.h"
#include "core/result.h"

namespace policyd {

class Listener {
 public:
  // can_accept() is asked before every accept; on_accept(fd) takes ownership of a
  // non-blocking, close-on-exec client socket.
  Listener(uv_loop_t* loop, ListenAddress address, std::function<bool()> can_accept,
           std::function<void(int fd)> on_accept);
  ~Listener();  // REQUIRES: Close() done
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and listens. An existing unix socket file is replaced (a stale one from a crash
  // would otherwise stop a restart); its mode becomes 0666 so Postfix's smtpd can connect.
  Status Open(bool reuse_port = false);
  // Accepting again after a Pause or a refused admission; harmless when already polling.
  void Resume();
  void Close(std::function<void()> done);

 private:
  void OnReadable();
  void Pause(uint64_t retry_ms);  // retry_ms 0: until Resume()
  void OnHandlesClosed();         // after Close(): frees the socket (and the unix path)

  uv_loop_t* loop_;
  ListenAddress address_;
  std::function<bool()> can_accept_;
  std::function<void(int)> on_accept_;
  int fd_ = -1;
  bool polling_ = false;
  bool closing_ = false;
  int open_handles_ = 0;
  uv_poll_t poll_;
  uv_timer_t retry_timer_;
  std::function<void()> close_done_;
  uint64_t emfile_logged_ms_ = 0;
};

}  // namespace policyd
