-- usage: a subject's sliding-window counters against the limits that apply to it (policyctl
-- usage). Writes nothing: the same plan resolution (load_user, resolve_plan,
-- effective_limits) and the same window reads (window_read, window_retry) as decide.lua, so
-- what it shows is what the next decision would check.
-- ARGV: prefix, now_ms (0 = TIME), plans spec, default_plan, buckets, plan ('' = the
--       subject's own), then the subject tags a request would have: user, account, sender,
--       ip ('' = not given). A user tag also brings in the user's account tag. Then, for a
--       Redis Cluster (issue 17), where a call reads only its subject's slot: the user's
--       account's plan as the caller read it in the account's slot ('' = read it here; else
--       '=' .. plan, '=' for none), and the one kind whose windows are read here ('' = every
--       kind with a tag; the others are read by usage_windows.lua, each in its slot).
-- Reply: { known (1: the user or account exists, or the subject is neither), plan name,
--          plan name asked for but not in config ('' if none), account name ('' if none),
--          then per limit { kind, tag ('' = not given), metric, max, window_s, count,
--          retry_after_s (seconds until one more unit fits; 0 = now), override (0 | 1) } }
local prefix, now = ARGV[1], now_ms(ARGV[2])
local plans, default_plan = parse_plans(ARGV[3]), ARGV[4]
local buckets, plan_arg = tonumber(ARGV[5]), ARGV[6]
local tags = { user = ARGV[7], account = ARGV[8], sender = ARGV[9], ip = ARGV[10] }
local given_plan, counted_kind = ARGV[11] or '', ARGV[12] or ''

-- The account record's plan as the caller read it, when it did (lib/ops/usage_ops.cc).
local reader = REDIS_READER
if given_plan ~= '' then
  reader = setmetatable({ hmget = function(k, ...)
    if string.find(k, prefix .. 'account:', 1, true) == 1 then
      return { string.sub(given_plan, 2), false }  -- plan, quota (unused here)
    end
    return REDIS_READER.hmget(k, ...)
  end }, { __index = REDIS_READER })
end

local known, user, account, plan_name = 1, {}, nil, default_plan
if tags.user ~= '' then
  user, account, plan_name = load_user(prefix, tags.user, default_plan, reader)
  if next(user) == nil then known = 0 end
  if account then tags.account = 'account:' .. account end
elseif tags.account ~= '' then
  local k = key(prefix, 'account', tags.account)
  if redis.call('EXISTS', k) == 0 then known = 0 end
  local p = redis.call('HGET', k, 'plan')
  if p and p ~= '' then plan_name = p end
  account = string.sub(tags.account, 9)
end
if plan_arg ~= '' then plan_name = plan_arg end

local plan, unknown_plan
plan, plan_name, unknown_plan = resolve_plan(plans, plan_name, default_plan)
local out = { known, plan_name, unknown_plan or '', account or '' }
for _, l in ipairs(effective_limits(plan, user)) do
  local tag = tags[l.subject] or ''
  local count, retry = -1, -1
  if tag ~= '' and (counted_kind == '' or counted_kind == l.subject) then
    count, retry = window_usage(prefix, tag, l.suffix, l.window, l.max, buckets, now)
  end
  out[#out + 1] = { l.subject, tag, l.metric, fmt_int(l.max), fmt_int(l.window), fmt_int(count),
                    fmt_int(retry), l.override and 1 or 0 }
end
return out
