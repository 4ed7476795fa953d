-- account_rates: the complaint and bounce counts of the accounts that had one in the rate
-- window (pd:rated_accounts, written by _rates.lua), for GET /metrics (issue 18: an account's
-- rate is shown and exported, never blocked on). Read-only: sums the same bucket hashes a
-- user's rate is summed from (rate_sum), so the numbers match the evidence entry's
-- account_rate.
-- ARGV: prefix, now_ms (0 = TIME), rates spec (AbuseSpec), max rows, home ('' or absent on one
--       Redis: pd:rated_accounts; on a cluster a slot-tag: that slot's pd:rated_accounts:{TAG},
--       whose accounts' counters are in the same slot; ReportStore calls it on every one)
-- Reply: { { account, messages, complaints, bounces, last }, ... }, newest complaint or bounce
--        first (last: its time in ms, by which a cluster's slots are merged).
local prefix, now = ARGV[1], now_ms(ARGV[2])
if ARGV[3] == nil or ARGV[3] == '' then return {} end
return account_rate_rows(prefix, now, parse_rates(ARGV[3]), tonumber(ARGV[4]) or 0,
                         check_home(ARGV[5]))
