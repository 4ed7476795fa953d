-- review: records a customer's review request for a report once, with the customer's text
-- (checked and bounded by the caller, core/report_guidance.h CheckReviewText).
-- ARGV: prefix, now_ms (0 = TIME), report id, text ('' = none), home ('' or absent on one
-- Redis: the queue PREFIX reviews and the stream PREFIX events; on a cluster the slot-tag of
-- the report's slot, core/review_queue.h ReviewQueueTag: the queue PREFIX reviews:{home} and
-- the outbox PREFIX events:{home}, next to the report). Reply: 'requested' (new), 'already'
-- (one is pending), 'missing' (no such report).
local prefix, id, text = ARGV[1], ARGV[3], ARGV[4] or ''
local home = check_home(ARGV[5])
local now = now_ms(ARGV[2])
local k = report_key(prefix, id)
if redis.call('EXISTS', k) == 0 then return 'missing' end
local r = redis.call('HMGET', k, 'review', 'subject', 'kind', 'reason')
if r[1] == 'requested' then return 'already' end
redis.call('HSET', k, 'review', 'requested', 'review_at', fmt_int(now), 'review_text', text)
local queue = home_key(prefix, 'reviews', home)
redis.call('LPUSH', queue, id)
redis.call('LTRIM', queue, 0, 9999)
emit_event(prefix, 'review.requested', r[2] or '', now,
           { report = id, kind = r[3] or '', reason = r[4] or '', text = text }, home)
return 'requested'
