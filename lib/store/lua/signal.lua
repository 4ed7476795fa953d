-- signal: ingests a batch of abuse signals (policyctl signal, POST /api/v1/signals) in one
-- atomic call, so concurrent batches for one subject cannot both block it (or neither).
-- ARGV: prefix, now_ms (0 = TIME), abuse spec, score spec, report_ttl_ms, source, then per
--       signal: tag ('user:NAME' | 'sender:ADDRESS', escaped), kind, evidence, report_id.
-- Reply: per signal { score (string), block reason ('' = no block) }.
local prefix, now = ARGV[1], now_ms(ARGV[2])
local abuse, score = parse_abuse(ARGV[3]), parse_score(ARGV[4])
local report_ttl, source = tonumber(ARGV[5]), ARGV[6]
local out = {}
for i = 7, #ARGV, 4 do
  local total, reason = add_signal(prefix, ARGV[i], ARGV[i + 1], ARGV[i + 2], now, score, abuse,
                                   ARGV[i + 3], report_ttl, source)
  out[#out + 1] = { string.format('%g', total), reason }
end
return out
