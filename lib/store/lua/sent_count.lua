-- sent_count (issue 17): on a Redis Cluster, one message a subject sent (the divisor of its
-- complaint and bounce rates, _rates.lua rate_count), counted in the subject's slot once the
-- message is admitted. On one Redis decide.lua counts every subject in its own call
-- (_rates.lua count_sent); on a cluster policyd calls this for the same subjects (the user or
-- sender subject, the sender tag when it differs, the account: lib/core/cluster_verdict.h
-- SentTags).
-- ARGV: prefix, the subject tag, now (ms), [abuse] rates spec (decide_args AbuseSpec().rates).
local prefix, tag, now, rates_spec = ARGV[1], ARGV[2], now_ms(ARGV[3]), ARGV[4]
if rates_spec == '' then return 0 end
rate_count(key(prefix, 'sent', tag), 1, now, parse_rates(rates_spec))
return 1
