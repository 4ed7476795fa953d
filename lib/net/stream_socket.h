#pragma once
// Header-only so that policyd-bench's client connections share it without linking the server.

#include <uv.h>

namespace policyd {

// The handle of one stream connection over TCP or a unix socket: storage for either, viewed as
// the stream or handle libuv's generic calls take.
union StreamSocket {
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  uv_stream_t stream;
  uv_handle_t handle;
};

// Wraps an accepted fd in `sock`, owned by `data`. Returns 0 or a libuv error; `open_handles`
// counts the handle as soon as it is initialised, since from then on only uv_close frees it.
// On an error the fd is not libuv's: the caller closes it.
inline int OpenAcceptedSocket(uv_loop_t* loop, StreamSocket* sock, int fd, bool is_unix,
                              void* data, int* open_handles) {
  int rc = is_unix ? uv_pipe_init(loop, &sock->pipe, 0) : uv_tcp_init(loop, &sock->tcp);
  if (rc != 0) return rc;
  sock->handle.data = data;
  ++*open_handles;
  return is_unix ? uv_pipe_open(&sock->pipe, fd) : uv_tcp_open(&sock->tcp, fd);
}

}  // namespace policyd
