-- block_lift: removes a subject's block (issue 19; lib/ops/block_ops.cc, policyctl block del
-- and DELETE /api/v1/admin/blocks/{subject}) and emits block.lifted in the same call. The
-- escalation history stays, so a repeat block within [abuse] memory still lasts longer.
-- ARGV: prefix, now_ms (0 = TIME), tag ('user:NAME' | 'sender:ADDRESS', escaped), source
--       ('policyctl' | 'api'), home ('' or absent on one Redis; on a cluster the subject's
--       slot-tag: _common.lua emit_event)
-- Reply: { 'ok', reason of the lifted block } or { 'notfound', 'not blocked' }
local prefix, tag, source = ARGV[1], ARGV[3], ARGV[4]
local now = now_ms(ARGV[2])
local home = check_home(ARGV[5])
local k = key(prefix, 'block', tag)
local b = redis.call('HMGET', k, 'reason', 'report')
if redis.call('DEL', k) == 0 then return { 'notfound', 'not blocked' } end
note_block_expiry(prefix, tag, nil, home)
emit_event(prefix, 'block.lifted', tag, now, { reason = b[1] or '', report = b[2] or '',
                                               source = source }, home)
return { 'ok', b[1] or '' }
