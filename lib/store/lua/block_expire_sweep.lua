-- block_expire_sweep: emits block.expired for the blocks whose expiry has passed
-- (_common.lua note_block_expiry), removing each from PREFIX .. 'block_expiries' in the same
-- call, so racing instances emit each expiry exactly once. Run every second or so by each
-- instance's primary loop (store/block_expiry_sweeper.h).
-- ARGV: prefix, now_ms (0 = TIME), at most how many to sweep in this call.
-- Reply: how many expiries were emitted.
local prefix, limit = ARGV[1], tonumber(ARGV[3]) or 100
local now = now_ms(ARGV[2])
local zk = prefix .. 'block_expiries'
local due = redis.call('ZRANGEBYSCORE', zk, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #due, 2 do
  local tag, at = due[i], tonumber(due[i + 1])
  redis.call('ZREM', zk, tag)
  emit_event(prefix, 'block.expired', tag, now, { expired_at = fmt_int(at) })
end
return #due / 2
