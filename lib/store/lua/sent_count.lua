-- sent_count (issue 17): on a Redis Cluster, one message a subject sent (the divisor of its
-- complaint and bounce rates, _rates.lua rate_count), counted in the subject's slot once the
-- message is admitted. On one Redis decide.lua counts every subject in its own call
-- (_rates.lua count_sent); on a cluster policyd calls this for the same subjects (the user or
-- sender subject, the sender tag when it differs, the account: lib/core/cluster_verdict.h
-- SentTags).
-- ARGV: prefix, the subject tag, now (ms), [abuse] rates spec (decide_args AbuseSpec().rates),
--   then with count_at = rcpt: the message identity and the reservation span (ms). Every
--   admitted RCPT of a message calls this; decide.lua counts the message at its first
--   admitted RCPT only, so the first call leaves a mark, '%s' .. MESSAGE -> '1', in the
--   subject's reservation slices (pd:resv:{TAG}:SLICE, subject_count.lua's) and later calls
--   find it and count nothing.
-- KEYS (a cluster call, not read here): the sent key, then with a message identity the two
-- reservation slices the mark may be in (declared so that a slot migration cannot split them).
local prefix, tag, now, rates_spec = ARGV[1], ARGV[2], now_ms(ARGV[3]), ARGV[4]
if rates_spec == '' then return 0 end
local message, span = ARGV[5] or '', tonumber(ARGV[6])
if message ~= '' and span and span > 0 then
  local cur, prev, ttl = slice_keys(prefix, 'resv', tag, span, now)
  local mark = '%s' .. message
  if slice_get(cur, prev, mark) then return 0 end
  slice_set(cur, ttl, mark, '1')
end
rate_count(key(prefix, 'sent', tag), 1, now, parse_rates(rates_spec))
return 1
