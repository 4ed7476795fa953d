-- flags: no-writes
-- signal_facts: on a Redis Cluster, the first step of complaint and bounce signals (issue 17),
-- in the subjects' slot: whether each signal's feedback id was seen already (a duplicate counts
-- nowhere, not even in the account) and the user's account, so that ReportStore can count the
-- account in its own slot (account_signal.lua) before signal.lua judges the subject with the
-- account's rate text. On one Redis signal.lua does all of it. Read-only: signal.lua takes the
-- feedback id, so a call that fails after this one leaves the signal to a retry (which may
-- count the account twice: an account's rate is shown, never blocked on).
-- ARGV: prefix, now_ms (0 = TIME), rates spec (AbuseSpec), then per signal: tag (escaped),
--       feedback id ('' = none).
-- Reply: per signal { 'new' or 'duplicate', account ('' = none: a sender, or no account) }.
local prefix, now = ARGV[1], now_ms(ARGV[2])
local rates = parse_rates(ARGV[3])
local out, batch = {}, {}
for i = 4, #ARGV, 2 do
  local tag, dedup = ARGV[i], ARGV[i + 1]
  -- The same id twice in one batch: the second is a duplicate, as signal.lua will find it.
  local again = dedup ~= '' and batch[tag .. '\n' .. dedup]
  if dedup ~= '' then batch[tag .. '\n' .. dedup] = true end
  if again or feedback_seen(prefix, tag, dedup, now, rates) then
    out[#out + 1] = { 'duplicate', '' }
  else
    out[#out + 1] = { 'new', user_account(prefix, tag) or '' }
  end
end
return out
