-- record_throttles: n throttles of one subject that policyd refused by itself (a subject known
-- to be over a limit until its retry_after is refused without asking Redis), recorded as
-- decide.lua records one throttle (_common.lua count_throttles), so escalation to a block
-- happens as if every one of them had reached Redis: the same count, the same single block
-- under a race. A subject that is blocked meanwhile records nothing (it is refused as blocked
-- from now on, and a second block must never be made).
-- ARGV: prefix, now_ms (0 = TIME), subject tag (escaped, as decide's), n (>= 1), abuse spec
--       (decide_args AbuseSpec().escalation), report_id (used if it blocks), report_ttl_ms,
--       evidence detail (escaped, bounded: e.g. 'messages 5/5 per 3600s (user)')
-- Reply: the reason of the block it created ('rate'), '' if none.
local prefix, subject = ARGV[1], ARGV[3]
local now = now_ms(ARGV[2])
local n, abuse = tonumber(ARGV[4]) or 0, parse_abuse(ARGV[5])
local report_id, report_ttl, detail = ARGV[6], tonumber(ARGV[7]), ARGV[8]
if n < 1 or active_block(prefix, subject, now) then return '' end
add_evidence(prefix, subject, { at = now, kind = 'throttle', detail = detail, count = n,
                                source = 'policyd' }, abuse.evidence_max, abuse.evidence_ttl)
if count_throttles(prefix, subject, n, now, abuse, report_id, report_ttl) then return 'rate' end
return ''
