-- review_list: the reports whose review was requested and not yet resolved, newest request
-- first, with their fields, in one read (issue 19; lib/ops/review_ops.cc). Reports that
-- expired since are left out.
-- ARGV: prefix, max
-- Reply: { 'ok', { id, { field, value, ... } }, ... }
local prefix, max = ARGV[1], tonumber(ARGV[2])
local out = { 'ok' }
for _, id in ipairs(redis.call('LRANGE', prefix .. 'reviews', 0, max - 1)) do
  local fields = redis.call('HGETALL', report_key(prefix, id))
  if #fields > 0 then out[#out + 1] = { id, fields } end
end
return out
