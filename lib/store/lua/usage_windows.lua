-- flags: no-writes
-- usage_windows: where one subject's windows stand (policyctl usage and GET .../usage on a Redis
-- Cluster, issue 17; lib/ops/usage_ops.cc). usage.lua resolves a user's plan and reads the
-- user's own windows in the user's slot; the other subjects of the user's requests (its
-- account, a sender, an IP) live in other slots, and each one's windows are read here, in its
-- slot, for the limits usage.lua listed. Writes nothing.
-- ARGV: prefix, now_ms (0 = TIME), buckets, subject tag, then per limit: metric, window_s, max
-- Reply: per limit { count, retry_after_s } (as usage.lua states them)
local prefix, now, buckets, tag = ARGV[1], now_ms(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local out = {}
for i = 5, #ARGV - 2, 3 do
  local metric, window, max = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local count, retry = window_usage(prefix, tag, metric .. ':' .. fmt_int(window), window, max,
                                    buckets, now)
  out[#out + 1] = { fmt_int(count), fmt_int(retry) }
end
return out
