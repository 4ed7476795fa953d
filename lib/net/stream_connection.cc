#include "net/stream_connection.h"

#include <unistd.h>

#include <string>

#include "net/handle_close.h"

namespace policyd {

bool StreamConnection::OpenHandles(uv_loop_t* loop, void* self) {
  uv_timer_init(loop, &timer_);
  timer_.data = self;
  open_handles_ = 1;
  int rc = OpenAcceptedSocket(loop, &sock_, fd_, is_unix_, self, &open_handles_);
  if (rc != 0) {
    ::close(fd_);  // libuv never took the fd
    Close(std::string("cannot use socket: ") + uv_strerror(rc));
    return false;
  }
  return true;
}

void StreamConnection::Close(std::string_view reason) {
  if (closing_) return;
  closing_ = true;
  OnClose(reason);
  // From here the close callbacks find this base, whatever the subclass's callbacks used.
  timer_.data = sock_.handle.data = this;
  bool socket_open = open_handles_ == 2;
  CloseCounted<&StreamConnection::open_handles_, &StreamConnection::OnHandlesClosed>(&timer_);
  if (socket_open) {
    CloseCounted<&StreamConnection::open_handles_, &StreamConnection::OnHandlesClosed>(&sock_);
  }
}

}  // namespace policyd
