-- review_resolve: an operator answers a customer's review request (issue 19;
-- lib/ops/review_ops.cc): the report's review becomes 'resolved' with the operator's note
-- (shown on the report page), and the report leaves the list of open reviews. A customer may
-- request a review again afterwards (review.lua).
-- ARGV: prefix, now_ms (0 = TIME), report id, note, source ('policyctl' | 'api'), home (the
-- queue's slot-tag on a cluster, as review.lua's; '' or absent on one Redis)
-- Reply: { 'ok', resolved_at } or { 'notfound', 'report' } or { 'conflict', message }
local prefix, id, note, source = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local home = check_home(ARGV[6])
local now = now_ms(ARGV[2])
local k = report_key(prefix, id)
if redis.call('EXISTS', k) == 0 then return { 'notfound', 'report' } end
if redis.call('HGET', k, 'review') ~= 'requested' then
  return { 'conflict', 'no review of this report is waiting' }
end
redis.call('HSET', k, 'review', 'resolved', 'review_note', note, 'resolved_at', fmt_int(now),
           'resolved_by', source)
redis.call('LREM', home_key(prefix, 'reviews', home), 0, id)
return { 'ok', fmt_int(now) }
