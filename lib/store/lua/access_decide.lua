-- flags: no-writes
-- access_decide (issue 17): decide.lua's sections 1-3 for a decision on a Redis Cluster, from
-- the records policyd fetched slot by slot (lib/store/cluster_access.h), as access_eval.lua
-- reads them; keyless, so it runs on any primary. Where access_eval.lua answers what the
-- access cache keeps, this answers what the decision needs: the kind of outcome and what its
-- verdict names (the block, the ACL reason, the report's guidance).
-- ARGV: as access_eval.lua. Reply: _access.lua access_outcome; with mode (ARGV[1]) 'explain'
-- one more element, the facts sections 1-3 describe themselves with as JSON (decide.lua's,
-- which policyd completes with each subject's windows: lib/core/cluster_explain.h).
local a = access_request(ARGV, prefetched_reader(ARGV, 32))
local explain = ARGV[1] == 'explain'
if explain then a.facts = explain_facts(a.now, a.subject, ARGV[4]) end
local out = access_outcome(read_access(a))
if explain then out[#out + 1] = cjson.encode(a.facts) end
return out
