-- user_show: an SMTP user's record and grants in one read (issue 19; lib/ops/user_ops.cc).
-- ARGV: prefix, user tag ('user:NAME', escaped)
-- Reply: { 'ok', { field, value, ... } (the user hash), { grant, ... } } or { 'notfound', msg }
local prefix, tag = ARGV[1], ARGV[2]
local fields = redis.call('HGETALL', key(prefix, 'user', tag))
if #fields == 0 then return { 'notfound', 'no such SMTP user' } end
return { 'ok', fields, redis.call('SMEMBERS', key(prefix, 'grants', tag)) }
