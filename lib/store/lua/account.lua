-- account: an account's record and domains (issue 19; lib/ops/account_ops.cc): set its plan
-- (creating it) or show it, in one call.
-- ARGV: prefix, mode ('set' | 'create' (keep the stored plan) | 'show'), account name
--       (checked: [A-Za-z0-9._-]{1,64}), plan ('set': already checked against the config)
-- Reply: { 'ok', created (0|1), account hash (flat), domains hash (flat) }
--        or { 'notfound', 'account' }
local prefix, mode, account, plan = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = key(prefix, 'account', 'account:' .. account)
local created = 0
if mode == 'set' or mode == 'create' then
  -- An account is its hash; one without a plan of its own stores plan '' (default plan).
  created = redis.call('HSETNX', k, 'plan', mode == 'set' and plan or '')
  if mode == 'set' then redis.call('HSET', k, 'plan', plan) end
elseif redis.call('EXISTS', k) == 0 then
  return { 'notfound', 'account' }
end
return { 'ok', created, redis.call('HGETALL', k),
         redis.call('HGETALL', key(prefix, 'domains', 'account:' .. account)) }
