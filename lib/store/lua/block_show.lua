-- block_show: a subject's block with its escalation history and evidence, in one read (issue
-- 19; lib/ops/block_ops.cc).
-- ARGV: prefix, tag ('user:NAME' | 'sender:ADDRESS', escaped)
-- Reply: { 'ok', block hash (flat), history hash (flat), evidence entries (newest first) }
--        or { 'notfound', 'not blocked' }
local prefix, tag = ARGV[1], ARGV[2]
local block = redis.call('HGETALL', key(prefix, 'block', tag))
if #block == 0 then return { 'notfound', 'not blocked' } end
return { 'ok', block, redis.call('HGETALL', key(prefix, 'blockhist', tag)),
         redis.call('LRANGE', key(prefix, 'evidence', tag), 0, -1) }
