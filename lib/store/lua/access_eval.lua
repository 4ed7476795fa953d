-- flags: no-writes
-- access_eval (issue 17): access_facts.lua's answer on a Redis Cluster, where a request's
-- blocks, user, account, domains and grants live in up to three slots and no one script can
-- read them. policyd fetches those records with plain commands, each on its slot's primary
-- (lib/store/cluster_access.h), and calls this function with no keys, so it runs on any
-- primary: the same read_access (_access.lua) reads them through a reader over the records
-- (_access.lua prefetched_reader). access_decide.lua reads them the same way for a decision.
-- ARGV: decide.lua's ARGV 1-31 (as access_facts.lua), then the records
-- (lib/core/access_prefetch.h), each as ARGV elements of their own (binary-safe, nothing to
-- escape): KIND, KEY, N, then N pairs:
--   'h' a whole hash (HGETALL; N = 0: no such key): field, value
--   'f' some fields of a hash (HMGET): field, '=' .. value, or '' when the field is absent
--   'm' set memberships (SMISMEMBER): member, '1' or '0'
-- A read of anything not sent is an error, never a silent "absent": a request policyd planned
-- differently from read_access fails instead of answering wrongly.
-- Reply: access_facts.lua's (_access.lua access_reply).

return access_reply(read_access(access_request(ARGV, prefetched_reader(ARGV, 32))))
