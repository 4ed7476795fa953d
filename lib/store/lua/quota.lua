-- quota: a user's or an account's monthly quota this period (issue 19; lib/ops/quota_ops.cc):
-- shown, set (the record's field 'quota'), or unlocked for the rest of the period (then it
-- admits past 100 %).
-- ARGV: prefix, now_ms (0 = TIME), quota spec ('OFFSET_MIN|reject|80,...', lib/core/quota.h),
--       mode ('show' | 'set' | 'unlock'), tag ('user:NAME' escaped, or 'account:NAME'),
--       set: the quota in messages per month ('' removes it)
-- Reply: { 'ok', period 'YYYYMM', quota ('' = none), used, unlocked (0|1), period end (ms),
--          warning levels fired 'P,P' } or { 'notfound' | 'conflict', message }
local prefix, now, mode, tag = ARGV[1], now_ms(ARGV[2]), ARGV[4], ARGV[5]
local q = parse_quota(ARGV[3])
local kind = string.sub(tag, 1, 8) == 'account:' and 'account' or 'user'
local record = key(prefix, kind, tag)
if redis.call('EXISTS', record) == 0 then
  return { 'notfound', 'no such ' .. (kind == 'user' and 'SMTP user' or 'account') }
end
if mode == 'set' then
  if ARGV[6] == '' then
    redis.call('HDEL', record, 'quota')
  else
    redis.call('HSET', record, 'quota', ARGV[6])
  end
end
local quota = tonumber(redis.call('HGET', record, 'quota'))
local period, period_end = quota_period(now, q.offset)
local k = key(prefix, 'quota', tag, period)
if mode == 'unlock' then
  if not quota then return { 'conflict', 'has no monthly quota to unlock' } end
  redis.call('HSET', k, 'unlocked', '1')
  redis.call('PEXPIREAT', k, period_end + 31 * 86400000)
end
local v = redis.call('HMGET', k, 'used', 'unlocked')
local fired = {}
for _, p in ipairs(q.levels) do
  if redis.call('HEXISTS', k, 'w' .. p) == 1 then fired[#fired + 1] = p end
end
return { 'ok', period, quota and fmt_int(quota) or '', fmt_int(tonumber(v[1]) or 0),
         v[2] == '1' and 1 or 0, fmt_int(period_end), table.concat(fired, ',') }
