// One client connection speaking the policy protocol (STYLE §5):
//
//   kReading --request parsed--> kAwaitingStore --verdict | error | deadline--> kWriting
//      ^  (parse error, idle, EOF -> Close(reason))                                  |
//      +---- write done: another complete request buffered? handle it : read more ---+
//
// At most one request is in flight, so replies go out in request order even when a client
// pipelines. Reading goes on while one is in flight (stopping and restarting it would cost two
// syscalls per request) until more than max_request_bytes wait unparsed; then we stop reading,
// so the buffer stays bounded and a pipelining client waits in the kernel. Store completions find the connection through Server::Find(id) and
// carry the request's sequence number, so a late reply for a connection that is gone, or for
// a request already answered by the deadline fallback, is dropped.
// A request must arrive whole within 30 s of its first byte (or idle_timeout, if shorter),
// however slowly its bytes trickle in.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/policy_request.h"
#include "core/request_parser.h"
#include "core/transaction_recipients.h"
#include "core/verdict.h"
#include "net/stream_connection.h"

namespace policyd {

class Server;

class Connection : public StreamConnection {
 public:
  // Takes ownership of fd. Call Start() next; the Server owns the object and deletes it once
  // every libuv handle is closed (OnHandlesClosed).
  Connection(Server* server, uint64_t id, int fd, bool is_unix);

  // False if libuv refused the socket; the connection is then already closing.
  bool Start();
  // Shutdown: close now if idle, else after the in-flight reply is written.
  void Drain();

  // The store's answer for request `seq`, or an error (-> [failure] reply).
  void OnDecided(uint64_t seq, Result<Verdict> verdict);

  const std::string& peer() const { return peer_; }

 private:
  enum class State { kReading, kAwaitingStore, kWriting, kClosing };

  void ReadInPlace(std::string_view data);
  void ProcessInput();
  void StartRequest(PolicyRequest request);
  void SendReply(const std::string& action_text, const Verdict& verdict, bool failed);
  void ArmTimer(uint64_t ms);
  void OnTimer();
  void OnWriteDone(int status);
  void OnClose(std::string_view reason) override;  // logs the reason once with the peer
  void OnHandlesClosed() override;
  void ResumeReading();
  void StopReading();

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  Server* server_;
  State state_ = State::kReading;
  bool reading_ = false;
  bool draining_ = false;
  bool peer_closed_ = false;  // EOF seen while a request was in flight
  bool partial_deadline_armed_ = false;  // the current partial request's deadline is running
  bool writing_inline_ = false;  // inside OnWriteDone called by SendReply's uv_try_write
  std::unique_ptr<uv_write_t> write_req_;  // made when a reply first needs uv_write
  std::string in_;             // received bytes not yet parsed, from in_offset_
  std::size_t in_offset_ = 0;
  std::string out_;            // the reply being written
  RequestParser parser_;
  std::string peer_;
  uint64_t seq_ = 0;           // bumps per request; stale store replies are dropped
  // The transaction (instance) whose first accepted RCPT got the sender stamp: later RCPTs
  // of the same message answer DUNNO, so the message carries exactly one stamp.
  std::string stamped_instance_;
  // The recipients answered DUNNO at RCPT in the current transaction, for its
  // END-OF-MESSAGE decision (list-bombing, issue 16).
  TransactionRecipients recipients_;
  PolicyRequest request_;      // the request in flight (for the decision log line)
  std::shared_ptr<const Config> config_;  // snapshot for the request in flight
  uint64_t started_ns_ = 0;
};

}  // namespace policyd
