-- record_throttles: the throttles of requests a policyd instance refused locally (its refusal
-- cache, lib/core/refusal_cache.h), recorded and escalated exactly as decide.lua records its
-- own: each one is pushed on the subject's pd:throttles list, and once the subject has been
-- throttled more than [abuse] throttle_events times within [abuse] within, it is blocked
-- (one atomic call, so racing instances create one block). A blocked subject's throttles
-- are dropped: Redis would have answered those requests with the block, which records none.
-- A batch of n pushes then checks once: the entry at index throttle_events is the same as
-- after the first push that would have crossed the threshold, since entries only get newer.
--
-- ARGV: prefix, abuse spec (parse_abuse), now (0: Redis TIME), report_ttl, then per subject:
--       tag, n (0 only reads the state), report id for a block, evidence detail.
-- Reply: per subject { throttle list length, 1 if the subject is blocked (now or before) }.
local prefix, abuse_spec, now_arg, report_ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_ms(now_arg)
local abuse = parse_abuse(abuse_spec)
local out = {}

for i = 5, #ARGV - 3, 4 do
  local tag, n, report_id, detail = ARGV[i], tonumber(ARGV[i + 1]) or 0, ARGV[i + 2], ARGV[i + 3]
  local tk = key(prefix, 'throttles', tag)
  if active_block(prefix, tag, now) then
    out[#out + 1] = { redis.call('LLEN', tk), 1 }
  elseif n == 0 then
    out[#out + 1] = { redis.call('LLEN', tk), 0 }
  else
    -- Evidence: one entry per batch (decide.lua writes one per throttle): the same facts,
    -- with how many local refusals it stands for, at a fraction of the writes.
    local what = detail .. ' (local'
    if n > 1 then what = what .. ', ' .. n .. ' throttles' end
    add_evidence(prefix, tag, { at = now, kind = 'throttle', detail = what .. ')' },
                 abuse.evidence_max, abuse.evidence_ttl)
    local t = fmt_int(now)
    local left = math.min(n, abuse.events + 1)  -- the list keeps events + 1 entries
    while left > 0 do
      local chunk = math.min(left, 1000)  -- bounded unpack
      local vals = {}
      for j = 1, chunk do vals[j] = t end
      redis.call('LPUSH', tk, unpack(vals))
      left = left - chunk
    end
    redis.call('LTRIM', tk, 0, abuse.events)
    redis.call('PEXPIRE', tk, abuse.within)
    local oldest = tonumber(redis.call('LINDEX', tk, abuse.events))
    if oldest and now - oldest <= abuse.within then
      escalate_block(prefix, tag, 'rate', 'throttled more than ' .. abuse.events ..
                     ' times within ' .. math.floor(abuse.within / 1000) .. 's', now, abuse,
                     report_id, report_ttl, 'escalation')
      redis.call('DEL', tk)
      out[#out + 1] = { 0, 1 }
    else
      out[#out + 1] = { redis.call('LLEN', tk), 0 }
    end
  end
end
return out
