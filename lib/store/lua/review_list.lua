-- review_list: the reports whose review was requested and not yet resolved, newest request
-- first, with their fields, in one read (issue 19; lib/ops/review_ops.cc). Reports that
-- expired since are left out.
-- ARGV: prefix, max, home (one queue's slot-tag on a cluster, PREFIX reviews:{home}, whose
-- reports are in its slot: a cluster lists each queue and merges them, store/report_store.h;
-- '' or absent on one Redis: PREFIX reviews)
-- Reply: { 'ok', { id, { field, value, ... } }, ... }
local prefix, max = ARGV[1], tonumber(ARGV[2])
local queue = home_key(prefix, 'reviews', check_home(ARGV[3]))
local out = { 'ok' }
for _, id in ipairs(redis.call('LRANGE', queue, 0, max - 1)) do
  local fields = redis.call('HGETALL', report_key(prefix, id))
  if #fields > 0 then out[#out + 1] = { id, fields } end
end
return out
