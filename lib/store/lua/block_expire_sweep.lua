-- block_expire_sweep: emits block.expired for the blocks whose expiry has passed
-- (_common.lua note_block_expiry), removing each from the expiry index in the same call, so
-- racing instances emit each expiry exactly once. Run every second or so by each instance's
-- primary loop (store/block_expiry_sweeper.h); on a cluster once per slot that has an index,
-- PREFIX .. 'block_expiries:{HOME}', emitting into that slot's outbox
-- (store/cluster_expiry_sweeper.h).
-- ARGV: prefix, now_ms (0 = TIME), at most how many to sweep in this call, home ('' or
--       absent on one Redis: PREFIX .. 'block_expiries'; on a cluster the index's slot-tag).
-- Reply: how many expiries were emitted.
local prefix, limit = ARGV[1], tonumber(ARGV[3]) or 100
local now = now_ms(ARGV[2])
local home = check_home(ARGV[4])
local zk = home_key(prefix, 'block_expiries', home)
local due = redis.call('ZRANGEBYSCORE', zk, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #due, 2 do
  local tag, at = due[i], tonumber(due[i + 1])
  redis.call('ZREM', zk, tag)
  emit_event(prefix, 'block.expired', tag, now, { expired_at = fmt_int(at) }, home)
end
return #due / 2
