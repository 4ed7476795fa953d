// One HTTP/1.1 POST on a libuv loop, for webhook deliveries: resolve (getaddrinfo unless the
// host is an address), connect, write the request, read until the response's status line and
// headers have arrived (core/http_client_wire.h parses them), close. One deadline covers it
// all. The connection is never reused ("Connection: close"): deliveries are rare, and a fresh
// connection per attempt has no state to go stale.
//
// Lifetime: Start() allocates; the object frees itself after `done` has run (or after Abort())
// and its last libuv handle and request have called back. `done` runs at most once, on the
// loop's thread, never inside Start() (a failure to even start is reported from the timer).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/http_client_wire.h"

namespace policyd {

class HttpPost {
 public:
  // status: the response's status code, or 0 with `error` saying what failed (resolve,
  // connect, write, timeout, malformed response).
  using Done = std::function<void(int status, const std::string& error)>;

  // `request` is the whole request (FormatHttpPost). The returned pointer is valid until
  // `done` runs or Abort() is called, whichever is first.
  static HttpPost* Start(uv_loop_t* loop, const HttpUrl& url, std::string request,
                         uint64_t timeout_ms, Done done);

  // Gives up without calling `done` (shutdown); the object frees itself once closed.
  void Abort();

 private:
  HttpPost(uv_loop_t* loop, HttpUrl url, std::string request, Done done);
  HttpPost(const HttpPost&) = delete;
  HttpPost& operator=(const HttpPost&) = delete;

  static void OnTimer(uv_timer_t* timer);
  void FailSoon(std::string error);  // Finish from the timer, out of Start()'s stack
  void Resolve();
  void Connect(const struct sockaddr* address);
  void OnConnected(int status);
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void Finish(int status, const std::string& error);
  void Release();  // one handle or request called back; frees when none is left

  uv_loop_t* loop_;
  HttpUrl url_;
  std::string request_;
  Done done_;
  std::string received_;
  char read_buffer_[4096];
  bool finished_ = false;
  int open_ = 0;  // initialised handles + outstanding requests (getaddrinfo)
  bool tcp_open_ = false;
  bool resolving_ = false;  // a getaddrinfo is outstanding
  std::string failure_;     // FailSoon's error
  uv_timer_t timer_;
  uv_tcp_t tcp_;
  uv_getaddrinfo_t resolve_;
  uv_connect_t connect_;
  uv_write_t write_;
};

}  // namespace policyd
