-- block_add: blocks a subject by hand (policyctl block add) or from a signal score, with a
-- report and an evidence entry. Replaces an existing block of the subject.
-- ARGV: prefix, now_ms (0 = TIME), tag ('user:NAME' | 'sender:ADDRESS', escaped), reason,
--       evidence text, duration_ms (0 = until removed), report_id, report_ttl_ms,
--       evidence_max, evidence_ttl_ms, source, home ('' or absent on one Redis; on a cluster
--       the subject's slot-tag and report_id one in its slot: _common.lua emit_event)
-- Reply: { report_id, expires ('' = never) }
local prefix, tag, reason, detail = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local now = now_ms(ARGV[2])
local duration, report_id, report_ttl = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local evidence_max, evidence_ttl, source = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
local home = check_home(ARGV[12])
add_evidence(prefix, tag, { at = now, kind = 'block', detail = reason .. ': ' .. detail,
                            source = source }, evidence_max, evidence_ttl)
local expires = create_block(prefix, tag, reason, detail, duration, report_id, report_ttl, now,
                             source, home)
if duration > 0 then
  redis.call('PEXPIRE', key(prefix, 'blockhist', tag), duration + report_ttl)
end
return { report_id, expires }
