-- user_ip_allow: replaces an SMTP user's client IP allow-list (issue 19; lib/ops
-- user_ip_allow.cc), both of its fields in one call, only if the user exists.
-- ARGV: prefix, user tag ('user:NAME', escaped), ip_allow (canonical CIDRs joined by ','; ''
--       clears the list), ip_allow_match (the same as HEX32/LEN, lib/core/ip_allow_list.h)
-- Reply: { 'ok', ip_allow } or { 'notfound', message }
local prefix, tag, text, match = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = key(prefix, 'user', tag)
if redis.call('EXISTS', k) == 0 then
  return { 'notfound', 'no such SMTP user' }
end
if text == '' then
  redis.call('HDEL', k, 'ip_allow', 'ip_allow_match')
else
  redis.call('HSET', k, 'ip_allow', text, 'ip_allow_match', match)
end
return { 'ok', text }
