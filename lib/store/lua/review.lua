-- review: records a customer's review request for a report once.
-- ARGV: prefix, now_ms (0 = TIME), report id. Reply: 'requested' (new), 'already' (repeat),
-- 'missing' (no such report).
local prefix, id = ARGV[1], ARGV[3]
local now = now_ms(ARGV[2])
local k = prefix .. 'report:' .. id
if redis.call('EXISTS', k) == 0 then return 'missing' end
if redis.call('HGET', k, 'review') == 'requested' then return 'already' end
redis.call('HSET', k, 'review', 'requested', 'review_at', fmt_int(now))
redis.call('LPUSH', prefix .. 'reviews', id)
redis.call('LTRIM', prefix .. 'reviews', 0, 9999)
local r = redis.call('HMGET', k, 'subject', 'kind')
emit_event(prefix, 'review.requested', r[1] or '', now, { report = id, kind = r[2] or '' })
return 'requested'
