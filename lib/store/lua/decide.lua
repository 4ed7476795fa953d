-- decide: the whole decision for one policy request, in one atomic call (DESIGN §3):
-- block -> ACL -> rate. Also counts (END-OF-MESSAGE, or RCPT with count_at = rcpt), records
-- throttles and escalates them to blocks, and creates ACL reports. With mode 'explain' it
-- writes nothing and returns the facts behind the decision as JSON.
--
-- ARGV (built by lib/core/decide_args.cc, in this order):
local mode, now_arg, prefix, stage, count_at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local subject, sender_tag, domain, ip_tag = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local recipient, rcpt_count, size = ARGV[10], tonumber(ARGV[11]) or 0, tonumber(ARGV[12]) or 0
local msg_id, rcpt_id = ARGV[13], ARGV[14]
local unknown_user, default_plan, plans_spec = ARGV[15], ARGV[16], ARGV[17]
local buckets, dedup_ttl = tonumber(ARGV[18]), tonumber(ARGV[19])
local report_id, report_ttl, acl_dedup = ARGV[20], tonumber(ARGV[21]), tonumber(ARGV[22])
local abuse_spec = ARGV[23]
local client, queue_id, sender = ARGV[24], ARGV[25], ARGV[26]
local score_spec = ARGV[27]
local lb = parse_list_bombing(ARGV[28])  -- _common.lua
local lb_messages, lb_window = lb.messages, lb.window
local rates_spec = ARGV[29]  -- _rates.lua parse_rates
local client_hex = ARGV[30]  -- the client address as 32 hex digits ('' = not an address)
local quota_spec = ARGV[31]  -- [quota]: 'OFFSET_MIN|reject|80,90,100' (lib/core/quota.h)
-- ARGV[32]: END-OF-MESSAGE, count_at = eom: the recipients policyd collected at RCPT for this
-- transaction, escaped and joined by '\n' (at most 1,000; '' = none: ARGV[10] is used), each
-- counted for list-bombing when the message is counted.
-- ARGV[33]: '1' = the fast path (issue 16; lib/core/access_cache.h): policyd's access cache,
-- filled by access_facts.lua and emptied on every change to users, accounts, domains, grants
-- and blocks, says this request passes sections 1-3: blocks are still checked, sections 2-3
-- skipped, and no plans spec is parsed. Then (the layout is access_facts.lua's reply):
--   ARGV[34] the request's resolved limits (_access.lua format_limits: the plan's limits with
--   the user's overrides, 'SUBJECT:METRIC:WINDOW_S:MAX,...', '' none), ARGV[35] the account
--   ('' none), ARGV[36] the user's 'quota' field ('' none), ARGV[37] the account's quota
--   ('' none).
-- Never in explain mode (explain always reads the facts itself).
local fast = ARGV[33] == '1'
-- Reply: { action, rule, report, domain, metric, count, max, window_s, retry_after, facts,
--          reason of a block this request created ('' if none), quota warning levels this
--          request crossed ('TAG PERCENT,...', '' if none) }; the numbers as integers
-- (formatting them would cost Redis more than a command).

local explain = mode == 'explain'
local now = now_ms(now_arg)
-- The facts only explain returns: other calls write into a table shared by all calls
-- (_common.lua NO_FACTS), never read, so a decision builds none of them.
local facts = explain and explain_facts(now, subject, stage) or NO_FACTS
local created_block = ''
local quota_warnings = ''

local function reply(action, rule, report, metric, count, max, window, retry)
  local f = ''
  if explain then f = cjson.encode(facts) end
  return { action, rule, report or '', domain, metric or '', count or 0, max or 0,
           window or 0, retry or 0, f, created_block, quota_warnings }
end

-- An earlier identical request (Postfix retries when it got no answer) gets the same answer
-- and counts nothing again. Answers and list-bombing entries live in the subject's pd:msg
-- slices (_common.lua MSG_MARK): the answer as field '%m' .. identity, 'c' for the common
-- "counted", else the reply as JSON; the recipients list-bombing would count (lb_rcpts) are
-- read in the same HMGET, the previous slice only for what the current one lacks.
local seen_field, lb_rcpts = nil, nil
if stage == 'eom' and count_at == 'eom' and msg_id ~= '' then
  seen_field = msg_id
  -- The recipients policyd collected for this transaction (ARGV[32]), else the request's own.
  lb_rcpts = {}
  local distinct = {}
  for r in string.gmatch(ARGV[32] or '', '[^\n]+') do
    if not distinct[r] then
      distinct[r] = true
      lb_rcpts[#lb_rcpts + 1] = r
      if #lb_rcpts >= 1000 then break end
    end
  end
  if #lb_rcpts == 0 then lb_rcpts = recipient ~= '' and { recipient } or nil end
elseif stage == 'rcpt' and count_at == 'rcpt' and rcpt_id ~= '' then
  seen_field = rcpt_id
  if recipient ~= '' then lb_rcpts = { recipient } end
end
local msg_cur, msg_ttl, msg_new, msg_seen, lb_new, lb_recent, lb_prev
if seen_field then
  local prev
  msg_cur, prev, msg_ttl = slice_keys(prefix, 'msg', subject, math.max(dedup_ttl, lb_window), now)
  local rcpt_counting = stage == 'rcpt'
  local fields = { MSG_MARK, msg_field(seen_field) }
  if rcpt_counting then fields[3] = msg_field(msg_id) end  -- its message counted already?
  local base = #fields
  if lb_rcpts then for i = 1, #lb_rcpts do fields[base + i] = lb_rcpts[i] end end
  local cv = redis.call('HMGET', msg_cur, unpack(fields))
  msg_new = not cv[1]
  local answer = cv[2]
  if rcpt_counting then msg_seen = cv[3] ~= false end
  local pfields = {}
  if not answer then pfields[1] = fields[2] end
  if rcpt_counting and not msg_seen then pfields[#pfields + 1] = fields[3] end
  local pbase = #pfields
  if lb_rcpts then
    local cur_vals = {}
    for i = 1, #lb_rcpts do cur_vals[i] = cv[base + i] end
    lb_new, lb_recent = lb_fresh(lb_rcpts, cur_vals, msg_id, now, lb_window)
    for i = 1, #lb_new do pfields[pbase + i] = lb_new[i] end
  end
  if #pfields > 0 then
    local pv = redis.call('HMGET', prev, unpack(pfields))
    local j = 1
    if not answer then answer, j = pv[1], 2 end
    if rcpt_counting and not msg_seen then msg_seen = pv[j] ~= false end
    lb_prev = {}
    if lb_new then for i = 1, #lb_new do lb_prev[i] = pv[pbase + i] end end
  end
  if answer and not explain then
    local r
    if answer == 'c' then r = reply('dunno', 'counted') else r = cjson.decode(answer) end
    r[2] = r[2] .. ' (repeat)'
    return r
  end
end

-- 1-3. Blocks, the user/account/plan, the IP allow-list, the ACL (_access.lua read_access).
-- The fast path (ARGV[33] = '1', policyd's access cache had a plain pass for this request)
-- checks the blocks only (one EXISTS: a block escalation just created is in force at once)
-- and takes what sections 2-4 would have found (the resolved limits) from ARGV[34...].
local user, account, plan, plan_name, acct_quota, limits
if fast and not explain then
  local tag, b = read_block(prefix, subject, sender_tag, now, facts)
  if tag then return reply('block', 'block ' .. tag .. ' reason=' .. b.reason, b.report) end
  limits = parse_limits(ARGV[34])
  if ARGV[35] ~= '' then account = ARGV[35] end
  user = {}
  if ARGV[36] ~= '' then user.quota = ARGV[36] end
  acct_quota = tonumber(ARGV[37])
else
  local a = read_access({
    prefix = prefix, subject = subject, sender_tag = sender_tag, domain = domain,
    client = client, client_hex = client_hex, unknown_user = unknown_user,
    default_plan = default_plan, plans = parse_plans(plans_spec), now = now, facts = facts })
  user, account, plan, plan_name, acct_quota = a.user, a.account, a.plan, a.plan_name,
                                               a.acct_quota
  if a.kind == 'block' then
    return reply('block', 'block ' .. a.tag .. ' reason=' .. a.block.reason, a.block.report)
  elseif a.kind == 'unknown_dunno' then
    return reply('dunno', 'unknown-user dunno')
  elseif a.kind == 'ip' or a.kind == 'acl' then
    -- A refusal has a report, one per (user, client address or domain) for [report]
    -- acl_dedup (_common.lua refusal_report).
    local id = refusal_report(prefix, {
      kind = a.kind, subject = subject, client = client, client_hex = client_hex,
      domain = domain, sender = sender, queue_id = queue_id, now = now, reason = a.reason,
      mode = next(user) and a.user_mode or 'unknown', account = account or '',
      plan = plan_name }, report_id, report_ttl, acl_dedup, not explain)
    if a.kind == 'ip' then return reply('ip', 'ip ' .. client .. ' not in allow-list', id) end
    return reply('acl', 'acl ' .. a.reason, id)
  end
end

-- 4. Rate limits: the plan's, with per-user overrides (user fields 'limit:SUBJ:METRIC:SECS');
-- the fast path has them resolved already (ARGV[34]).
limits = limits or effective_limits(plan, user)

local tags = { user = subject, sender = sender_tag, ip = ip_tag }
if account then tags.account = 'account:' .. account end

-- What this request costs, per metric. RCPT with count_at = eom is a read-only pre-check:
-- is there room for one more message with one more recipient?
local counting = (stage == 'eom' and count_at == 'eom') or (stage == 'rcpt' and count_at == 'rcpt')
local cost
if stage == 'eom' and count_at == 'eom' then
  cost = { messages = 1, recipients = rcpt_count, bytes = size }
elseif stage == 'rcpt' and count_at == 'rcpt' then
  if msg_seen then
    cost = { messages = 0, recipients = 1, bytes = 0 }
  else
    cost = { messages = 1, recipients = 1, bytes = size }
  end
elseif stage == 'rcpt' then
  cost = { messages = 1, recipients = 1, bytes = size }
else
  return reply('dunno', 'no rate check at this stage')
end

-- Each subject's windows are one hash (_common.lua window_read_all): gathered per subject
-- here, read with one HMGET each, counted below with one HSET each.
local groups, group_of = {}, {}   -- { key, states, costs, by_suffix } per subject tag
local check_l, check_st, check_c, check_tag = {}, {}, {}, {}  -- per applicable limit
for _, l in ipairs(limits) do
  local tag = tags[l.subject]
  local c = cost[l.metric]
  if tag and tag ~= '' and c then
    local g = group_of[tag]
    if not g then
      g = { key = key(prefix, 'rate', tag), states = {}, costs = {}, by_suffix = {} }
      group_of[tag], groups[#groups + 1] = g, g
    end
    -- An unauthenticated sender is both the 'user' and the 'sender' subject: a window that
    -- two limits share is checked against both but read and counted once.
    local st = g.by_suffix[l.suffix]
    if not st then
      st = window_state(g.key, window_names(l.suffix), l.window, buckets, now)
      g.by_suffix[l.suffix] = st
      local n = #g.states + 1
      g.states[n], g.costs[n] = st, c
    end
    local n = #check_l + 1
    check_l[n], check_st[n], check_c[n] = l, st, c
    if explain then check_tag[n] = tag end
  end
end
for _, g in ipairs(groups) do window_read_all(g.key, g.states) end

local refused = nil
if explain then facts.limits = {} end
for i = 1, #check_l do
  local l, st, c = check_l[i], check_st[i], check_c[i]
  local retry = window_refusal(st, c, l.max, now)
  if retry and not refused then refused = { l = l, st = st, cost = c, retry = retry } end
  if explain then
    facts.limits[#facts.limits + 1] = limit_fact(check_tag[i], l.metric, l.max, l.window, st,
                                                 retry)
  end
end

-- 4b. Monthly quotas (issue 19): only users and accounts that have one pay for them.
local quota, quota_list, quota_refused, period, period_end = nil, nil, nil, nil, nil
if tonumber(user.quota) or acct_quota then
  quota = parse_quota(quota_spec)
  period, period_end = quota_period(now, quota.offset)
  local subjects = {}
  if tonumber(user.quota) then subjects[1] = { subject, tonumber(user.quota) } end
  if acct_quota then subjects[#subjects + 1] = { 'account:' .. account, acct_quota } end
  quota_list = quota_states(prefix, subjects, period)
  if explain then facts.quota = {} end
  for _, s in ipairs(quota_list) do
    if explain then
      facts.quota[#facts.quota + 1] = { subject = s.tag, used = s.used, quota = s.quota,
                                        period = period, unlocked = s.unlocked }
    end
    if not quota_refused and cost.messages > 0 and s.used + cost.messages > s.quota and
       not s.unlocked then
      quota_refused = s
    end
  end
end

local result
if quota_refused and not refused then
  local s = quota_refused
  result = reply('quota', 'quota ' .. s.tag .. ' ' .. fmt_int(s.used) .. '/' ..
                 fmt_int(s.quota) .. ' in ' .. period, nil, 'messages', s.used, s.quota)
elseif refused then
  local l = refused.l
  result = reply('rate', 'rate ' .. l.subject .. '.' .. l.metric .. '.' .. l.window .. 's', nil,
                 l.metric, refused.st.total, l.max, l.window, refused.retry)
  if not explain then
    local abuse = parse_abuse(abuse_spec)
    -- Every throttle is evidence, and enough of them within [abuse] within become a block,
    -- decided here so that concurrent instances cannot both (or neither) block.
    add_evidence(prefix, subject, {
      at = now, kind = 'throttle', detail = l.metric .. ' ' .. fmt_int(refused.st.total) .. '/' ..
        fmt_int(l.max) .. ' per ' .. l.window .. 's (' .. l.subject .. ')',
      client = client, sender = sender, recipient = recipient, queue_id = queue_id },
      abuse.evidence_max, abuse.evidence_ttl)
    if count_throttles(prefix, subject, 1, now, abuse, report_id, report_ttl) then
      created_block = 'rate'
      result[11] = created_block
    end
  end
elseif counting and not explain then
  for _, g in ipairs(groups) do window_add_all(g.key, g.states, g.costs) end
  -- The messages complaint and bounce rates divide by (_rates.lua).
  if cost.messages > 0 then
    count_sent(prefix, subject, sender_tag, now, rates_spec, tags.account)
  end
  if quota_list and cost.messages > 0 then
    local abuse = parse_abuse(abuse_spec)
    quota_warnings = quota_add(prefix, quota_list, cost.messages, now, period_end, quota, period,
                               abuse.evidence_max, abuse.evidence_ttl)
  end
  result = reply('dunno', 'counted')
else
  result = reply('dunno', counting and 'within limits' or 'pre-check within limits')
end

-- List-bombing (_common.lua lb_record): each recipient of a message counted once. With
-- count_at = eom when the message is counted, for the recipients policyd collected for this
-- transaction (ARGV[32]) or else the request's own; the RCPT pre-check writes nothing. With
-- count_at = rcpt at each RCPT that is let through. Its entries are written with the answer.
local msg_args = {}
if lb_new and result[1] == 'dunno' and not explain and
   (stage == 'rcpt' or result[2] == 'counted') then
  for _, r in ipairs(lb_record(lb_new, lb_recent, lb_prev or {}, msg_id, now, lb_messages,
                               lb_window, msg_args)) do
    local _, reason = add_signal(prefix, subject, 'list_bombing', lb_messages ..
      ' messages to ' .. r .. ' within ' .. math.floor(lb_window / 1000) .. 's', now,
      parse_score(score_spec), parse_abuse(abuse_spec), report_id, report_ttl, 'list-bombing')
    if reason ~= '' then
      created_block = reason
      result[11] = reason
    end
  end
end

if seen_field and not explain then
  local answer = 'c'
  if result[1] ~= 'dunno' or result[2] ~= 'counted' or result[11] ~= '' then
    answer = cjson.encode(result)
  end
  local n = #msg_args
  msg_args[n + 1], msg_args[n + 2] = msg_field(seen_field), answer
  if stage == 'rcpt' and not refused then  -- its message is counted
    n = #msg_args
    msg_args[n + 1], msg_args[n + 2] = msg_field(msg_id), '1'
  end
  if msg_new then  -- a new slice: marked, and its TTL set once
    n = #msg_args
    msg_args[n + 1], msg_args[n + 2] = MSG_MARK, '1'
  end
  redis.call('HSET', msg_cur, unpack(msg_args))
  if msg_new then redis.call('PEXPIRE', msg_cur, msg_ttl) end
end
return result
