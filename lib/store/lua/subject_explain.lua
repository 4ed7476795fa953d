-- flags: no-writes
-- subject_explain (issue 17): explain on a Redis Cluster, one subject's part, run in the
-- subject's slot: where each of its limits stands against what the request costs, as
-- decide.lua's explain lists them in facts.limits (_common.lua limit_fact, window_refusal).
-- Reads the subject's pd:rate hash only (one HMGET, decide.lua's window_read_all); writes
-- nothing, so an explain never changes a key.
-- ARGV: subject_count.lua's (lib/core/subject_count.h BuildSubjectCountArgs): the limits
-- from ARGV[11]; the identities and the reservation span are not read.
-- Reply: the subject's entries of facts.limits as a JSON array, one per limit in ARGV order
-- (a limit of an unknown metric or a bad window has none).
local now = now_ms(ARGV[1])
local prefix, tag, buckets = ARGV[2], ARGV[3], tonumber(ARGV[5])
if not buckets or buckets < 1 then
  return redis.error_reply('ERR subject_explain: bad arguments')
end
local cost = { messages = tonumber(ARGV[7]) or 0, recipients = tonumber(ARGV[8]) or 0,
               bytes = tonumber(ARGV[9]) or 0 }
local rk = key(prefix, 'rate', tag)
local rows = subject_windows(rk, ARGV, 11, cost, buckets, now).rows
local facts = {}
for i, r in ipairs(rows) do
  facts[i] = limit_fact(tag, r.metric, r.max, r.window, r.st,
                        window_refusal(r.st, r.cost, r.max, now))
end
-- cjson writes an empty table as {}: the caller knows the number of entries it asked for.
return cjson.encode(facts)
