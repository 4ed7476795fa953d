-- signal: ingests a batch of abuse signals (policyctl signal, POST /api/v1/signals,
-- policyd-feedback) in one atomic call, so concurrent batches for one subject cannot both
-- block it (or neither). Complaints and bounces are judged as rates against the messages the
-- subject sent (_rates.lua), and also weigh in the score when their weight is above 0; the
-- other kinds add to the weighted score (_common.lua add_signal).
-- ARGV: prefix, now_ms (0 = TIME), abuse spec, score spec, report_ttl_ms, source, rates spec,
--       home ('' on one Redis; on a cluster the subjects' slot-tag, every subject of the call
--       in that slot and report ids in it: _common.lua emit_event), then per signal: tag
--       ('user:NAME' | 'sender:ADDRESS', escaped), kind, evidence, report_id, feedback id
--       ('' = none; the same id for a subject within the rate window counts once), account
--       rate ('' on one Redis, where this call counts the user's account itself; on a cluster
--       the text account_signal.lua returned for a complaint or bounce, '' = no account).
-- On a cluster a complaint or bounce comes here third: signal_facts.lua read its feedback id
-- and the user's account in this slot, account_signal.lua counted the account in its slot,
-- and this call judges the subject (_rates.lua add_rate_signal).
-- Reply: per signal { score (string), block reason ('' = no block), rate text ('' for kinds
--        judged by score), outcome: 'scored', 'counted', 'warned', 'blocked' or 'duplicate' }.
local prefix, now = ARGV[1], now_ms(ARGV[2])
local abuse, score = parse_abuse(ARGV[3]), parse_score(ARGV[4])
local report_ttl, source, rates = tonumber(ARGV[5]), ARGV[6], parse_rates(ARGV[7])
local home = check_home(ARGV[8])
local out = {}
for i = 9, #ARGV, 6 do
  local tag, kind, detail, report_id, dedup = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
                                              ARGV[i + 4]
  local account_rate = ARGV[i + 5] or ''
  local text, outcome, reason = '', 'scored', ''
  if kind == 'complaint' or kind == 'bounce' then
    text, outcome, reason = add_rate_signal(prefix, tag, kind, detail, dedup, now, rates, abuse,
                                            report_id, report_ttl, source, home,
                                            account_rate)
  end
  local total = 0
  if outcome == 'scored' or (outcome ~= 'duplicate' and reason == '' and
                             (score.weights[kind] or 0) > 0) then
    total, reason = add_signal(prefix, tag, kind, detail, now, score, abuse, report_id,
                               report_ttl, source, outcome ~= 'scored', home)
    if reason ~= '' then outcome = 'blocked' end
  end
  out[#out + 1] = { string.format('%g', total), reason, text, outcome }
end
return out
