// Attaching a hiredis async context to a libuv loop. We do not use hiredis 0.14's own adapter
// (Debian 12), for two reasons:
// - It drops poll errors: libuv reports POLLERR as a status and stops the poll, the adapter
//   returns, and hiredis never learns that a connect was refused or a connection reset, so
//   only a timer noticed (a Redis restart cost connect_timeout per reconnect attempt, and
//   in-flight requests their whole request_timeout). Like hiredis >= 1.0, this adapter treats
//   an error as readiness for the events asked for: hiredis then reads or writes, sees the
//   error, and runs the connect or disconnect callback at once.
// - It restarts the poll on every add/del, and libuv turns each restart into two epoll_ctl
//   calls, about four per command. Here the poll changes only when its events do, and a
//   connected context's commands are written once per loop turn from a prepare handle (all
//   the commands of that turn in one write) instead of waiting for POLLOUT; only a full
//   socket buffer falls back to polling for writability.
#pragma once

#include <hiredis/async.h>
#include <uv.h>

namespace policyd {

// Installs the event hooks; REDIS_OK, or REDIS_ERR if the context already has some or libuv
// refuses its fd.
int AttachRedisToLoop(redisAsyncContext* ac, uv_loop_t* loop);

// Lets go of an owner's context: the owner's pointer becomes null and the context no longer
// points back at the owner (its data), so the callbacks hiredis runs while freeing it (every
// pending reply with NULL, then the disconnect) find nobody; then frees it. Inside a hiredis
// callback the free happens once that callback returns. A null context is left alone.
void ReleaseRedisContext(redisAsyncContext*& ac);

}  // namespace policyd
