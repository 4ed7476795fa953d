// Attaching a hiredis async context to a libuv loop. hiredis 0.14's own adapter (Debian 12)
// drops poll errors: libuv reports POLLERR as a status and stops the poll, the adapter
// returns, and hiredis never learns that a connect was refused or a connection reset, so
// only a timer noticed (a Redis restart cost connect_timeout per reconnect attempt, and
// in-flight requests their whole request_timeout). Like hiredis >= 1.0, this adapter treats
// an error as readiness for the events asked for: hiredis then reads or writes, sees the
// error, and runs the connect or disconnect callback at once.
#pragma once

#include <hiredis/async.h>
#include <uv.h>

namespace policyd {

// redisLibuvAttach with the error handling above; REDIS_OK or REDIS_ERR as it returns.
int AttachRedisToLoop(redisAsyncContext* ac, uv_loop_t* loop);

}  // namespace policyd
