-- quota_count: one monthly quota's part of a decision on a Redis Cluster (issue 19 on issue
-- 17), run in the quota subject's slot (a user's or an account's) once the request's rate
-- subjects have admitted it: checks the quota and either refuses or counts the message with
-- a reservation under the message identity, so that a refund can take back exactly what was
-- counted when the request's other quota refuses. The check, the count, the warnings
-- (_common.lua quota_add: 80/90/100 %, each once per period, with its event and evidence)
-- and the refusal's rule are decide.lua's section 4b for one subject. Touches only keys of
-- the subject's hash tag: pd:quota:{TAG}:YYYYMM, pd:qresv:{TAG}:SLICE, pd:evidence:{TAG}, and
-- the slot's outbox pd:events:{HOME}.
--
-- ARGV (lib/core/cluster_quota.cc BuildQuotaCallArgs):
--   [1] now in ms (the decision's clock: the period and the slices are named by it)
--   [2] prefix  [3] the subject tag ('user:alice' escaped, 'account:acme')
--   [4] the quota as the record holds it (not a number: the subject has no quota)
--   [5] mode: 'count' (check, then count and reserve), 'check' (the RCPT pre-check: nothing
--       written), 'refund' (take back this identity's count), 'lookup' (this identity's
--       earlier answer, nothing written)
--   [6] the message identity  [7] reservation span in ms  [8] messages this request costs
--   [9] [quota] spec (lib/core/quota.h)  [10] [abuse] escalation spec (evidence bounds)
--   [11] home: the subject's slot-tag (_common.lua emit_event)
-- KEYS, when given: the quota hash of the period, the current and the previous reservation
-- slice (lib/core/cluster_quota.cc QuotaCallKeys), checked against what this script names.
--
-- Reply: { status, used, quota, rule, warnings, repeat }
--   'counted' (counted now, or repeat = 1 by an earlier call of this identity; 'check': there
--   is room), 'refused' (used and quota as decide.lua's refusal, rule its text; a repeat
--   answers the first refusal), 'refunded' (this identity was refunded or given up here),
--   'none' (no quota: the field is not a number; 'lookup': no earlier answer), for 'refund'
--   'refunded' or 'already'. warnings: the levels this call fired, 'TAG PERCENT,...'.
--   'check' answers a seventh element: 1 when the month is unlocked (policyctl quota unlock).
--
-- Reservation records, a field per message identity in pd:qresv:{TAG}:SLICE (kept between
-- one and two spans, as subject_count.lua's): 'c|N|PERIOD' counted N messages in PERIOD,
-- 'r|USED|QUOTA|PERIOD' refused, 'f' counted then refunded, 't' a refund that came first.
local now = now_ms(ARGV[1])
local prefix, tag, quota, mode, id = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local span, n = tonumber(ARGV[7]), tonumber(ARGV[8]) or 0
local q = parse_quota(ARGV[9])
local home = check_home(ARGV[11])
if not span or span < 1 or (id == '' and mode ~= 'check') then
  return redis.error_reply('ERR quota_count: bad arguments')
end
local period, period_end = quota_period(now, q.offset)
local qk = key(prefix, 'quota', tag, period)
local cur, prev, ttl = slice_keys(prefix, 'qresv', tag, span, now)
if KEYS[1] and (KEYS[1] ~= qk or KEYS[2] ~= cur or KEYS[3] ~= prev) then
  return redis.error_reply('ERR quota_count: KEYS are not ' .. qk .. ', ' .. cur .. ', ' .. prev)
end

local function rule(used, max, p)
  return 'quota ' .. tag .. ' ' .. fmt_int(used) .. '/' .. fmt_int(max) .. ' in ' .. p
end

local rec = mode ~= 'check' and slice_get(cur, prev, id)
if mode == 'refund' then
  if not rec then
    slice_set(cur, ttl, id, 't')
    return { 'refunded', 0, 0, '', '', 0 }
  end
  local c, p = string.match(rec, '^c|(%d+)|(%d+)$')
  if not c then return { 'already', 0, 0, '', '', 0 } end
  -- The month the count went into (a refund sent across a month's end takes it from there).
  redis.call('HINCRBY', key(prefix, 'quota', tag, p), 'used', -tonumber(c))
  slice_set(cur, ttl, id, 'f')
  return { 'refunded', 0, 0, '', '', 0 }
end
if rec then
  local kind = string.sub(rec, 1, 1)
  if kind == 'c' then return { 'counted', 0, 0, '', '', 1 } end
  if kind == 'r' then
    local used, max, p = string.match(rec, '^r|(%d+)|(%d+)|(%d+)$')
    return { 'refused', tonumber(used), tonumber(max), rule(used, max, p), '', 1 }
  end
  return { 'refunded', 0, 0, '', '', 1 }
end
if mode == 'lookup' or not quota then return { 'none', 0, 0, '', '', 0 } end

local v = redis.call('HMGET', qk, 'used', 'unlocked')
local used = tonumber(v[1]) or 0
-- 'check' also answers whether the month is unlocked (explain lists it, as decide.lua).
local unlocked = v[2] == '1' and 1 or 0
if n > 0 and used + n > quota and unlocked == 0 then
  if mode == 'count' then
    slice_set(cur, ttl, id, 'r|' .. fmt_int(used) .. '|' .. fmt_int(quota) .. '|' .. period)
    return { 'refused', used, quota, rule(used, quota, period), '', 0 }
  end
  return { 'refused', used, quota, rule(used, quota, period), '', 0, unlocked }
end
if mode == 'check' then return { 'counted', used, quota, '', '', 0, unlocked } end
if n <= 0 then return { 'counted', used, quota, '', '', 0 } end
local abuse = parse_abuse(ARGV[10])
local warnings = quota_add(prefix, { { tag = tag, quota = quota, key = qk, used = used } }, n,
                           now, period_end, q, period, abuse.evidence_max, abuse.evidence_ttl,
                           home)
slice_set(cur, ttl, id, 'c|' .. fmt_int(n) .. '|' .. period)
return { 'counted', used + n, quota, '', warnings, 0 }
