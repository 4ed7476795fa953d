-- user_set: creates or changes an SMTP user, or deletes it with its grants (issue 19;
-- lib/ops/user_ops.cc), in one call that checks what the change depends on.
-- ARGV: prefix, mode ('set' | 'del'), user tag ('user:NAME', escaped), account ('' = not
--       given; checked: [A-Za-z0-9._-]{1,64}), account checked ('' = check it here; '1' = the
--       caller found it in its own slot first, on a Redis Cluster, where this call may not
--       read it), mode given ('' = no), n (fields to set), then n field/value pairs, then the
--       fields to delete
-- Reply: { 'ok', created (0|1) } or { 'notfound', 'user' | 'account' }
--        or { 'invalid', field, message }
local prefix, op, tag, account = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local account_checked, mode_given = ARGV[5] == '1', ARGV[6]
local uk = key(prefix, 'user', tag)
local exists = redis.call('EXISTS', uk) == 1
if op == 'del' then
  if not exists then return { 'notfound', 'user' } end
  redis.call('DEL', uk, key(prefix, 'grants', tag))
  return { 'ok', 0 }
end
if not exists and account == '' then
  return { 'invalid', 'account', 'the user does not exist; an account is needed to create it' }
end
if account ~= '' and not account_checked and
   redis.call('EXISTS', key(prefix, 'account', 'account:' .. account)) == 0 then
  return { 'notfound', 'account' }
end
local n = tonumber(ARGV[7])
local set = {}
for i = 8, 7 + 2 * n do set[#set + 1] = ARGV[i] end
if not exists and mode_given == '' then
  set[#set + 1] = 'mode'
  set[#set + 1] = 'explicit'
end
if #set > 0 then redis.call('HSET', uk, unpack(set)) end
if #ARGV > 7 + 2 * n then redis.call('HDEL', uk, unpack(ARGV, 8 + 2 * n, #ARGV)) end
return { 'ok', exists and 0 or 1 }
