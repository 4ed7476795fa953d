-- account_signal: on a Redis Cluster, the account's part of complaint and bounce signals
-- (issue 17), in the accounts' slot: counts each in its account (pd:complaints:{account:A},
-- pd:bounces:{account:A}) and notes the account in the slot's rated set
-- (pd:rated_accounts:{HOME}), as signal.lua does on one Redis (_rates.lua
-- count_account_signal). Never blocks: an account's rate is shown, not judged.
-- ARGV: prefix, now_ms (0 = TIME), rates spec (AbuseSpec), home (the accounts' slot-tag), then
--       per signal: account (SAFE_NAME, as signal_facts.lua read it), kind ('complaint' or
--       'bounce').
-- Reply: per signal the account's rate text for the user's evidence entry ('' for a name that
--        is not SAFE_NAME).
local prefix, now = ARGV[1], now_ms(ARGV[2])
local rates, home = parse_rates(ARGV[3]), check_home(ARGV[4])
local out = {}
for i = 5, #ARGV, 2 do
  local account, kind = ARGV[i], ARGV[i + 1]
  if string.match(account, SAFE_NAME) and (kind == 'complaint' or kind == 'bounce') then
    out[#out + 1] = count_account_signal(prefix, account, kind, now, rates, home)
  else
    out[#out + 1] = ''
  end
end
return out
