-- subject_count: one subject's part of a decision on a Redis Cluster (issue 17), run in the
-- subject's slot: checks the subject's windows and either refuses or counts the costs and
-- records a reservation, so that a refund (subject_refund.lua) can take back exactly what was
-- counted when another subject of the same request refuses. Touches only keys of the
-- subject's hash tag: pd:rate:{TAG} and the reservation slices pd:resv:{TAG}:SLICE.
--
-- ARGV (lib/core/subject_count.cc BuildSubjectCountArgs):
--   [1] now in ms ('' or 0: Redis TIME)  [2] prefix  [3] the subject tag (escaped)
--   [4] the request's identity (the message's; with count_at = rcpt the RCPT's) ('': check
--       only -- the RCPT pre-check with count_at = eom -- nothing is counted or recorded:
--       'counted' then means there is room)  [5] [policy] buckets  [6] reservation span in ms
--   [7] [8] [9] the costs: messages, recipients, bytes
--   [10] count_at = rcpt: the message identity this RCPT belongs to ('' otherwise): the
--       message's first counted RCPT costs messages and bytes, later ones only recipients,
--       as decide.lua's msg_seen (see the mark below)
--   [11...] the subject's resolved limits as triples: metric, window_s, max
-- KEYS, when given (a cluster call): the subject's pd:rate key (the route key), the current
-- and the previous reservation slice (_common.lua subject_call_keys).
--
-- Reply: { status, metric, window_s, count, max, retry_after, repeat }
--   status 'counted' (counted now, or repeat = 1: counted by an earlier call with this
--   identity, nothing counted again), 'refused' (metric .. retry_after as decide.lua states a
--   rate refusal; a repeat answers the same), 'refunded' (a refund of this identity came
--   first, or already took the reservation back: nothing is counted).
--
-- Reservation records, a field per message identity in the current slice (_common.lua
-- slice_keys; kept between one and two spans, then gone with their slice):
--   'c|BUCKETS|SUFFIX@INDEX=COST,...'  counted: what went into which sub-bucket
--   'r|METRIC|WINDOW|COUNT|MAX|RETRY'   refused (a repeat answers the same)
--   'f'                                 counted, then refunded
--   't'                                 a refund that found no reservation (tombstone)
-- and, with ARGV[10], the mark of a message counted here: '%m' .. MESSAGE -> the identity of
-- the RCPT that counted it (written again into the current slice by every later counted RCPT
-- of the message, so it lives as long as the transaction keeps counting; subject_refund.lua
-- deletes it with that RCPT's reservation). No identity starts with '%' (hex digits, a
-- report id, or either with '/2'), so no mark is taken for a reservation.
local now = now_ms(ARGV[1])
local prefix, tag, id = ARGV[2], ARGV[3], ARGV[4]
local buckets, span = tonumber(ARGV[5]), tonumber(ARGV[6])
local check_only = id == ''
if not buckets or buckets < 1 or not span or span < 1 then
  return redis.error_reply('ERR subject_count: bad arguments')
end
local rk, cur, prev, ttl = subject_call_keys('subject_count', KEYS, prefix, tag, span, now)
if not rk then return cur end
local rec = not check_only and slice_get(cur, prev, id)
if rec then
  local kind = string.sub(rec, 1, 1)
  if kind == 'c' then return { 'counted', '', 0, 0, 0, 0, 1 } end
  if kind == 'r' then
    local m, w, c, mx, r = string.match(rec, '^r|(%a+)|(%d+)|(%d+)|(%d+)|(%d+)$')
    return { 'refused', m, tonumber(w), tonumber(c), tonumber(mx), tonumber(r), 1 }
  end
  return { 'refunded', '', 0, 0, 0, 0, 1 }
end

local cost = { messages = tonumber(ARGV[7]) or 0, recipients = tonumber(ARGV[8]) or 0,
               bytes = tonumber(ARGV[9]) or 0 }
-- Each subject keeps its own mark of the message (the reservations' slices): its calls see
-- the same RCPTs admitted as the user's pd:msg mark on one Redis, with no call to read it.
local mark, holder = nil, nil
if not check_only and ARGV[10] and ARGV[10] ~= '' then
  mark = '%m' .. ARGV[10]
  holder = slice_get(cur, prev, mark)
  if holder then cost.messages, cost.bytes = 0, 0 end
end
-- A limit costing 0 is read but not checked: window_add_all sets the hash's TTL from the
-- longest window of the states, which must hold every window of the subject.
local w = subject_windows(rk, ARGV, 11, cost, buckets, now)
local states, costs, suffixes = w.states, w.costs, w.suffixes

for _, l in ipairs(w.rows) do
  local retry = l.cost > 0 and window_refusal(l.st, l.cost, l.max, now)
  if retry then
    if check_only then return { 'refused', l.metric, l.window, l.st.total, l.max, retry, 0 } end
    slice_set(cur, ttl, id, 'r|' .. l.metric .. '|' .. fmt_int(l.window) .. '|' ..
              fmt_int(l.st.total) .. '|' .. fmt_int(l.max) .. '|' .. fmt_int(retry))
    return { 'refused', l.metric, l.window, l.st.total, l.max, retry, 0 }
  end
end

if check_only then return { 'counted', '', 0, 0, 0, 0, 0 } end
window_add_all(rk, states, costs)
local parts = {}
for i, st in ipairs(states) do
  if costs[i] > 0 then
    parts[#parts + 1] = suffixes[i] .. '@' .. fmt_int(st.cur) .. '=' .. fmt_int(costs[i])
  end
end
local rec_value = 'c|' .. fmt_int(buckets) .. '|' .. table.concat(parts, ',')
if mark then
  slice_set(cur, ttl, id, rec_value, mark, holder or id)
else
  slice_set(cur, ttl, id, rec_value)
end
return { 'counted', '', 0, 0, 0, 0, 0 }
