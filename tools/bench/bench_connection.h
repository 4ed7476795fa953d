// One policyd-bench client connection: a TCP or unix stream that carries one request at a
// time, as a Postfix smtpd's policy connection does. It only does I/O; what to send and when
// is its owner's (LoadRun's) business, told through ConnectionOwner. States:
//
//   kIdle --Connect()--> kConnecting --ok--> kReady --Send()--> kAwaiting --reply--> kReady
//     ^                       |fail                               |error/Abort()
//     +------- OnClosed <-- kClosing <----------------------------+
//
// A failed connect, a closed or broken stream and Abort() all end in OnClosed(), after which
// the owner may Connect() again. The handle lives inside this object, so it must outlive the
// close callback (the owner never deletes a connection that is not kIdle).
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/listen_address.h"
#include "net/stream_socket.h"

namespace policyd::bench {

class BenchConnection;

class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  virtual void OnConnected(BenchConnection* c) = 0;
  // A complete reply to the request in flight; label as ReplyLabel gives it.
  virtual void OnReply(BenchConnection* c, std::string_view label) = 0;
  // The connection failed ("connect", "closed", "bad_reply", "write") or was aborted
  // (reason ""), and its handle is closed: it is kIdle again.
  virtual void OnClosed(BenchConnection* c, const char* reason) = 0;
  // One shared read buffer for every connection (10,000 idle connections hold none).
  virtual uv_buf_t ReadBuffer() = 0;
};

class BenchConnection {
 public:
  enum class State { kIdle, kConnecting, kReady, kAwaiting, kClosing };

  BenchConnection(uv_loop_t* loop, const ListenAddress* target, ConnectionOwner* owner,
                  uint64_t index);
  BenchConnection(const BenchConnection&) = delete;
  BenchConnection& operator=(const BenchConnection&) = delete;

  // REQUIRES: kIdle.
  void Connect();
  // Sends one complete request. REQUIRES: kReady. The bytes are copied.
  void Send(std::string_view request);
  // Closes the connection (a timed-out request: reason "timeout"; the end of the run: "");
  // OnClosed follows with that reason unless a failure is already being reported.
  void Abort(const char* reason = "");

  State state() const { return state_; }
  uint64_t index() const { return index_; }

 private:
  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  void Consume(std::string_view data);
  void Fail(const char* reason);

  uv_loop_t* loop_;
  const ListenAddress* target_;
  ConnectionOwner* owner_;
  uint64_t index_;
  State state_ = State::kIdle;
  const char* close_reason_ = "";
  StreamSocket sock_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  bool writing_ = false;  // uv_write in progress: out_ must stay untouched
  std::string out_;       // request bytes not yet accepted by the kernel
  std::string in_;        // a partial reply
};

}  // namespace policyd::bench
