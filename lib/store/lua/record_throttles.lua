-- record_throttles: the throttles of requests a policyd instance refused locally (its refusal
-- cache, lib/core/refusal_cache.h), recorded and escalated exactly as decide.lua records its
-- own (_common.lua count_throttles): once a subject has been throttled more than [abuse]
-- throttle_events times within [abuse] within, it is blocked, in one atomic call, so racing
-- instances create one block. A blocked subject's throttles are dropped: Redis would have
-- answered those requests with the block, which records none.
--
-- ARGV: prefix, abuse spec (decide_args AbuseSpec().escalation), now (0: Redis TIME),
--       report_ttl, home ('' on one Redis; on a cluster the subjects' slot-tag, see
--       _common.lua emit_event: every subject of the call is then in that slot), then per
--       subject: tag, n (0 only reads the state), report id for a block (on a cluster one in
--       the subject's slot, NewReportId(tag)), evidence detail (escaped, bounded).
-- Reply: per subject { throttle list length, 1 if the subject is blocked (now or before),
-- 1 if this call blocked it, the block's reason and report id ('' when not blocked before) }:
-- on a cluster a rate refusal's throttle is recorded here after its access facts were read,
-- so a block made meanwhile by another request is what the refusal answers (decide.lua,
-- reading both in one call, would have answered the block).
local prefix, abuse_spec, now_arg, report_ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local home = check_home(ARGV[5])
local now = now_ms(now_arg)
local abuse = parse_abuse(abuse_spec)
local out = {}

for i = 6, #ARGV - 3, 4 do
  local tag, n, report_id, detail = ARGV[i], tonumber(ARGV[i + 1]) or 0, ARGV[i + 2], ARGV[i + 3]
  local tk = key(prefix, 'throttles', tag)
  local b = active_block(prefix, tag, now)
  if b then
    out[#out + 1] = { redis.call('LLEN', tk), 1, 0, b.reason, b.report }
  elseif n == 0 then
    out[#out + 1] = { redis.call('LLEN', tk), 0, 0, '', '' }
  else
    -- Evidence: one entry per batch (decide.lua writes one per throttle): the same facts,
    -- with how many local refusals it stands for, at a fraction of the writes.
    local what = detail .. ' (local'
    if n > 1 then what = what .. ', ' .. n .. ' throttles' end
    add_evidence(prefix, tag, { at = now, kind = 'throttle', detail = what .. ')' },
                 abuse.evidence_max, abuse.evidence_ttl)
    if count_throttles(prefix, tag, n, now, abuse, report_id, report_ttl, home) then
      out[#out + 1] = { 0, 1, 1, '', '' }
    else
      out[#out + 1] = { redis.call('LLEN', tk), 0, 0, '', '' }
    end
  end
end
return out
