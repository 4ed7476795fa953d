-- block_lift: removes a subject's block (policyctl block del) and emits block.lifted in the
-- same call, so the event exists exactly when the lift does.
-- ARGV: prefix, now_ms (0 = TIME), tag ('user:NAME' | 'sender:ADDRESS', escaped), source.
-- Reply: 1 if a block was lifted, 0 if the subject was not blocked.
local prefix, tag, source = ARGV[1], ARGV[3], ARGV[4]
local now = now_ms(ARGV[2])
local k = key(prefix, 'block', tag)
local b = redis.call('HMGET', k, 'reason', 'report')
if redis.call('DEL', k) == 0 then return 0 end
note_block_expiry(prefix, tag, nil)
emit_event(prefix, 'block.lifted', tag, now, { reason = b[1] or '', report = b[2] or '',
                                                source = source })
return 1
