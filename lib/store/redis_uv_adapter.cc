#include "store/redis_uv_adapter.h"

#include <hiredis/hiredis.h>

#include "net/handle_close.h"

namespace policyd {
namespace {

struct UvRedisEvents {
  redisAsyncContext* context = nullptr;  // null once hiredis has freed it
  uv_poll_t poll;
  uv_prepare_t flush;
  int events = 0;          // what the poll watches
  bool flushing = false;   // inside OnFlush's write
  int open_handles = 0;

  void OnHandlesClosed() { delete this; }
};

void OnPoll(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<UvRedisEvents*>(handle->data);
  int ready = status != 0 ? p->events : events;
  if (p->context != nullptr && (ready & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context != nullptr && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

void SetPoll(UvRedisEvents* p, int events) {
  if (events == p->events) return;
  p->events = events;
  if (events != 0) {
    uv_poll_start(&p->poll, events, OnPoll);
  } else {
    uv_poll_stop(&p->poll);
  }
}

void OnFlush(uv_prepare_t* handle) {
  auto* p = static_cast<UvRedisEvents*>(handle->data);
  uv_prepare_stop(handle);
  if (p->context == nullptr) return;
  // hiredis writes what it can, then calls delWrite (all sent) or addWrite (socket full).
  p->flushing = true;
  redisAsyncHandleWrite(p->context);
  p->flushing = false;
}

void AddWrite(void* privdata) {
  auto* p = static_cast<UvRedisEvents*>(privdata);
  // Before the connect completes, writability is how hiredis learns of it; after a partial
  // write, it is when there is room again.
  bool connected = p->context != nullptr && (p->context->c.flags & REDIS_CONNECTED) != 0;
  if (connected && !p->flushing) {
    uv_prepare_start(&p->flush, OnFlush);
  } else {
    SetPoll(p, p->events | UV_WRITABLE);
  }
}

void DelWrite(void* privdata) {
  auto* p = static_cast<UvRedisEvents*>(privdata);
  uv_prepare_stop(&p->flush);
  SetPoll(p, p->events & ~UV_WRITABLE);
}

void Cleanup(void* privdata) {
  auto* p = static_cast<UvRedisEvents*>(privdata);
  p->context = nullptr;
  CloseCounted<&UvRedisEvents::open_handles, &UvRedisEvents::OnHandlesClosed>(&p->poll);
  CloseCounted<&UvRedisEvents::open_handles, &UvRedisEvents::OnHandlesClosed>(&p->flush);
}

}  // namespace

void ReleaseRedisContext(redisAsyncContext*& ac) {
  if (ac == nullptr) return;
  redisAsyncContext* released = ac;
  ac = nullptr;
  released->data = nullptr;
  redisAsyncFree(released);
}

int AttachRedisToLoop(redisAsyncContext* ac, uv_loop_t* loop) {
  if (ac->ev.data != nullptr) return REDIS_ERR;
  auto* p = new UvRedisEvents;
  if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
    delete p;
    return REDIS_ERR;
  }
  uv_prepare_init(loop, &p->flush);
  p->poll.data = p;
  p->flush.data = p;
  p->open_handles = 2;
  p->context = ac;
  ac->ev.data = p;
  ac->ev.addRead = [](void* d) { SetPoll(static_cast<UvRedisEvents*>(d),
                                         static_cast<UvRedisEvents*>(d)->events | UV_READABLE); };
  ac->ev.delRead = [](void* d) { SetPoll(static_cast<UvRedisEvents*>(d),
                                         static_cast<UvRedisEvents*>(d)->events & ~UV_READABLE); };
  ac->ev.addWrite = AddWrite;
  ac->ev.delWrite = DelWrite;
  ac->ev.cleanup = Cleanup;
  return REDIS_OK;
}

}  // namespace policyd
