-- Complaint and hard-bounce rates (DESIGN §3, issue 18): per SMTP user and per sender address,
-- complaints / messages and bounces / messages over [abuse] rate_window, where messages are the
-- ones decide.lua counted (END-OF-MESSAGE, or the first RCPT with count_at = rcpt). Never a
-- whole account. Prelude after _common.lua (name order), so its helpers are in scope.
--
-- Counts live in one hash per subject and kind (pd:sent:{TAG}, pd:complaints:{TAG},
-- pd:bounces:{TAG}) with one field per bucket index (bucket = rate_window / RATE_BUCKETS), so a
-- decision pays one HINCRBY per subject, and once per bucket a PEXPIRE and the dropping of
-- buckets that left the window. Reading a rate (only when feedback arrives) sums the live
-- buckets: the window is exact to one bucket (a quarter of a day for 7 days).

local RATE_BUCKETS = 28

-- The rates spec (lib/core/decide_args.cc AbuseSpec): 'WINDOW_MS,MIN,CW,CB,BW,BB', levels in
-- percent.
local parse_rates = memoize(function(spec)
  local v = {}
  for n in string.gmatch(spec, '[^,]+') do v[#v + 1] = tonumber(n) end
  local window = v[1] or 604800000
  return { window = window, bucket = math.ceil(window / RATE_BUCKETS), min = v[2] or 0,
           complaint = { warn = v[3] or 0.1, block = v[4] or 0.5 },
           bounce = { warn = v[5] or 5, block = v[6] or 10 } }
end)

-- Adds n to the current bucket of a rate hash. The first count of a bucket also renews the
-- TTL (the window plus one bucket: longer than any count in it lives) and drops the buckets
-- that left the window, so a busy subject's hash never holds more than RATE_BUCKETS + 1 fields.
local function rate_count(k, n, now, rates)
  local cur = math.floor(now / rates.bucket)
  -- The increment as text (int_name: a table lookup): Redis 7.0 formats a Lua number
  -- argument with snprintf.
  local v = redis.call('HINCRBY', k, int_name(cur), int_name(n))
  if v == n then
    redis.call('PEXPIRE', k, rates.window + rates.bucket)
    local old = {}
    for _, f in ipairs(redis.call('HKEYS', k)) do
      local i = tonumber(f)
      if i and i <= cur - RATE_BUCKETS then old[#old + 1] = f end
    end
    if #old > 0 then redis.call('HDEL', k, unpack(old)) end
  end
end

-- The sum of a rate hash's buckets within the window ending now.
local function rate_sum(k, now, rates)
  local cur = math.floor(now / rates.bucket)
  local flat = redis.call('HGETALL', k)
  local total = 0
  for i = 1, #flat, 2 do
    local idx = tonumber(flat[i])
    if idx and idx > cur - RATE_BUCKETS and idx <= cur then
      total = total + (tonumber(flat[i + 1]) or 0)
    end
  end
  return total
end

-- decide.lua, for a counted message: one count per subject (user and sender; once when the
-- unauthenticated sender is both) and for the user's account (account_tag, or nil): an
-- account's rate is shown, never blocked on.
-- On a Redis Cluster policyd counts the same subjects one call each (sent_count.lua,
-- lib/core/cluster_verdict.h SentTags): keep the two in step.
local function count_sent(prefix, subject, sender_tag, now, rates_spec, account_tag)
  if rates_spec == nil or rates_spec == '' then return end
  local rates = parse_rates(rates_spec)
  rate_count(key(prefix, 'sent', subject), 1, now, rates)
  if sender_tag ~= '' and sender_tag ~= subject then
    rate_count(key(prefix, 'sent', sender_tag), 1, now, rates)
  end
  if account_tag then rate_count(key(prefix, 'sent', account_tag), 1, now, rates) end
end

-- '1,000' for 1000: the report page states numbers as a customer reads them.
local function thousands(n)
  local s = fmt_int(n)
  local out = string.reverse((string.gsub(string.reverse(s), '(%d%d%d)', '%1,')))
  if string.sub(out, 1, 1) == ',' then out = string.sub(out, 2) end
  return out
end

-- '7 days', '1 day', '12 hours', '90 minutes': the window as the customer reads it.
local function window_text(ms)
  local s = math.floor(ms / 1000)
  local function unit(n, one) return n .. ' ' .. one .. (n == 1 and '' or 's') end
  if s % 86400 == 0 then return unit(s / 86400, 'day') end
  if s % 3600 == 0 then return unit(s / 3600, 'hour') end
  if s % 60 == 0 then return unit(s / 60, 'minute') end
  return unit(s, 'second')
end

-- Two significant digits below 10, one decimal above, no exponent: 0.6, 0.05, 5, 10.5, 12.
local function percent_text(p)
  local s
  if p >= 10 then
    s = string.gsub(string.format('%.1f', p), '%.0$', '')
  else
    s = string.format('%.2g', p)
    if string.find(s, 'e') then s = string.gsub(string.format('%.6f', p), '%.?0+$', '') end
  end
  return s
end

-- "complaint rate 0.6 % — 6 complaints in 1,000 messages over 7 days (block level 0.5 %)";
-- without the block level for an account (never blocked on).
local function rate_text(kind, n, sent, rates, no_level)
  local plural = kind == 'complaint' and 'complaint' or 'bounce'
  if n ~= 1 then plural = plural .. 's' end
  local label = kind == 'complaint' and 'complaint rate' or 'bounce rate'
  local rate = sent > 0 and percent_text(100 * n / sent) .. ' %' or 'n/a'
  local text = string.format('%s %s \226\128\148 %s %s in %s messages over %s', label, rate,
                             thousands(n), plural, thousands(sent), window_text(rates.window))
  if no_level then return text end
  return text .. ' (block level ' .. percent_text(rates[kind].block) .. ' %)'
end

-- The accounts that had a complaint or a bounce in the window, scored by the last one's time,
-- so GET /metrics (account_rates.lua) reads the few accounts worth a gauge without a SCAN of
-- every counter. Trimmed to the window and to the RATED_ACCOUNTS_MAX newest at every write.
-- home (issue 17): '' on one Redis (one set, PREFIXrated_accounts); on a cluster the slot-tag of
-- the account's slot, one set per slot (PREFIXrated_accounts:{TAG}) beside the accounts' counters
-- it names, so the write and account_rates.lua stay in one slot.
local RATED_ACCOUNTS_MAX = 1000
local function note_rated_account(prefix, account, now, rates, home)
  local k = home_key(prefix, 'rated_accounts', home)
  redis.call('ZADD', k, now, account)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. fmt_int(now - rates.window))
  redis.call('ZREMRANGEBYRANK', k, 0, -(RATED_ACCOUNTS_MAX + 1))
  redis.call('PEXPIRE', k, rates.window)
end

-- account_rates.lua: the accounts of the home's rated set within the window, newest first, at
-- most max, each as { account, messages, complaints, bounces, last } summed as a user's rate
-- is; last is the time of its newest complaint or bounce (a cluster merges slots by it).
local function account_rate_rows(prefix, now, rates, max, home)
  local k = home_key(prefix, 'rated_accounts', home)
  local since = '(' .. fmt_int(now - rates.window)
  local rows = {}
  local flat = redis.call('ZREVRANGEBYSCORE', k, '+inf', since, 'WITHSCORES', 'LIMIT', 0,
                          math.min(max, RATED_ACCOUNTS_MAX))
  for i = 1, #flat, 2 do
    local account = flat[i]
    if string.match(account, SAFE_NAME) then
      local atag = 'account:' .. account
      rows[#rows + 1] = { account, rate_sum(key(prefix, 'sent', atag), now, rates),
                          rate_sum(key(prefix, 'complaints', atag), now, rates),
                          rate_sum(key(prefix, 'bounces', atag), now, rates),
                          flat[i + 1] }
    end
  end
  return rows
end

-- A complaint or bounce of a user, in its account (SAFE_NAME): counted beside the user's and
-- noted among the rated accounts; returns the account's rate text for the user's evidence
-- entry (never blocked on). On one Redis add_rate_signal calls it; on a cluster
-- account_signal.lua does, in the account's slot (home: that slot's tag).
local function count_account_signal(prefix, account, kind, now, rates, home)
  local atag = 'account:' .. account
  local ak = key(prefix, kind == 'complaint' and 'complaints' or 'bounces', atag)
  rate_count(ak, 1, now, rates)
  note_rated_account(prefix, account, now, rates, home)
  return 'account ' .. account .. ': ' ..
    rate_text(kind, rate_sum(ak, now, rates), rate_sum(key(prefix, 'sent', atag), now, rates),
              rates, true)
end

-- Whether a feedback id (dedup, '' = none) of `tag` was seen within the window: the same
-- report counts once. signal_facts.lua asks it on a cluster before the account is counted.
local function feedback_seen(prefix, tag, dedup, now, rates)
  if dedup == '' then return false end
  local cur, prev = slice_keys(prefix, 'fbseen', tag, rates.window, now)
  return slice_get(cur, prev, dedup) and true or false
end

-- The account of a user tag (SAFE_NAME), or nil: a sender address has none.
local function user_account(prefix, tag)
  if string.sub(tag, 1, 5) ~= 'user:' then return nil end
  local account = redis.call('HGET', key(prefix, 'user', tag), 'account')
  if account and string.match(account, SAFE_NAME) then return account end
  return nil
end

-- One complaint or hard bounce of `tag` (signal.lua). dedup: an id of the feedback message
-- ('' = none); the same id within the window counts once. Returns the rate text, the outcome
-- ('counted', 'warned', 'blocked' or 'duplicate') and the reason of a block it made ('').
-- home: as add_signal's. On one Redis (home '') the user's account is counted here too; on a
-- cluster its counters are another slot's, so ReportStore has counted it already
-- (account_signal.lua, after signal_facts.lua found the feedback id new) and account_rate is
-- the text that call returned ('' = no account).
local function add_rate_signal(prefix, tag, kind, detail, dedup, now, rates, abuse, report_id,
                               report_ttl, source, home, account_rate)
  if feedback_seen(prefix, tag, dedup, now, rates) then return '', 'duplicate', '' end
  if dedup ~= '' then
    local cur, _, ttl = slice_keys(prefix, 'fbseen', tag, rates.window, now)
    slice_set(cur, ttl, dedup, fmt_int(now))
  end
  local ck = key(prefix, kind == 'complaint' and 'complaints' or 'bounces', tag)
  rate_count(ck, 1, now, rates)
  local n = rate_sum(ck, now, rates)
  local sent = rate_sum(key(prefix, 'sent', tag), now, rates)
  local level = rates[kind]
  local pct = sent > 0 and 100 * n / sent or math.huge
  local text = rate_text(kind, n, sent, rates)
  -- The account of a user: counted and its rate shown beside the user's, never blocked on.
  if home ~= '' then
    if account_rate == '' then account_rate = nil end
  else
    local account = user_account(prefix, tag)
    account_rate = account and count_account_signal(prefix, account, kind, now, rates, '')
  end
  add_evidence(prefix, tag, { at = now, kind = kind, detail = detail, rate = text,
                              account_rate = account_rate, source = source },
               abuse.evidence_max, abuse.evidence_ttl)
  -- Levels are crossed when the rate is above them: 5 in 1,000 is at a 0.5 % level, the 6th
  -- passes it.
  if sent >= rates.min and pct > level.block then
    if active_block(prefix, tag, now) then return text, 'counted', '' end
    local reason = kind == 'complaint' and 'spam' or 'abuse'
    escalate_block(prefix, tag, reason, text, now, abuse, report_id, report_ttl, source, home)
    return text, 'blocked', reason
  end
  if pct > level.warn then
    -- One warning per subject, kind and bucket: a stream of complaints is one event, not many.
    local wk = key(prefix, 'ratewarn', tag)
    local bucket = int_name(math.floor(now / rates.bucket))
    if redis.call('HGET', wk, kind) ~= bucket then
      redis.call('HSET', wk, kind, bucket)
      redis.call('PEXPIRE', wk, rates.window)
      emit_event(prefix, 'rate.warning', tag, now, {
        kind = kind, count = n, messages = sent,
        rate_percent = sent > 0 and 100 * n / sent or cjson.null,
        warn_level = level.warn, block_level = level.block, min_messages = rates.min,
        window_ms = rates.window, text = text, below_min_volume = sent < rates.min }, home)
      return text, 'warned', ''
    end
  end
  return text, 'counted', ''
end
