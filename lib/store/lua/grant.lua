-- grant: grants a domain pattern to an SMTP user, or revokes it (issue 19; lib/ops/grant_ops.cc),
-- in one call that checks what the grant depends on: the user exists and, to grant, the
-- user's account has the domain or a parent of it.
-- ARGV: prefix, mode ('grant' | 'revoke'), user tag ('user:NAME', escaped), pattern
--       ('example.com' | '*.example.com', normalised), then on a Redis Cluster, where this call
--       may not read the account's domains (another slot), the user's account, the covering
--       domain and its state as the caller read them ('', '', '' on one Redis), then the
--       pattern's base domain and each parent (C++ DomainAndParents), any of which on the
--       account covers the grant
-- Reply: { 'ok', account, covering domain, its state ('verified' | 'unverified'), user mode }
--        or { 'notfound', 'user' | 'account' | 'domain' | 'grant', account }
local prefix, mode, tag, pattern = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local given_account, given_domain, given_state = ARGV[5], ARGV[6], ARGV[7]
local uk = key(prefix, 'user', tag)
if mode == 'revoke' then
  if redis.call('SREM', key(prefix, 'grants', tag), pattern) == 0 then
    return { 'notfound', 'grant', '' }
  end
  return { 'ok', '', '', '', '' }
end
local u = redis.call('HMGET', uk, 'account', 'mode')
if redis.call('EXISTS', uk) == 0 then return { 'notfound', 'user', '' } end
local account = u[1]
if not account or not string.match(account, SAFE_NAME) then
  return { 'notfound', 'account', '' }
end
if given_account ~= '' then
  -- Cluster: the caller found the covering domain of given_account; the user must still be
  -- in that account.
  if account ~= given_account then return { 'conflict', 'the user\'s account changed; retry' } end
  redis.call('SADD', key(prefix, 'grants', tag), pattern)
  return { 'ok', account, given_domain, given_state, u[2] or 'explicit' }
end
local dk = key(prefix, 'domains', 'account:' .. account)
for i = 8, #ARGV do
  local state = redis.call('HGET', dk, ARGV[i])
  if state then
    redis.call('SADD', key(prefix, 'grants', tag), pattern)
    return { 'ok', account, ARGV[i], state, u[2] or 'explicit' }
  end
end
return { 'notfound', 'domain', account }
