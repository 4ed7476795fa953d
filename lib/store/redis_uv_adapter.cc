#include "store/redis_uv_adapter.h"

#include <hiredis/adapters/libuv.h>

namespace policyd {
namespace {

void OnPoll(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<redisLibuvEvents*>(handle->data);
  int ready = status != 0 ? p->events : events;
  if (p->context != nullptr && (ready & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context != nullptr && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

void Update(void* privdata, int add, int remove) {
  auto* p = static_cast<redisLibuvEvents*>(privdata);
  p->events = (p->events | add) & ~remove;
  if (p->events != 0) {
    uv_poll_start(&p->handle, p->events, OnPoll);
  } else {
    uv_poll_stop(&p->handle);
  }
}

}  // namespace

int AttachRedisToLoop(redisAsyncContext* ac, uv_loop_t* loop) {
  int rc = redisLibuvAttach(ac, loop);
  if (rc != REDIS_OK) return rc;
  // The stock adapter's event structure and cleanup stay; only the poll callback changes.
  ac->ev.addRead = [](void* p) { Update(p, UV_READABLE, 0); };
  ac->ev.delRead = [](void* p) { Update(p, 0, UV_READABLE); };
  ac->ev.addWrite = [](void* p) { Update(p, UV_WRITABLE, 0); };
  ac->ev.delWrite = [](void* p) { Update(p, 0, UV_WRITABLE); };
  return REDIS_OK;
}

}  // namespace policyd
