#include "store/redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <string_view>
#include <cassert>

#include "log/log.h"
#include "net/handle_close.h"
#include "store/redis_uv_adapter.h"

namespace policyd {

// One command in flight. Owned by hiredis's callback list: hiredis calls OnReply exactly once
// per command (with NULL when the context is freed), and that is where it is deleted. A
// command that reached its deadline keeps its entry with an empty callback until then.
struct RedisClient::Pending {
  RedisClient* client;
  Callback callback;
  uint64_t sent_ms;
  uint64_t deadline_ms;
};

namespace {

RedisValue ToValue(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      v.type = r->type == REDIS_REPLY_STRING   ? RedisValue::Type::kString
               : r->type == REDIS_REPLY_STATUS ? RedisValue::Type::kStatus
                                               : RedisValue::Type::kError;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      v.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(ToValue(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

}  // namespace

RedisClient::RedisClient(uv_loop_t* loop, RedisEndpoint endpoint, RedisClientOptions options)
    : loop_(loop), endpoint_(std::move(endpoint)), options_(options) {
  for (uv_timer_t* t : {&deadline_timer_, &reconnect_timer_, &drop_timer_}) {
    uv_timer_init(loop_, t);
    t->data = this;
    ++open_handles_;
  }
}

RedisClient::~RedisClient() { assert(open_handles_ == 0 && ac_ == nullptr); }

void RedisClient::Start() {
  backoff_ms_ = options_.reconnect_min_ms;
  Connect();
}

void RedisClient::SetState(State state) {
  bool was_ready = state_ == State::kReady;
  state_ = state;
  bool is_ready = state_ == State::kReady;
  if (was_ready != is_ready && ready_listener_) ready_listener_(is_ready);
}

void RedisClient::Connect() {
  if (state_ == State::kStopped) return;
  if (!resolver_) return ConnectNow();
  SetState(State::kConnecting);
  resolver_->Resolve([this](Result<RedisEndpoint> primary) {
    if (state_ == State::kStopped) return;
    if (!primary.ok()) {
      POLICYD_LOG_WARN("event=sentinel_no_primary {}", LogField("error", primary.error().message));
      return ScheduleReconnect();
    }
    if (primary->host != endpoint_.host || primary->port != endpoint_.port) {
      POLICYD_LOG_INFO("event=sentinel_primary {}", LogField("redis", primary->Describe()));
    }
    endpoint_ = std::move(*primary);
    ConnectNow();
  });
}

void RedisClient::ConnectNow() {
  redisAsyncContext* ac =
      endpoint_.IsUnix() ? redisAsyncConnectUnix(endpoint_.unix_path.c_str())
                         : redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  if (ac == nullptr || ac->err) {
    POLICYD_LOG_WARN("event=redis_connect_failed {} {}", LogField("redis", endpoint_.Describe()),
                     LogField("error", ac ? ac->errstr : "out of memory"));
    if (ac) redisAsyncFree(ac);
    ScheduleReconnect();
    return;
  }
  ac_ = ac;
  ac->data = this;
  last_reply_ms_ = uv_now(loop_);
  AttachRedisToLoop(ac, loop_);
  redisAsyncSetConnectCallback(ac, &RedisClient::OnConnected);
  redisAsyncSetDisconnectCallback(ac, &RedisClient::OnDisconnected);
  SetState(State::kConnecting);
  // The handshake replies (or this timer) decide; hiredis 0.14 has no async connect timeout.
  uv_timer_start(
      &reconnect_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<RedisClient*>(t->data);
        if (self->state_ == State::kConnecting) self->Drop("connect/handshake timed out");
      },
      options_.connect_timeout_ms, 0);
  SendHandshake();
}

void RedisClient::SendHandshake() {
  auto step = [this](Result<RedisValue> r) {
    if (state_ != State::kConnecting) return;
    if (!r.ok() || r->IsError()) OnHandshakeDone(std::move(r));
  };
  if (!endpoint_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint_.username.empty()) auth.push_back(endpoint_.username);
    auth.push_back(endpoint_.password);
    Send(std::move(auth), options_.connect_timeout_ms, step);
  }
  if (endpoint_.db != 0) {
    Send({"SELECT", std::to_string(endpoint_.db)}, options_.connect_timeout_ms, step);
  }
  if (resolver_) {
    // Sentinel may still name a primary that was just demoted: only a master will do.
    Send({"ROLE"}, options_.connect_timeout_ms, [this](Result<RedisValue> r) {
      if (state_ != State::kConnecting || !r.ok()) return;
      if (r->elements.empty() || r->elements[0].AsString() != "master") {
        Drop("ROLE is not master");
      }
    });
  }
  Send({"PING"}, options_.connect_timeout_ms, [this](Result<RedisValue> r) {
    if (state_ == State::kConnecting) OnHandshakeDone(std::move(r));
  });
}

void RedisClient::OnHandshakeDone(Result<RedisValue> reply) {
  if (!reply.ok()) {
    Drop("handshake failed: " + reply.error().message);
    return;
  }
  if (reply->IsError()) {
    // Wrong password or db: retrying at the normal pace keeps the log readable.
    Drop("handshake refused: " + reply->str);
    return;
  }
  uv_timer_stop(&reconnect_timer_);
  backoff_ms_ = options_.reconnect_min_ms;
  POLICYD_LOG_INFO("event=redis_ready {}", LogField("redis", endpoint_.Describe()));
  SetState(State::kReady);
}

void RedisClient::OnConnected(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self == nullptr || status == REDIS_OK) return;
  // hiredis frees a context whose connect failed right after this callback.
  self->ac_ = nullptr;
  const_cast<redisAsyncContext*>(ac)->data = nullptr;
  POLICYD_LOG_WARN("event=redis_connect_failed {} {}", LogField("redis", self->endpoint_.Describe()),
                   LogField("error", ac->errstr));
  self->SetState(State::kDisconnected);
  uv_timer_stop(&self->reconnect_timer_);
  self->ScheduleReconnect();
}

void RedisClient::OnDisconnected(const redisAsyncContext* ac, int /*status*/) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self == nullptr) return;  // we dropped it ourselves and already scheduled a reconnect
  self->ac_ = nullptr;
  POLICYD_LOG_WARN("event=redis_disconnected {} {}",
                   LogField("redis", self->endpoint_.Describe()),
                   LogField("error", ac->err ? ac->errstr : "closed"));
  self->SetState(State::kDisconnected);
  self->ScheduleReconnect();
}

void RedisClient::Drop(const std::string& reason) {
  if (state_ == State::kStopped) return;
  if (ac_ != nullptr) {
    POLICYD_LOG_WARN("event=redis_dropped {} {}", LogField("redis", endpoint_.Describe()),
                     LogField("reason", reason));
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    SetState(State::kDisconnected);  // before the free: its callbacks see a dropped client
    redisAsyncFree(ac);  // runs OnReply(NULL) for every pending command
  }
  ScheduleReconnect();
}

void RedisClient::ScheduleReconnect() {
  if (state_ == State::kStopped) return;
  SetState(State::kDisconnected);
  uint64_t delay = backoff_ms_;
  backoff_ms_ = std::min(options_.reconnect_max_ms, std::max<uint64_t>(1, backoff_ms_ * 2));
  uv_timer_start(
      &reconnect_timer_,
      [](uv_timer_t* t) { static_cast<RedisClient*>(t->data)->Connect(); }, delay, 0);
}

void RedisClient::DropSoon(std::string reason, bool reconnect_at_once) {
  drop_reason_ = std::move(reason);
  drop_reconnects_at_once_ = reconnect_at_once;
  uv_timer_start(
      &drop_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<RedisClient*>(t->data);
        if (self->drop_reconnects_at_once_) self->backoff_ms_ = 0;
        self->Drop(self->drop_reason_);
      },
      0, 0);
}

void RedisClient::Command(const std::vector<std::string>& argv, uint64_t timeout_ms,
                          Callback callback) {
  if (state_ != State::kReady) {
    callback(Error{ErrorCode::kUnavailable, "redis not connected"});
    return;
  }
  Send(argv, timeout_ms, std::move(callback));
}

void RedisClient::Send(const std::vector<std::string>& argv, uint64_t timeout_ms,
                       Callback callback) {
  // Reused per thread (a client lives on one loop): two allocations less per command.
  thread_local std::vector<const char*> args;
  thread_local std::vector<size_t> lens;
  args.clear();
  lens.clear();
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  uint64_t now = uv_now(loop_);
  auto* pending = new Pending{this, std::move(callback), now, now + timeout_ms};
  if (ac_ == nullptr || redisAsyncCommandArgv(ac_, &RedisClient::OnReply, pending,
                                              static_cast<int>(args.size()), args.data(),
                                              lens.data()) != REDIS_OK) {
    Callback cb = std::move(pending->callback);
    delete pending;
    cb(Error{ErrorCode::kUnavailable, "redis connection is closing"});
    return;
  }
  pending_.push_back(pending);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&deadline_timer_)) ||
      pending->deadline_ms < armed_deadline_ms_) {
    ArmDeadlineTimer();
  }
}

void RedisClient::OnReply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
  auto* pending = static_cast<Pending*>(privdata);
  RedisClient* self = pending->client;
  if (reply == nullptr) {
    self->OnReplyFor(pending, Error{ErrorCode::kUnavailable, "redis connection lost"});
  } else {
    self->last_reply_ms_ = uv_now(self->loop_);
    auto* r = static_cast<redisReply*>(reply);
    if (r->type == REDIS_REPLY_ERROR && self->resolver_ &&
        std::string_view(r->str, r->len).rfind("READONLY", 0) == 0) {
      self->DropSoon("primary was demoted (READONLY)", /*reconnect_at_once=*/true);
    }
    self->OnReplyFor(pending, ToValue(r));
  }
}

void RedisClient::OnReplyFor(Pending* pending, Result<RedisValue> reply) {
  // Replies come in send order, so the answered command is almost always the front.
  auto it = std::find(pending_.begin(), pending_.end(), pending);
  if (it != pending_.end()) pending_.erase(it);
  Callback cb = std::move(pending->callback);
  delete pending;
  if (cb) cb(std::move(reply));
}

void RedisClient::ArmDeadlineTimer() {
  uint64_t earliest = UINT64_MAX;
  for (const Pending* p : pending_) {
    if (p->callback) earliest = std::min(earliest, p->deadline_ms);
  }
  if (earliest == UINT64_MAX) {
    uv_timer_stop(&deadline_timer_);
    return;
  }
  uint64_t now = uv_now(loop_);
  uint64_t delay = earliest > now ? earliest - now : 0;
  armed_deadline_ms_ = earliest;
  uv_timer_start(
      &deadline_timer_, [](uv_timer_t* t) { static_cast<RedisClient*>(t->data)->OnDeadline(); },
      delay, 0);
}

void RedisClient::OnDeadline() {
  uint64_t now = uv_now(loop_);
  bool stalled = false;
  std::vector<Callback> expired;
  for (Pending* p : pending_) {
    if (p->callback && p->deadline_ms <= now) {
      // No reply at all since this command was sent: Redis is paused or wedged, not busy.
      if (last_reply_ms_ < p->sent_ms || last_reply_ms_ == p->sent_ms) stalled = true;
      expired.push_back(std::move(p->callback));
      p->callback = nullptr;
    }
  }
  ArmDeadlineTimer();
  for (auto& cb : expired) cb(Error{ErrorCode::kTimeout, "redis did not answer in time"});
  if (stalled && ac_ != nullptr && state_ != State::kStopped) {
    DropSoon("no reply before the deadline (redis stalled?)", /*reconnect_at_once=*/false);
  }
}

void RedisClient::Stop(std::function<void()> done) {
  stop_done_ = std::move(done);
  ReleaseRedisContext(ac_);
  SetState(State::kStopped);
  if (resolver_) {
    ++open_handles_;
    resolver_->Close([this] {
      if (--open_handles_ == 0) OnHandlesClosed();
    });
  }
  for (uv_timer_t* t : {&deadline_timer_, &reconnect_timer_, &drop_timer_}) {
    CloseCounted<&RedisClient::open_handles_, &RedisClient::OnHandlesClosed>(t);
  }
}

void RedisClient::OnHandlesClosed() {
  if (!stop_done_) return;
  auto done = std::move(stop_done_);
  done();
}

}  // namespace policyd
