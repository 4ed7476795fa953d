#include "store/invalidation_listener.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cassert>
#include <string_view>

#include "log/log.h"
#include "store/redis_uv_adapter.h"

namespace policyd {
namespace {

constexpr char kChannel[] = "__redis__:invalidate";

bool IsError(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_ERROR; }

std::string ErrorText(const redisReply* r) {
  if (r == nullptr) return "connection lost";
  if (r->type == REDIS_REPLY_ERROR) return std::string(r->str, r->len);
  return "unexpected reply";
}

// hiredis keeps one callback per command; privdata is the listener, and a NULL reply means
// the context is being freed (the listener already knows, or is dropping it).
template <void (InvalidationListener::*Method)(void*)>
void Trampoline(redisAsyncContext* ac, void* reply, void* privdata) {
  if (reply == nullptr || ac->data == nullptr) return;
  (static_cast<InvalidationListener*>(privdata)->*Method)(reply);
}

}  // namespace

InvalidationListener::InvalidationListener(uv_loop_t* loop, std::vector<std::string> prefixes,
                                           RedisClientOptions options,
                                           std::function<void(const Keys*)> on_change)
    : loop_(loop),
      prefixes_(std::move(prefixes)),
      options_(options),
      on_change_(std::move(on_change)),
      backoff_ms_(options.reconnect_min_ms) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  open_handles_ = 1;
}

InvalidationListener::~InvalidationListener() { assert(open_handles_ == 0 && ac_ == nullptr); }

void InvalidationListener::SetState(State state) {
  bool was_ready = state_ == State::kReady;
  state_ = state;
  if (was_ready != (state_ == State::kReady) && on_change_) on_change_(nullptr);
}

void InvalidationListener::Follow(const RedisEndpoint& endpoint) {
  if (state_ == State::kStopped) return;
  bool same = have_endpoint_ && endpoint.host == endpoint_.host &&
              endpoint.port == endpoint_.port && endpoint.unix_path == endpoint_.unix_path;
  endpoint_ = endpoint;
  have_endpoint_ = true;
  if (same && state_ != State::kIdle) return;
  if (ac_ != nullptr) Drop("following the decision connection to " + endpoint.Describe());
  backoff_ms_ = options_.reconnect_min_ms;
  uv_timer_stop(&timer_);
  Connect();
}

void InvalidationListener::Connect() {
  if (state_ == State::kStopped || !have_endpoint_) return;
  redisAsyncContext* ac =
      endpoint_.IsUnix() ? redisAsyncConnectUnix(endpoint_.unix_path.c_str())
                         : redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  if (ac == nullptr || ac->err || AttachRedisToLoop(ac, loop_) != REDIS_OK) {
    if (ac) redisAsyncFree(ac);
    return Drop("cannot connect");
  }
  ac_ = ac;
  ac->data = this;
  redisAsyncSetConnectCallback(ac, &InvalidationListener::OnConnected);
  redisAsyncSetDisconnectCallback(ac, &InvalidationListener::OnDisconnected);
  SetState(State::kConnecting);
  tracking_on_ = false;
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<InvalidationListener*>(t->data);
        if (self->state_ == State::kConnecting) self->Drop("handshake timed out");
      },
      options_.connect_timeout_ms, 0);
  if (!endpoint_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint_.username.empty()) auth.push_back(endpoint_.username);
    auth.push_back(endpoint_.password);
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : auth) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    // Its error (if any) also fails CLIENT ID below, which reports it.
    redisAsyncCommandArgv(ac, nullptr, nullptr, static_cast<int>(argv.size()), argv.data(),
                          lens.data());
  }
  redisAsyncCommand(ac, &Trampoline<&InvalidationListener::OnClientId>, this, "CLIENT ID");
}

void InvalidationListener::OnClientId(void* reply) {
  auto* r = static_cast<redisReply*>(reply);
  if (r->type != REDIS_REPLY_INTEGER) return Drop("CLIENT ID failed: " + ErrorText(r));
  std::vector<std::string> args = {"CLIENT", "TRACKING", "on", "REDIRECT",
                                   std::to_string(r->integer), "BCAST"};
  for (const std::string& p : prefixes_) {
    args.push_back("PREFIX");
    args.push_back(p);
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  // Both in one write: hiredis matches the TRACKING reply before the subscription's.
  redisAsyncCommandArgv(ac_, &Trampoline<&InvalidationListener::OnTrackingReply>, this,
                        static_cast<int>(argv.size()), argv.data(), lens.data());
  redisAsyncCommand(ac_, &Trampoline<&InvalidationListener::OnSubscription>, this,
                    "SUBSCRIBE %s", kChannel);
}

void InvalidationListener::OnTrackingReply(void* reply) {
  auto* r = static_cast<redisReply*>(reply);
  if (IsError(r)) {
    // Redis < 6, or an ACL user without CLIENT: no cache, decisions go to Redis as before.
    backoff_ms_ = options_.reconnect_max_ms;
    return Drop("CLIENT TRACKING refused: " + ErrorText(r));
  }
  tracking_on_ = true;
}

void InvalidationListener::OnSubscription(void* reply) {
  auto* r = static_cast<redisReply*>(reply);
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
      r->element[0]->type != REDIS_REPLY_STRING) {
    return;
  }
  std::string_view kind(r->element[0]->str, r->element[0]->len);
  if (kind == "subscribe") {
    if (!tracking_on_) return Drop("subscribed without tracking");
    uv_timer_stop(&timer_);
    backoff_ms_ = options_.reconnect_min_ms;
    POLICYD_LOG_INFO("event=redis_tracking_ready {}", LogField("redis", endpoint_.Describe()));
    SetState(State::kReady);
    return;
  }
  if (kind == "message") {
    // The payload is the invalidated keys, or null after FLUSHALL/FLUSHDB: either way the
    // owner empties its cache.
    ++invalidations_;
    const redisReply* payload = r->element[2];
    if (payload->type != REDIS_REPLY_ARRAY) {
      if (on_change_) on_change_(nullptr);
      return;
    }
    Keys keys;
    keys.reserve(payload->elements);
    for (std::size_t i = 0; i < payload->elements; ++i) {
      const redisReply* k = payload->element[i];
      if (k->type != REDIS_REPLY_STRING) {
        if (on_change_) on_change_(nullptr);
        return;
      }
      keys.emplace_back(k->str, k->len);
    }
    if (on_change_) on_change_(&keys);
  }
}

void InvalidationListener::OnConnected(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<InvalidationListener*>(ac->data);
  if (self == nullptr || status == REDIS_OK) return;
  // hiredis frees a context whose connect failed right after this callback.
  self->ac_ = nullptr;
  const_cast<redisAsyncContext*>(ac)->data = nullptr;
  self->Drop(std::string("connect failed: ") + ac->errstr);
}

void InvalidationListener::OnDisconnected(const redisAsyncContext* ac, int /*status*/) {
  auto* self = static_cast<InvalidationListener*>(ac->data);
  if (self == nullptr) return;  // dropped by us
  self->ac_ = nullptr;
  self->Drop(ac->err ? ac->errstr : "closed");
}

void InvalidationListener::Drop(const std::string& reason) {
  if (state_ == State::kStopped) return;
  POLICYD_LOG_WARN("event=redis_tracking_lost {} {}", LogField("redis", endpoint_.Describe()),
                   LogField("reason", reason));
  ReleaseRedisContext(ac_);  // inside a hiredis callback it frees once the callback returns
  tracking_on_ = false;
  SetState(State::kIdle);
  uint64_t delay = backoff_ms_;
  backoff_ms_ = std::min(options_.reconnect_max_ms, std::max<uint64_t>(1, backoff_ms_ * 2));
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<InvalidationListener*>(t->data);
        if (self->state_ == State::kIdle) self->Connect();
      },
      delay, 0);
}

void InvalidationListener::Stop(std::function<void()> done) {
  stop_done_ = std::move(done);
  ReleaseRedisContext(ac_);
  SetState(State::kStopped);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<InvalidationListener*>(h->data);
    if (--self->open_handles_ == 0 && self->stop_done_) {
      auto done = std::move(self->stop_done_);
      done();
    }
  });
}

}  // namespace policyd
