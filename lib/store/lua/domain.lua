-- domain: an account's domains (issue 19; lib/ops/domain_ops.cc), each change in one atomic
-- call that first checks the account (and, for verify, the domain) exists.
-- ARGV: prefix, mode ('add' | 'add_verified' | 'verify' | 'del' | 'list'), account name
--       (checked: [A-Za-z0-9._-]{1,64}), domain (normalised; '' for list)
-- Reply: { 'ok', state ('verified' | 'unverified' | 'deleted' | ''), { domain, state, ... } }
--        or { 'notfound', 'account' | 'domain' }
local prefix, mode, account, domain = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', key(prefix, 'account', 'account:' .. account)) == 0 then
  return { 'notfound', 'account' }
end
local dk = key(prefix, 'domains', 'account:' .. account)
local state = ''
if mode == 'add' then
  redis.call('HSETNX', dk, domain, 'unverified')  -- adding again keeps a verified domain
  state = redis.call('HGET', dk, domain)
elseif mode == 'add_verified' or mode == 'verify' then
  if mode == 'verify' and redis.call('HEXISTS', dk, domain) == 0 then
    return { 'notfound', 'domain' }
  end
  redis.call('HSET', dk, domain, 'verified')
  state = 'verified'
elseif mode == 'del' then
  if redis.call('HDEL', dk, domain) == 0 then return { 'notfound', 'domain' } end
  state = 'deleted'
end
local list = {}
if mode == 'list' then list = redis.call('HGETALL', dk) end
return { 'ok', state, list }
