-- subject_refund: takes back what subject_count.lua counted for one message identity in one
-- subject's slot (issue 17), when another subject of the same request refused or failed.
-- Idempotent: the reservation is marked refunded, so a retried or duplicated refund changes
-- nothing. A refund that arrives before its reservation (the two calls were reordered, or the
-- count is still in flight on a connection the refund overtook) leaves a tombstone, so the
-- late subject_count counts nothing. Touches only keys of the subject's hash tag.
--
-- ARGV (lib/core/subject_count.cc BuildSubjectRefundArgs):
--   [1] now in ms ('' or 0: Redis TIME)  [2] prefix  [3] the subject tag (escaped)
--   [4] the message identity  [5] reservation span in ms (as given to subject_count)
--   [6] count_at = rcpt: the message identity of the RCPT ('' or none otherwise): a
--       message mark this RCPT wrote (subject_count.lua) goes with its reservation, so the
--       message's next RCPT costs a message again, as on one Redis after a refusal
-- KEYS, when given (a cluster call): as subject_count.lua's (_common.lua subject_call_keys).
--
-- Reply: { status, units }: 'refunded' (units taken back from the windows; 0 when the buckets
-- had left them), 'already' (refunded before, or a tombstone is there), 'tombstone' (no
-- reservation yet: one was left), 'refused' (the subject refused this message: nothing was
-- counted).
local now = now_ms(ARGV[1])
local prefix, tag, id, span = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if id == '' or not span or span < 1 then
  return redis.error_reply('ERR subject_refund: bad arguments')
end
local rk, cur, prev, ttl = subject_call_keys('subject_refund', KEYS, prefix, tag, span, now)
if not rk then return cur end
local rec = slice_get(cur, prev, id)
if not rec then
  slice_set(cur, ttl, id, 't')
  return { 'tombstone', 0 }
end
local kind = string.sub(rec, 1, 1)
if kind == 'r' then return { 'refused', 0 } end
if kind ~= 'c' then return { 'already', 0 } end

local buckets, list = string.match(rec, '^c|(%d+)|(.*)$')
buckets = tonumber(buckets)
local entries, states = {}, {}
for suffix, idx, c in string.gmatch(list or '', '([%a]+:%d+)@(%d+)=(%d+)') do
  local window = tonumber(string.match(suffix, ':(%d+)$'))
  local st = window_state(rk, window_names(suffix), window, buckets, now)
  states[#states + 1] = st
  entries[#entries + 1] = { st = st, idx = tonumber(idx), cost = tonumber(c) }
end
local units = 0
if #states > 0 then
  window_read_all(rk, states)
  for _, e in ipairs(entries) do units = units + window_take_back(e.st, e.idx, e.cost) end
end
slice_set(cur, ttl, id, 'f')
if ARGV[6] and ARGV[6] ~= '' then
  local mark = '%m' .. ARGV[6]
  for _, k in ipairs({ cur, prev }) do
    if redis.call('HGET', k, mark) == id then redis.call('HDEL', k, mark) end
  end
end
return { 'refunded', units }
