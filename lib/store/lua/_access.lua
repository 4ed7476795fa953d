-- Who may send (issue 16): the read-mostly part of a decision, shared by decide.lua's full path
-- and access_facts.lua (the read-only call that fills policyd's access cache). Prelude after
-- _common.lua (cmake/embed_text.cmake puts _common.lua first), so its helpers are in scope.
-- Reads only: blocks, the user record, its account and plan, the IP allow-list, the ACL
-- (verified domains, grants). The writes a refusal causes (ACL and IP reports) stay with
-- decide.lua, which alone may write.

-- 1. Blocks: the subject itself, then the envelope sender under any user. Returns the
-- blocked tag and its block (active_block), or nil. decide's fast path checks them too: a
-- block another decision created a moment ago (escalation) is in force before policyd hears
-- of it, so the replies around an escalation stay exact. reader: _common.lua REDIS_READER
-- when nil (decide's fast path).
local function read_block(prefix, subject, sender_tag, now, facts, reader)
  local block_keys = { key(prefix, 'block', subject) }
  if sender_tag ~= '' and sender_tag ~= subject then
    block_keys[2] = key(prefix, 'block', sender_tag)
  end
  -- Most requests have no block at all: one EXISTS answers that for both subjects.
  reader = reader or REDIS_READER
  if reader.exists(block_keys) == 0 then return nil end
  local tags = { subject }
  if block_keys[2] then tags[2] = sender_tag end
  for _, tag in ipairs(tags) do
    local b = active_block(prefix, tag, now, reader)
    if b then
      facts.block = { subject = tag, reason = b.reason, expires = b.expires }
      return tag, b
    end
  end
  return nil
end

-- a: { prefix, subject, sender_tag, domain, client, client_hex, unknown_user, default_plan,
--      plans (parsed), now, facts (a table the checks describe themselves in), reader (where
--      every read goes: _common.lua REDIS_READER when nil) }.
-- Returns an outcome: { kind = 'pass' | 'block' | 'unknown_dunno' | 'ip' | 'acl', ... } with
-- user (the record, {} when unknown or not a user), account (nil: none), plan, plan_name,
-- user_mode, acct_quota, unknown (true: no such user); 'block' adds tag and block, 'acl'
-- adds reason.
local function read_access(a)
  local facts, prefix, subject, sender_tag = a.facts, a.prefix, a.subject, a.sender_tag
  local out = { kind = 'pass', user = {}, user_mode = 'explicit' }
  local reader = a.reader or REDIS_READER

  -- 1. Blocks.
  local tag, b = read_block(prefix, subject, sender_tag, a.now, facts, reader)
  if tag then
    out.kind, out.tag, out.block = 'block', tag, b
    return out
  end

  -- 2. Who is sending: the user's record, account and plan (_common.lua load_user).
  local is_user = string.sub(subject, 1, 5) == 'user:'
  local plan_name, acl_reason = a.default_plan, nil
  if is_user then
    out.user, out.account, plan_name, out.acct_quota = load_user(prefix, subject, a.default_plan,
                                                                 reader)
    if next(out.user) == nil then
      facts.user = 'unknown'
      if a.unknown_user == 'dunno' then
        out.kind = 'unknown_dunno'
        return out
      end
      if a.unknown_user == 'reject' then
        acl_reason = 'unknown SMTP user'
      else
        plan_name, out.user_mode = a.unknown_user, 'account'
      end
      out.unknown = true
    else
      out.user_mode = out.user.mode or 'explicit'
    end
  end
  local unknown_plan
  out.plan, out.plan_name, unknown_plan = resolve_plan(a.plans, plan_name, a.default_plan)
  if unknown_plan then facts.plan_unknown = unknown_plan end
  facts.account, facts.plan, facts.mode = out.account or '', out.plan_name, out.user_mode

  -- 2b. The user's client IP allow-list (issue 19): users without one pay one table lookup.
  local user = out.user
  if user.ip_allow_match and user.ip_allow_match ~= '' then
    local allowed = ip_allowed(user.ip_allow_match, a.client_hex)
    facts.ip_allow = { client = a.client, list = user.ip_allow or '', allowed = allowed }
    if not allowed then
      out.kind = 'ip'
      return out
    end
  end

  -- 3. ACL: only for SMTP users, and never for the null sender.
  local function refuse(reason)
    out.kind, out.reason, facts.acl = 'acl', reason, reason
    return out
  end
  if is_user and sender_tag ~= '' then
    local domain = a.domain
    if acl_reason then return refuse(acl_reason) end
    if domain == '' then return refuse('sender has no valid domain') end
    local mode_used = out.user_mode
    if mode_used == 'any' and not out.plan.any then mode_used = 'account' end
    facts.mode_used = mode_used
    if mode_used ~= 'any' then
      local verified = false
      if out.account then
        local dk = key(prefix, 'domains', 'account:' .. out.account)
        for _, c in ipairs(domain_candidates(domain, true)) do
          if reader.hget(dk, c) == 'verified' then verified = c break end
        end
      end
      facts.verified = verified or false
      if not verified then
        return refuse('domain ' .. domain .. ' is not a verified domain of account ' ..
                      (out.account or '(none)'))
      end
      if mode_used == 'explicit' then
        local gk = key(prefix, 'grants', subject)
        local granted = false
        for _, c in ipairs(domain_candidates(domain, false)) do
          if reader.sismember(gk, c) == 1 then granted = c break end
        end
        facts.granted = granted or false
        if not granted then
          return refuse('domain ' .. domain .. ' is not granted to ' .. subject)
        end
      end
    end
  end
  return out
end

-- Resolved limits (issue 16): effective_limits(plan, user) -- the one implementation -- as the
-- text access_facts.lua returns, policyd's access cache keeps (lib/core/access_cache.h) and
-- decide.lua's fast path takes in ARGV[34]: 'SUBJECT:METRIC:WINDOW_S:MAX' entries joined by
-- ',', in effective_limits' order (the first refused limit names the refusal). METRIC:WINDOW_S
-- is the limit's window suffix as written (the field names of its window in pd:rate:).
local function format_limits(limits)
  local out = {}
  for i, l in ipairs(limits) do
    out[i] = l.subject .. ':' .. l.suffix .. ':' .. string.format('%.17g', l.max)
  end
  return table.concat(out, ',')
end

-- format_limits' text parsed back, remembered by text (as _common.lua memoize does for specs;
-- most users share their plan's text, users with overrides have their own): at most 256 kept.
-- Callers must not modify what it returns.
local limits_memo, limits_memo_size = {}, 0
local function parse_limits(text)
  local v = limits_memo[text]
  if v then return v end
  if limits_memo_size >= 256 then limits_memo, limits_memo_size = {}, 0 end
  v = {}
  for s, m, w, mx in string.gmatch(text, '(%a+):(%a+):(%d+):([^,]+)') do
    v[#v + 1] = { subject = s, metric = m, max = tonumber(mx) or math.huge, window = tonumber(w),
                  suffix = m .. ':' .. w }
  end
  limits_memo[text], limits_memo_size = v, limits_memo_size + 1
  return v
end

-- access_facts.lua's and access_eval.lua's read_access argument from decide.lua's ARGV 1-31
-- (only the mode, clock, prefix, subject, sender tag, domain, client, unknown_user,
-- default_plan and plans are read), reading through `reader`.
local function access_request(argv, reader)
  return { prefix = argv[3], subject = argv[6], sender_tag = argv[7], domain = argv[8],
           client = argv[24], client_hex = argv[30], unknown_user = argv[15],
           default_plan = argv[16], plans = parse_plans(argv[17]), now = now_ms(argv[2]),
           facts = {}, reader = reader }
end

-- read_access' outcome as access_facts.lua answers it (lib/core/access_cache.h
-- ParseAccessFacts): { 'full', per client } when the request must take decide's full path (a
-- block on either subject, an unknown user, an IP or ACL refusal: anything but a plain pass),
-- else { 'pass', the request's resolved limits (format_limits of effective_limits), account
-- ('' none), the user's quota field ('' none), the account's quota ('' none), per client }.
-- per client: '1' when the user has an IP allow-list (the answer holds for this client
-- address only: policyd keys it by the address then), else '0'.
local function access_reply(a)
  local per_client = (a.user.ip_allow_match or '') ~= '' and '1' or '0'
  if a.kind ~= 'pass' or a.unknown then return { 'full', per_client } end
  return { 'pass', format_limits(effective_limits(a.plan, a.user)), a.account or '',
           a.user.quota or '', a.acct_quota and string.format('%.17g', a.acct_quota) or '',
           per_client }
end

-- The records access_eval.lua and access_decide.lua are given (their ARGV from `first` on, the
-- layout access_eval.lua describes) as a reader for read_access. A read of anything not sent
-- is an error, never a silent "absent": a request policyd planned differently from
-- read_access fails instead of answering wrongly.
local function prefetched_reader(argv, first)
  local hashes, fields, members = {}, {}, {}
  local i, n_argv = first, #argv
  while i <= n_argv do
    local kind, k, n = argv[i], argv[i + 1], tonumber(argv[i + 2])
    if not (k and n and n >= 0 and n == math.floor(n) and i + 2 + 2 * n <= n_argv) then
      error('access_eval: malformed record at ARGV[' .. i .. ']')
    end
    local t = {}
    for j = i + 3, i + 1 + 2 * n, 2 do
      local f, v = argv[j], argv[j + 1]
      if kind == 'h' then
        t[f] = v
      elseif kind == 'f' then
        t[f] = v ~= '' and string.sub(v, 2) or false
      elseif kind == 'm' then
        t[f] = v == '1'
      end
    end
    if kind == 'h' then hashes[k] = t
    elseif kind == 'f' then fields[k] = t
    elseif kind == 'm' then members[k] = t
    else error('access_eval: unknown record kind at ARGV[' .. i .. ']') end
    i = i + 3 + 2 * n
  end
  local function sent(v, what)
    if v == nil then error('access_eval: ' .. what .. ' was not prefetched') end
    return v
  end
  local function hash(k) return sent(hashes[k], k) end
  return {
    exists = function(keys)
      local c = 0
      for _, k in ipairs(keys) do
        if next(hash(k)) ~= nil then c = c + 1 end
      end
      return c
    end,
    hgetall = hash,
    hmget = function(k, ...)
      local t, out = hash(k), {}
      for j, f in ipairs({ ... }) do out[j] = t[f] or false end
      return out
    end,
    hget = function(k, f)
      if hashes[k] then return hashes[k][f] or false end
      return sent(sent(fields[k], k)[f], k .. ' field ' .. f)
    end,
    sismember = function(k, m)
      return sent(sent(members[k], k)[m], k .. ' member ' .. m) and 1 or 0
    end,
  }
end

-- read_access' outcome as access_decide.lua answers it for a decision on a Redis Cluster
-- (lib/core/cluster_verdict.h ParseAccessOutcome): { kind, resolved limits (format_limits,
-- '' unless kind is 'pass'), account ('' none), the user's quota field, the account's quota,
-- blocked tag, block reason, block report, ACL reason, the mode an ACL report names
-- ('unknown': no such user), plan name }. kind is read_access' ('pass' also for an unknown
-- user under a plan).
local function access_outcome(a)
  local limits, tag, reason, report = '', a.tag or '', '', ''
  if a.kind == 'pass' then limits = format_limits(effective_limits(a.plan, a.user)) end
  if a.block then reason, report = a.block.reason or '', a.block.report or '' end
  return { a.kind, limits, a.account or '', a.user.quota or '',
           a.acct_quota and string.format('%.17g', a.acct_quota) or '', tag, reason, report,
           a.reason or '', next(a.user) and a.user_mode or 'unknown', a.plan_name or '' }
end
