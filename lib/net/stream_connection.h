// The libuv side of one accepted stream connection, shared by the policy protocol's
// Connection and the HTTP side's HttpConnection: the socket (TCP or unix), one timer, and
// Close(reason), which closes both exactly once and calls OnHandlesClosed() when libuv has let
// go of them; only then may the owner delete the object. What the bytes mean, and what the
// timer is for, is the subclass's business.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string_view>

#include "net/stream_socket.h"

namespace policyd {

class StreamConnection {
 public:
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  // Idempotent: the first call runs OnClose(reason) and closes the handles.
  void Close(std::string_view reason);
  uint64_t id() const { return id_; }  // the owner's key for this connection

 protected:
  // Takes ownership of fd (non-blocking, from Listener).
  StreamConnection(uint64_t id, int fd, bool is_unix) : id_(id), fd_(fd), is_unix_(is_unix) {}
  virtual ~StreamConnection() = default;

  // Initialises the timer and wraps the fd; each handle's data is `self` (the subclass, for
  // its own callbacks). False if libuv refused the socket: the fd is closed and the connection
  // is already closing with the reason "cannot use socket: ...".
  bool OpenHandles(uv_loop_t* loop, void* self);
  // The first Close(): log the reason, update the subclass's state.
  virtual void OnClose(std::string_view reason) = 0;
  // Every handle is closed; the owner may now delete this object.
  virtual void OnHandlesClosed() = 0;

  uint64_t id_;
  int fd_;
  bool is_unix_;
  StreamSocket sock_;
  uv_timer_t timer_;  // the subclass's deadlines

 private:
  bool closing_ = false;
  int open_handles_ = 0;
};

}  // namespace policyd
