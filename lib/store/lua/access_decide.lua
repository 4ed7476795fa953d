-- flags: no-writes
-- access_decide (issue 17): decide.lua's sections 1-3 for a decision on a Redis Cluster, from
-- the records policyd fetched slot by slot (lib/store/cluster_access.h), as access_eval.lua
-- reads them; keyless, so it runs on any primary. Where access_eval.lua answers what the
-- access cache keeps, this answers what the decision needs: the kind of outcome and what its
-- verdict names (the block, the ACL reason, the report's guidance).
-- ARGV: as access_eval.lua. Reply: _access.lua access_outcome.
return access_outcome(read_access(access_request(ARGV, prefetched_reader(ARGV, 32))))
