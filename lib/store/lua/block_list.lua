-- block_list: one page of the current blocks (issue 19; lib/ops/block_ops.cc, policyctl block
-- list and GET /api/v1/admin/blocks): SCAN from a cursor, never KEYS, so a page costs Redis
-- about COUNT keys' worth of work however many blocks there are.
-- ARGV: prefix, cursor ('0' starts), count (SCAN's COUNT hint), reason ('' = any)
-- Reply: { 'ok', next cursor ('0' = done), { block hash (flat), ... } }
local prefix, cursor, count, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local pattern = string.gsub(prefix, '[%*%?%[%]\\]', '\\%0') .. 'block:{*}'
local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', count)
local blocks = {}
for _, k in ipairs(r[2]) do
  local b = redis.call('HGETALL', k)
  if #b > 0 and (reason == '' or redis.call('HGET', k, 'reason') == reason) then
    blocks[#blocks + 1] = b
  end
end
return { 'ok', r[1], blocks }
