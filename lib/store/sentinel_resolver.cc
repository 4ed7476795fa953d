#include "store/sentinel_resolver.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <charconv>

#include "log/log.h"
#include "store/redis_uv_adapter.h"

namespace policyd {

// One question to one sentinel. The context is freed by hiredis after its disconnect (or
// failed connect); `owner` is cleared when the resolver gives up on it (deadline), so late
// callbacks find no one to tell.
struct SentinelResolver::Attempt {
  SentinelResolver* owner;
  redisAsyncContext* ac = nullptr;
  bool answered = false;
};

SentinelResolver::SentinelResolver(uv_loop_t* loop, std::vector<std::string> sentinels,
                                   std::string master_name, RedisEndpoint base,
                                   uint64_t timeout_ms)
    : loop_(loop),
      sentinels_(std::move(sentinels)),
      master_name_(std::move(master_name)),
      base_(std::move(base)),
      timeout_ms_(timeout_ms) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

SentinelResolver::~SentinelResolver() = default;

void SentinelResolver::Resolve(Callback callback) {
  if (callback_) return callback(Error{ErrorCode::kUnavailable, "resolution in progress"});
  callback_ = std::move(callback);
  tried_ = 0;
  last_error_ = "no sentinel configured";
  TryNext();
}

void SentinelResolver::TryNext() {
  if (closing_) return;
  if (tried_ >= sentinels_.size()) {
    return Finish(Error{ErrorCode::kUnavailable,
                        "no sentinel knows a primary for '" + master_name_ + "': " + last_error_});
  }
  ++tried_;
  const std::string& target = sentinels_[next_++ % sentinels_.size()];
  Result<RedisEndpoint> where = ParseRedisUrl("redis://" + target);
  if (!where.ok()) {
    last_error_ = where.error().message;
    return TryNext();
  }
  redisAsyncContext* ac = redisAsyncConnect(where->host.c_str(), where->port);
  if (ac == nullptr || ac->err) {
    last_error_ = target + ": " + (ac ? ac->errstr : "out of memory");
    if (ac) redisAsyncFree(ac);
    return TryNext();
  }
  auto* attempt = new Attempt{this, ac};
  attempt_ = attempt;
  ac->data = attempt;
  AttachRedisToLoop(ac, loop_);
  redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
    auto* a = static_cast<Attempt*>(c->data);
    if (status == REDIS_OK) return;
    // hiredis frees the context after this callback; the reply callback gets NULL first.
    if (a->owner && !a->answered) {
      a->answered = true;
      a->owner->last_error_ = std::string("connect: ") + c->errstr;
      a->owner->attempt_ = nullptr;
      uv_timer_stop(&a->owner->timer_);
      a->owner->TryNext();
    }
  });
  redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int) {
    delete static_cast<Attempt*>(c->data);
  });
  redisAsyncCommand(
      ac,
      [](redisAsyncContext* c, void* r, void* privdata) {
        auto* a = static_cast<Attempt*>(privdata);
        auto* reply = static_cast<redisReply*>(r);
        if (!a->answered && a->owner) {
          a->answered = true;
          SentinelResolver* self = a->owner;
          self->attempt_ = nullptr;
          uv_timer_stop(&self->timer_);
          if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
            std::string host(reply->element[0]->str, reply->element[0]->len);
            int port = 0;
            std::string p(reply->element[1]->str, reply->element[1]->len);
            std::from_chars(p.data(), p.data() + p.size(), port);
            RedisEndpoint ep = self->base_;
            ep.host = host;
            ep.port = port;
            ep.unix_path.clear();
            self->Finish(ep);
          } else {
            self->last_error_ = reply && reply->type == REDIS_REPLY_ERROR
                                    ? std::string(reply->str, reply->len)
                                    : "sentinel does not know the master name";
            self->TryNext();
          }
        }
        if (r != nullptr) {
          redisAsyncDisconnect(c);  // the disconnect callback deletes the attempt
        } else if (!(c->c.flags & REDIS_CONNECTED)) {
          delete a;  // never connected: hiredis will not call the disconnect callback
        }
      },
      attempt, "SENTINEL get-master-addr-by-name %s", master_name_.c_str());
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<SentinelResolver*>(t->data);
        Attempt* a = self->attempt_;
        if (a == nullptr) return;
        a->answered = true;
        a->owner = nullptr;
        self->attempt_ = nullptr;
        self->last_error_ = "sentinel did not answer in time";
        redisAsyncFree(a->ac);  // runs the reply callback with NULL, then the disconnect one
        self->TryNext();
      },
      timeout_ms_, 0);
}

void SentinelResolver::Finish(Result<RedisEndpoint> result) {
  Callback cb = std::move(callback_);
  callback_ = nullptr;
  if (cb) cb(std::move(result));
}

void SentinelResolver::Close(std::function<void()> done) {
  closing_ = true;
  close_done_ = std::move(done);
  if (attempt_ != nullptr) {
    attempt_->owner = nullptr;
    attempt_->answered = true;
    redisAsyncFree(attempt_->ac);
    attempt_ = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<SentinelResolver*>(h->data);
    if (self->close_done_) self->close_done_();
  });
}

}  // namespace policyd
