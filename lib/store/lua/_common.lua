-- Shared helpers, prepended to every policyd script (cmake/embed_text.cmake).
-- Key layout (docs/redis-keys.md): PREFIX .. TYPE .. ':{' .. KIND .. ':' .. NAME .. '}' [.. rest].
-- Subject tags ('user:alice', 'sender:bob@example.com', 'ip:192.0.2.1') arrive already escaped by
-- the C++ side (redis_keys.cc), so a hostile name can never leave its braces; account names come
-- from Redis and are checked against SAFE_NAME before use.

local SAFE_NAME = '^[%w%._%-]+$'

-- decide.lua's facts table outside explain mode: written, never read, shared by every call
-- of the library so that a decision allocates none.
local NO_FACTS = {}

local function fmt_int(n)
  return string.format('%.0f', n)
end

-- fmt_int for numbers that recur across calls (sub-bucket and time-slice indexes change once a
-- bucket or slice): converting a number costs Redis's Lua about as much as a command, a table
-- lookup almost nothing. Lives as long as the function library (see memoize); at most 256
-- numbers are kept.
local int_names, int_names_size = {}, 0
local function int_name(n)
  local s = int_names[n]
  if s then return s end
  if int_names_size >= 256 then int_names, int_names_size = {}, 0 end
  s = fmt_int(n)
  int_names[n], int_names_size = s, int_names_size + 1
  return s
end

local function now_ms(arg)
  local n = tonumber(arg) or 0
  if n > 0 then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function key(prefix, ktype, tag, rest)
  local k = prefix .. ktype .. ':{' .. tag .. '}'
  if rest then k = k .. ':' .. rest end
  return k
end

-- parse(spec) remembered by spec text. In the function library (FCALL, store/script_runner.cc)
-- the memory lives as long as the library, so each config's [plans] and [abuse] are parsed
-- once instead of on every call; run as a plain EVAL it lasts one call. At most 16 specs are
-- kept (configs reloaded many times start it over). Callers must not modify what it returns.
local function memoize(parse)
  local memo, size = {}, 0
  return function(spec)
    local v = memo[spec]
    if v == nil then
      if size >= 16 then memo, size = {}, 0 end
      v = parse(spec)
      memo[spec], size = v, size + 1
    end
    return v
  end
end

local function hash_to_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- Where the reads of who may send (_access.lua read_access, and the load_user and
-- active_block it calls) go: REDIS_READER reads this Redis, as decide.lua and
-- access_facts.lua do; access_eval.lua (issue 17, Redis Cluster) passes a reader over records
-- policyd fetched beforehand from the slots they live in. One implementation of the access
-- logic, whichever Redis holds the keys. exists: how many of `keys` exist; hgetall: the hash as
-- a table ({} when absent; callers must not modify it); hmget, hget, sismember as the
-- commands answer (false for a missing field, 1 or 0).
local REDIS_READER = {
  exists = function(keys) return redis.call('EXISTS', unpack(keys)) end,
  hgetall = function(k) return hash_to_table(redis.call('HGETALL', k)) end,
  hmget = function(k, ...) return redis.call('HMGET', k, ...) end,
  hget = function(k, field) return redis.call('HGET', k, field) end,
  sismember = function(k, member) return redis.call('SISMEMBER', k, member) end,
}

-- Domain patterns. A grant 'example.com' matches only itself; '*.example.com' matches
-- example.com and every subdomain. An account's verified domain also covers its subdomains
-- (whoever controls example.com's DNS controls a.example.com's). Candidates are listed most
-- specific first: grants for 'a.example.com' are looked up as 'a.example.com',
-- '*.a.example.com', '*.example.com', '*.com'; verification adds 'example.com', 'com'.
local function domain_candidates(domain, with_parents)
  local out = { domain }
  local rest = domain
  while rest and rest ~= '' do
    out[#out + 1] = '*.' .. rest
    local dot = string.find(rest, '.', 1, true)
    if not dot then break end
    rest = string.sub(rest, dot + 1)
    if with_parents then out[#out + 1] = rest end
  end
  return out
end

-- ---------------------------------------------------------------------------------------
-- Sliding windows. All of a subject's windows live in one hash, PREFIX rate:{TAG}, with
-- fields per limit ('METRIC:WINDOW_S' = its suffix): SUFFIX:total (units in the window),
-- SUFFIX:first (the oldest bucket index that may still be present) and one field per live
-- sub-bucket, named by digits only, M WINDOW_S IIII (M: 1 messages, 2 recipients, 3 bytes;
-- IIII: the bucket index modulo 10,000, four digits), so that Redis stores the name as an
-- integer: the hash is then no bigger than three hashes with bare bucket indexes were.
-- Live buckets never span more than 601 indexes ([policy] buckets <= 600), so the names of
-- live buckets never collide. A subject with three limits costs one HMGET to check and one
-- HSET to count. Bucket size is ceil(window / buckets) so buckets * size >= window, and the
-- live buckets are [cur - buckets, cur]: every unit counted within one window of now is still
-- counted, so no window-length interval ever admits more than max. Expired buckets are found
-- by walking from 'first' (each index once in its life: O(1) amortised), never by scanning.

-- A limit's field names, made once per suffix (and the current bucket's once per bucket)
-- instead of once per call: string building costs Redis's Lua about as much as a command.
-- Lives as long as the library; at most 256 suffixes are kept.
local METRIC_DIGIT = { messages = '1', recipients = '2', bytes = '3' }
local window_names_memo, window_names_size = {}, 0
local function window_names(suffix)
  local w = window_names_memo[suffix]
  if w then return w end
  if window_names_size >= 256 then window_names_memo, window_names_size = {}, 0 end
  local metric, secs = string.match(suffix, '^(%a+):(%d+)$')
  w = { total = suffix .. ':total', first = suffix .. ':first',
        num = (METRIC_DIGIT[metric] or '9') .. (secs or '0') }
  window_names_memo[suffix], window_names_size = w, window_names_size + 1
  return w
end

local function bucket_name(names, i)
  return names.num .. string.format('%04d', i % 10000)
end

-- The window of one limit as read by window_read_all: { names, bs, cur, cur_field, cutoff,
-- buckets, window_s, total, first, cur_count, first_moved, expired (field names to drop, or
-- false), key }.
local function window_state(k, names, window_s, buckets, now)
  local bs = math.ceil(window_s * 1000 / buckets)
  local cur = math.floor(now / bs)
  if names.cur ~= cur then names.cur, names.cur_field = cur, bucket_name(names, cur) end
  -- Every field window_settle sets is in the constructor: a table that grows past its
  -- constructor's size is rehashed, which costs Redis's Lua more than the fields do.
  return { key = k, names = names, bs = bs, cur = cur, cur_field = names.cur_field,
           cutoff = cur - buckets, buckets = buckets, window_s = window_s, total = 0,
           first = false, cur_count = 0, first_moved = false, expired = false }
end

-- Completes a state from its three fields' values, reading expired buckets when the window
-- moved past 'first' (once per bucket).
local function window_settle(st, total, first, cur_count)
  st.total, st.first, st.cur_count = tonumber(total) or 0, tonumber(first), tonumber(cur_count) or 0
  if st.first == nil then
    st.first_moved, st.first, st.total, st.cur_count = true, st.cur, 0, 0
  elseif st.first < st.cutoff then
    local names, fields = st.names, {}
    if st.cutoff - st.first > st.buckets then
      -- Not counted for over a window: every bucket it may hold is stale
      -- (first <= any index <= first + buckets), the current one's name included.
      for i = st.first, st.first + st.buckets do fields[#fields + 1] = bucket_name(names, i) end
      st.total, st.cur_count, st.expired = 0, 0, fields
    else
      for i = st.first, st.cutoff - 1 do fields[#fields + 1] = bucket_name(names, i) end
      local vals = redis.call('HMGET', st.key, unpack(fields))
      local expired = {}
      for i, v in ipairs(vals) do
        if v then
          st.total = st.total - tonumber(v)
          expired[#expired + 1] = fields[i]
        end
      end
      if #expired > 0 then st.expired = expired end
    end
    st.first, st.first_moved = st.cutoff, true
  end
  if st.total < 0 then st.total = 0 end
  return st
end

-- Reads the windows `states` (window_state of one subject's hash k) with one HMGET.
local function window_read_all(k, states)
  local fields, n = {}, 0
  for i = 1, #states do
    local st = states[i]
    fields[n + 1], fields[n + 2], fields[n + 3] = st.names.total, st.names.first, st.cur_field
    n = n + 3
  end
  local v = redis.call('HMGET', k, unpack(fields))
  for i = 1, #states do window_settle(states[i], v[i * 3 - 2], v[i * 3 - 1], v[i * 3]) end
end

-- A subject call's limits (subject_count.lua, subject_explain.lua: ARGV from `first`, triples
-- metric, window_s, max) against `cost` (per metric), their windows read with one HMGET of the
-- subject's hash rk. Limits sharing a window (the same metric and window twice) share its
-- state: read (and counted) once, checked against each max. Returns rows, one per limit of a
-- known metric and a valid window in ARGV order ({ metric, window, max, st, cost }), and the
-- distinct windows: states, with each one's cost and suffix (window_add_all's arguments).
local function subject_windows(rk, args, first, cost, buckets, now)
  local w = { rows = {}, states = {}, costs = {}, suffixes = {} }
  local by_suffix = {}
  for i = first, #args - 2, 3 do
    local metric, window, max = args[i], tonumber(args[i + 1]), tonumber(args[i + 2])
    local c = cost[metric]
    if c and window and window > 0 and max then
      local suffix = metric .. ':' .. fmt_int(window)
      local st = by_suffix[suffix]
      if not st then
        st = window_state(rk, window_names(suffix), window, buckets, now)
        by_suffix[suffix] = st
        local n = #w.states + 1
        w.states[n], w.costs[n], w.suffixes[n] = st, c, suffix
      end
      w.rows[#w.rows + 1] = { metric = metric, window = window, max = max, st = st, cost = c }
    end
  end
  if #w.states > 0 then window_read_all(rk, w.states) end
  return w
end

-- One window, read alone (usage.lua).
local function window_read(prefix, tag, suffix, window_s, buckets, now)
  local k = key(prefix, 'rate', tag)
  local st = window_state(k, window_names(suffix), window_s, buckets, now)
  window_read_all(k, { st })
  return st
end

-- Seconds until the window admits `cost` more units under `max`: the time at which enough
-- of the oldest buckets have left the window. Exact for this window, so never early.
local function window_retry(st, cost, max, now)
  if cost > max then return math.ceil(st.buckets * st.bs / 1000) end
  local need = st.total + cost - max
  if need <= 0 then return 0 end
  local fields = {}
  for i = st.first, st.cur do fields[#fields + 1] = bucket_name(st.names, i) end
  local vals = redis.call('HMGET', st.key, unpack(fields))
  local freed = 0
  for i, v in ipairs(vals) do
    if v then
      freed = freed + tonumber(v)
      if freed >= need then
        local idx = st.first + i - 1
        local at = (idx + st.buckets + 1) * st.bs
        return math.max(1, math.ceil((at - now) / 1000))
      end
    end
  end
  return math.ceil(st.buckets * st.bs / 1000)
end

-- Where one limit's window stands for usage (usage.lua, usage_windows.lua): units in it now and
-- the seconds until one more unit fits under max (0 = now).
local function window_usage(prefix, tag, suffix, window_s, max, buckets, now)
  local st = window_read(prefix, tag, suffix, window_s, buckets, now)
  return st.total, window_retry(st, 1, max, now)
end

-- Whether one limit refuses what a request costs under it (decide.lua, subject_count.lua,
-- subject_explain.lua): the seconds until its window admits `cost` more (window_retry), or nil
-- when there is room. A cost of 0 never refuses.
local function window_refusal(st, cost, max, now)
  if cost > 0 and st.total + cost > max then return window_retry(st, cost, max, now) end
  return nil
end

-- ---------------------------------------------------------------------------------------
-- explain (issue 19): the facts behind a decision, as JSON. decide.lua builds them in one
-- call; on a Redis Cluster access_decide.lua (sections 1-3) and subject_explain.lua (each
-- subject's windows) build their parts with the same helpers and policyd joins them
-- (lib/core/cluster_explain.h).

-- The facts every explain starts from (read_access and decide.lua add theirs).
local function explain_facts(now, subject, stage)
  return { now = now, subject = subject, stage = stage }
end

-- One rate limit's entry of facts.limits: the subject's tag, the limit, the units its window
-- holds and, when it refuses (window_refusal), the seconds until it admits the request.
local function limit_fact(tag, metric, max, window, st, retry)
  return { subject = tag, metric = metric, max = max, window = window, count = st.total,
           retry_after = retry }
end

-- Counts costs[i] on states[i] (one subject's hash k, each window once):
-- one HSET, one HDEL of the expired buckets if any, and a PEXPIRE only when a bucket gets its
-- first count. The TTL is the subject's longest window (over all of `states`, counted or not)
-- plus a bucket and a second, set from a bucket's first count: it outlives every count the
-- hash holds, and being the same longest TTL each time it never shortens another window's.
local function window_add_all(k, states, costs)
  local args, expired, ttl, grow = {}, nil, 0, false
  for i = 1, #states do
    local st = states[i]
    local life = (st.buckets + 1) * st.bs + 1000
    if life > ttl then ttl = life end
    local c = costs[i]
    if c > 0 then
      local n = #args
      args[n + 1], args[n + 2] = st.cur_field, st.cur_count + c
      args[n + 3], args[n + 4] = st.names.total, st.total + c
      if st.first_moved then args[n + 5], args[n + 6] = st.names.first, st.first end
      if st.expired then
        expired = expired or {}
        for _, f in ipairs(st.expired) do expired[#expired + 1] = f end
      end
      if st.cur_count == 0 then grow = true end
    end
  end
  if #args == 0 then return end
  -- Before the HSET: a stale bucket may have the current one's name. Should the hash empty,
  -- the current bucket is new (cur_count 0), so the PEXPIRE below follows.
  if expired then redis.call('HDEL', k, unpack(expired)) end
  redis.call('HSET', k, unpack(args))
  if grow then redis.call('PEXPIRE', k, ttl) end
end

-- ---------------------------------------------------------------------------------------
-- Per-message state (answers kept for repeated requests, list-bombing entries) lives in one
-- hash per subject and time slice, a field per message or recipient, instead of a key per
-- message: a key costs about 230 B of Redis memory, a field in a small hash about 40 B.
-- Slice = floor(now / span). Lookups read the current and the previous slice, so an entry
-- is kept at least `span` and at most twice that; each slice expires once no lookup can
-- reach it. TTLs are relative so that an injected clock in tests expires nothing early.

local function slice_keys(prefix, ktype, tag, span, now)
  local s = math.floor(now / span)
  return key(prefix, ktype, tag, int_name(s)), key(prefix, ktype, tag, int_name(s - 1)),
         (s + 2) * span - now
end

local function slice_get(cur, prev, field)
  local v = redis.call('HGET', cur, field)
  if v then return v end
  return redis.call('HGET', prev, field)
end

-- Writes field, value [, field, value ...] into the current slice and (re)sets its TTL.
local function slice_set(cur, ttl_ms, ...)
  redis.call('HSET', cur, ...)
  redis.call('PEXPIRE', cur, ttl_ms)
end

-- The per-message state of decide.lua, one hash per subject and slice: PREFIX msg:{TAG}:SLICE
-- holds the answers kept for repeated requests and the list-bombing entries of the subject's
-- recipients, so that an END-OF-MESSAGE reads both with one HMGET of the current slice (and
-- one of the previous slice for what the current one lacks) and writes both with one HSET.
-- Fields: MSG_MARK (written once, with the slice's TTL: a slice without it is new), '%m' ..
-- identity for an answer, the recipient itself (escaped by the C++ side: a '%' there is
-- always followed by two upper-case hex digits, so no recipient is '%t' or starts with '%m').
-- The span is the larger of [server] dedup_ttl and [abuse] list_bombing_window, so every
-- entry is readable for at least its own window; list-bombing entries carry their times.
local MSG_MARK = '%t'
local function msg_field(id) return '%m' .. id end

-- List-bombing: many messages from one subject to one recipient within `window`. A
-- recipient's field holds 'TIME:ID,...' of the subject's latest messages to it (ID: the first
-- 12 hex digits of the message identity), so a repeated request counts once. At most `max`
-- entries are kept per slice, the newest: while fewer than `max` are within the window none
-- was dropped, so the count is exact up to the threshold, which fires once on reaching it.

-- [abuse] list_bombing_messages and list_bombing_window as 'MESSAGES,WINDOW_MS'.
local parse_list_bombing = memoize(function(spec)
  local m, w = string.match(spec or '', '^(%d+),(%d+)$')
  return { messages = tonumber(m), window = tonumber(w) }
end)

-- Whether entries `v` hold message `id`, and those of them within the window (time >= since).
local function lb_parse(v, since, id)
  local dup, kept = false, {}
  for t, i in string.gmatch(v or '', '(%d+):(%x+)') do
    if i == id then dup = true end
    if tonumber(t) >= since then kept[#kept + 1] = t .. ':' .. i end
  end
  return dup, kept
end

-- Step 1, from the current slice's values `cur_vals` of `recipients` (distinct): the
-- recipients not yet holding message msg_id (the ones the previous slice is read for) and
-- their kept current entries.
local function lb_fresh(recipients, cur_vals, msg_id, now, window)
  local id, since = string.sub(msg_id, 1, 12), now - window
  local fresh, recent = {}, {}
  for i, r in ipairs(recipients) do
    local dup, kept = lb_parse(cur_vals[i], since, id)
    if not dup then
      local n = #fresh + 1
      fresh[n], recent[n] = r, kept
    end
  end
  return fresh, recent
end

-- Step 2, from the previous slice's values `prev_vals` of `fresh`: appends to `args` the
-- field, value pairs that record msg_id for each of them; returns the recipients whose count
-- reached `max` now.
local function lb_record(fresh, recent, prev_vals, msg_id, now, max, window, args)
  local id, since = string.sub(msg_id, 1, 12), now - window
  local stamp = fmt_int(now) .. ':' .. id
  local fired = {}
  for i, r in ipairs(fresh) do
    local dup, old = lb_parse(prev_vals[i], since, id)
    if not dup then
      local kept = recent[i]
      local before = #old + #kept
      kept[#kept + 1] = stamp
      args[#args + 1] = r
      args[#args + 1] = table.concat(kept, ',', math.max(1, #kept - max + 1), #kept)
      if before + 1 == max then fired[#fired + 1] = r end
    end
  end
  return fired
end

-- ---------------------------------------------------------------------------------------
-- Events (docs/redis-keys.md, "Events"): one stream per relay, written in the same call as
-- the change that causes the event, so an event exists exactly when its change does. Webhook
-- delivery reads the stream; nothing in a decision reads it.
-- type: 'block.created', 'block.lifted', 'block.expired', 'review.requested',
-- 'quota.warning', 'rate.warning', 'throttle.started', ...; subject: a tag ('user:alice') or
-- ''; data: a table of the event's facts (encoded as JSON). The entry id is the event id.
--
-- `home` (issue 17) says where the keys that are not a subject's live for this call: '' (or
-- nil) on one Redis, PREFIX .. 'events' and PREFIX .. 'block_expiries' as ever; on a Redis
-- Cluster the slot-tag of the call's subject (lib/core/report_slot.h SubjectSlotTag, 1 to 4
-- of [0-9a-z]), so that they are the slot's own, PREFIX .. 'events:{' .. home .. '}' (an
-- outbox, moved to PREFIX .. 'events' by store/event_relay.h) and PREFIX ..
-- 'block_expiries:{' .. home .. '}', in the subject's slot like every key of the call.
local function check_home(home)
  home = home or ''
  if not string.match(home, '^[0-9a-z]*$') or #home > 4 then
    error({ err = 'ERR bad home slot-tag' })
  end
  return home
end

local function home_key(prefix, name, home)
  if home == nil or home == '' then return prefix .. name end
  return prefix .. name .. ':{' .. home .. '}'
end

local EVENTS_MAXLEN = 100000
local function emit_event(prefix, etype, subject, now, data, home)
  local k = home_key(prefix, 'events', home)
  redis.call('XADD', k, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', etype, 'subject', subject,
             'time', fmt_int(now), 'data', cjson.encode(data or {}))
  -- An emptied outbox lingers with a TTL (outbox_ack.lua); one holding an entry must not go.
  if home ~= nil and home ~= '' then redis.call('PERSIST', k) end
end

-- Blocks expire by TTL, which tells nobody; so each expiring block is also a member of one
-- sorted set per relay (per slot on a cluster: see home above), scored by its expiry, that
-- block_expire_sweep.lua empties, emitting block.expired as it removes each member, once.
-- expires_at nil: the block does not expire (or was lifted), so it leaves the set.
local function note_block_expiry(prefix, tag, expires_at, home)
  local zk = home_key(prefix, 'block_expiries', home)
  if expires_at then
    redis.call('ZADD', zk, expires_at, tag)
  else
    redis.call('ZREM', zk, tag)
  end
end

-- throttle.started: at most once per subject per [abuse] within (SET NX with that TTL), not
-- once per refused request.
local function note_throttle_started(prefix, tag, now, within_ms, home)
  if redis.call('SET', key(prefix, 'throttling', tag), fmt_int(now), 'NX', 'PX', within_ms) then
    emit_event(prefix, 'throttle.started', tag, now, { within_ms = within_ms }, home)
  end
end

-- ---------------------------------------------------------------------------------------
-- Reports, evidence, blocks.

-- A report's key from its id, as lib/core/report_slot.h ReportKeyName builds it: a slotted id
-- 'SLOTTAG.HEX' (what comes before its first '.') is kept in that slot, PREFIX ..
-- 'report:{SLOTTAG}.HEX'; any other id is PREFIX .. 'report:' .. id.
local function report_key(prefix, id)
  local tag, rest = string.match(id, '^([^.]+)(%..*)$')
  if tag then return prefix .. 'report:{' .. tag .. '}' .. rest end
  return prefix .. 'report:' .. id
end

local function create_report(prefix, id, ttl_ms, fields)
  local k = report_key(prefix, id)
  local args = {}
  for f, v in pairs(fields) do
    args[#args + 1] = f
    args[#args + 1] = v
  end
  redis.call('HSET', k, unpack(args))
  redis.call('PEXPIRE', k, ttl_ms)
  return id
end

-- The report of an IP allow-list or ACL refusal (decide.lua; refusal_report.lua on a cluster,
-- in the user's slot): one per (user, client address) or (user, sender domain) for [report]
-- acl_dedup, so a sender retrying a refused message does not fill Redis with reports.
-- r: { kind = 'ip' | 'acl', subject, client, client_hex, domain, sender, queue_id, now,
--      reason (acl), mode, account, plan (acl: the report page's guidance) }.
-- create false (explain): only an existing report is looked up. Returns its id, '' none.
local function refusal_report(prefix, r, report_id, report_ttl, dedup_ms, create)
  local dedup
  if r.kind == 'ip' then
    dedup = key(prefix, 'iprep', r.subject, r.client_hex)
  else
    dedup = key(prefix, 'aclrep', r.subject, r.domain)
  end
  local id = redis.call('GET', dedup)
  if not id and create then
    local fields
    if r.kind == 'ip' then
      fields = { kind = 'ip', subject = r.subject, reason = 'client address ' .. r.client ..
                   ' is not in the IP allow-list of ' .. r.subject, sender = r.sender,
                 client = r.client, created = fmt_int(r.now), expires = '', review = 'none',
                 queue_id = r.queue_id }
    else
      fields = { kind = 'acl', subject = r.subject, reason = r.reason, domain = r.domain,
                 sender = r.sender, created = fmt_int(r.now), expires = '', review = 'none',
                 client = r.client, queue_id = r.queue_id, mode = r.mode, account = r.account,
                 plan = r.plan }
    end
    id = create_report(prefix, report_id, report_ttl, fields)
    redis.call('SET', dedup, id, 'PX', dedup_ms)
  end
  return id or ''
end

-- Appends one evidence entry (JSON) to a subject's capped list.
local function add_evidence(prefix, tag, entry, max_entries, ttl_ms)
  local k = key(prefix, 'evidence', tag)
  redis.call('LPUSH', k, cjson.encode(entry))
  redis.call('LTRIM', k, 0, max_entries - 1)
  redis.call('PEXPIRE', k, ttl_ms)
end

-- A block on a subject ('user:NAME' or 'sender:ADDRESS'). duration_ms 0 = until removed.
-- The block hash has plain fields for redis-cli; the report carries the same facts plus the
-- evidence that was current when the block was made.
local function create_block(prefix, tag, reason, evidence, duration_ms, report_id, report_ttl_ms,
                            now, source, home)
  local k = key(prefix, 'block', tag)
  local expires = ''
  if duration_ms > 0 then expires = fmt_int(now + duration_ms) end
  redis.call('DEL', k)
  redis.call('HSET', k, 'subject', tag, 'reason', reason, 'evidence', evidence,
             'created', fmt_int(now), 'expires', expires, 'report', report_id, 'source', source)
  if duration_ms > 0 then redis.call('PEXPIREAT', k, now + duration_ms) end
  note_block_expiry(prefix, tag, duration_ms > 0 and now + duration_ms or nil, home)
  local ev = redis.call('LRANGE', key(prefix, 'evidence', tag), 0, -1)
  local ttl = report_ttl_ms
  if duration_ms > 0 and duration_ms > ttl then ttl = duration_ms end
  create_report(prefix, report_id, ttl, {
    kind = 'block', subject = tag, reason = reason, detail = evidence, created = fmt_int(now),
    expires = expires, evidence = cjson.encode(ev), review = 'none', source = source })
  local hist = key(prefix, 'blockhist', tag)
  redis.call('HINCRBY', hist, 'blocks', 1)
  redis.call('HSET', hist, 'last_at', fmt_int(now), 'last_duration', fmt_int(duration_ms),
             'last_reason', reason)
  emit_event(prefix, 'block.created', tag, now, { reason = reason, evidence = evidence,
             expires = expires, report = report_id, source = source }, home)
  return expires
end

-- The active block of a subject, or nil. Expiry is checked against now (not only the key's
-- TTL) so that an injected clock in tests sees the same expiry Redis would apply. reader:
-- REDIS_READER when nil.
local function active_block(prefix, tag, now, reader)
  local b = (reader or REDIS_READER).hmget(key(prefix, 'block', tag), 'reason', 'expires', 'report')
  if not b[1] then return nil end
  local expires = tonumber(b[2])
  if expires and expires <= now then return nil end
  return { reason = b[1], expires = b[2], report = b[3] or '' }
end

-- ---------------------------------------------------------------------------------------
-- Escalation (DESIGN §3): 'abuse' is the parsed [abuse] spec, see parse_abuse.

local parse_abuse = memoize(function(spec)
  local v = {}
  for n in string.gmatch(spec, '[^,]+') do v[#v + 1] = tonumber(n) end
  return { events = v[1], within = v[2], block_for = v[3], memory = v[4], escalate = v[5],
           max_block = v[6], evidence_max = v[7], evidence_ttl = v[8] }
end)

-- The next block's duration for a subject: block_for, or the previous block's duration times
-- escalate when that block was made within `memory`, capped at max_block.
local function next_block_duration(prefix, tag, now, abuse)
  local h = redis.call('HMGET', key(prefix, 'blockhist', tag), 'last_at', 'last_duration')
  local last_at, last_d = tonumber(h[1]), tonumber(h[2])
  local d = abuse.block_for
  if last_at and last_d and last_d > 0 and now - last_at <= abuse.memory then
    d = math.min(math.floor(last_d * abuse.escalate), abuse.max_block)
  end
  return d
end

-- Blocks `tag` with an escalated duration and remembers it for the next escalation.
local function escalate_block(prefix, tag, reason, detail, now, abuse, report_id, report_ttl, source,
                              home)
  local d = next_block_duration(prefix, tag, now, abuse)
  create_block(prefix, tag, reason, detail, d, report_id, report_ttl, now, source, home)
  -- The report page says a repeat escalates only for blocks made here (not by hand).
  redis.call('HSET', report_key(prefix, report_id), 'escalates', '1')
  redis.call('PEXPIRE', key(prefix, 'blockhist', tag), d + abuse.memory)
  return d
end

-- Records n throttles of `tag` at `now` and, when they make more than abuse.events within
-- abuse.within, blocks it ('rate', escalated): decided inside Redis so that concurrent
-- instances cannot both (or neither) block. The list holds the latest events + 1 throttle
-- times; n at once counts as n throttles at the same instant. Returns true if it blocked.
-- home: where its events and the block's expiry go (see emit_event).
local function count_throttles(prefix, tag, n, now, abuse, report_id, report_ttl, home)
  local tk = key(prefix, 'throttles', tag)
  note_throttle_started(prefix, tag, now, abuse.within, home)
  local stamp = fmt_int(now)
  -- The list keeps events + 1 entries; pushed in chunks so that unpack stays far below
  -- Lua's stack limit whatever the batch and throttle_events.
  local left = math.min(n, abuse.events + 1)
  while left > 0 do
    local stamps = {}
    for i = 1, math.min(left, 1000) do stamps[i] = stamp end
    redis.call('LPUSH', tk, unpack(stamps))
    left = left - #stamps
  end
  redis.call('LTRIM', tk, 0, abuse.events)
  redis.call('PEXPIRE', tk, abuse.within)
  local oldest = tonumber(redis.call('LINDEX', tk, abuse.events))
  if not (oldest and now - oldest <= abuse.within) then return false end
  escalate_block(prefix, tag, 'rate', 'throttled more than ' .. abuse.events .. ' times within ' ..
                 math.floor(abuse.within / 1000) .. 's', now, abuse, report_id, report_ttl,
                 'escalation', home)
  redis.call('DEL', tk)
  return true
end

-- ---------------------------------------------------------------------------------------
-- Signals (DESIGN §3): weighted events per subject in a sliding score window. A subject whose
-- score reaches the threshold is blocked ('spam' when spam and complaints weigh most, else
-- 'abuse') and its score starts over. 'score' is the parsed spec, see parse_score.

local parse_score = memoize(function(spec)
  local s = { weights = {} }
  local first = true
  for part in string.gmatch(spec, '[^,]+') do
    local k, v = string.match(part, '^([%w_]+)=([%d%.]+)$')
    if k == 'window' then s.window = tonumber(v)
    elseif k == 'threshold' then s.threshold = tonumber(v)
    elseif k then s.weights[k] = tonumber(v) end
  end
  return s
end)

-- Adds one signal. Returns the subject's score after it and the reason of a block it caused
-- ('' if none). has_evidence: the caller already wrote this signal's evidence entry
-- (complaints and bounces, _rates.lua).
-- home: where a block's event and expiry go (see emit_event); nil or '' on one Redis.
local function add_signal(prefix, tag, kind, detail, now, score, abuse, report_id, report_ttl,
                          source, has_evidence, home)
  local weight = score.weights[kind] or 0
  local k = key(prefix, 'signals', tag)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. fmt_int(now - score.window))
  redis.call('ZADD', k, now, fmt_int(now) .. ':' .. kind .. ':' .. weight .. ':' .. report_id)
  redis.call('PEXPIRE', k, score.window)
  if not has_evidence then
    add_evidence(prefix, tag, { at = now, kind = kind, detail = detail, weight = weight,
                                source = source }, abuse.evidence_max, abuse.evidence_ttl)
  end
  local total, spamlike = 0, 0
  for _, m in ipairs(redis.call('ZRANGE', k, 0, -1)) do
    local mk, mw = string.match(m, '^%d+:([%w_]+):([%d%.]+):')
    local w = tonumber(mw) or 0
    total = total + w
    if mk == 'spam' or mk == 'complaint' then spamlike = spamlike + w end
  end
  if total < score.threshold or weight <= 0 then return total, '' end
  if active_block(prefix, tag, now) then return total, '' end
  local reason = 'abuse'
  if spamlike * 2 >= total then reason = 'spam' end
  escalate_block(prefix, tag, reason, string.format('signal score %g reached %g within %ds',
                 total, score.threshold, math.floor(score.window / 1000)), now, abuse, report_id,
                 report_ttl, source, home)
  redis.call('DEL', k)
  return total, reason
end

-- ---------------------------------------------------------------------------------------
-- Plans and the limits that apply to a subject: decide.lua and usage.lua resolve them the
-- same way, so `policyctl usage` shows exactly the limits a decision checks.

-- The [plans] spec (lib/core/decide_args.cc PlansSpec): 'NAME|ANY|S:M:MAX:W,...;...'.
local parse_plans = memoize(function(spec)
  local plans = {}
  for p in string.gmatch(spec, '[^;]+') do
    local name, any, limits = string.match(p, '^([^|]*)|([01])|(.*)$')
    local plan = { any = any == '1', limits = {} }
    for l in string.gmatch(limits, '[^,]+') do
      local s, m, mx, w = string.match(l, '^(%a+):(%a+):(%d+):(%d+)$')
      -- id and suffix are built here, once per config, from the spec's own digits.
      plan.limits[#plan.limits + 1] = { subject = s, metric = m, max = tonumber(mx),
                                        window = tonumber(w), id = s .. ':' .. m .. ':' .. w,
                                        suffix = m .. ':' .. w }
    end
    plans[name] = plan
  end
  return plans
end)

-- A user's record ({} when unknown), its account name (nil unless it is a safe name) and the
-- plan name decisions use: the user's own plan, else the account's, else default_plan.
-- reader: REDIS_READER when nil.
local function load_user(prefix, subject, default_plan, reader)
  reader = reader or REDIS_READER
  local user = reader.hgetall(key(prefix, 'user', subject))
  if next(user) == nil then return user, nil, default_plan end
  local account = nil
  if user.account and string.match(user.account, SAFE_NAME) then account = user.account end
  local acct_plan, acct_quota = nil, nil
  if account then
    -- One read for both: the account's plan and its monthly quota (issue 19), if any.
    local a = reader.hmget(key(prefix, 'account', 'account:' .. account), 'plan', 'quota')
    acct_plan, acct_quota = a[1], tonumber(a[2])
    if acct_plan == '' or acct_plan == false then acct_plan = nil end  -- no plan of its own
  end
  local plan_name = (user.plan ~= nil and user.plan ~= '' and user.plan) or acct_plan or
                    default_plan
  return user, account, plan_name, acct_quota
end

-- ---------------------------------------------------------------------------------------
-- Monthly quotas (issue 19; lib/core/quota.h). A user's quota is its field 'quota', an
-- account's its field 'quota' (messages per calendar month). Per subject and period one
-- hash, PREFIX quota:{TAG}:YYYYMM, fields used, unlocked ('1': admits past 100 % for the rest
-- of the period), w<PERCENT> (the time that warning fired: each fires once per period).

-- [quota] as QuotaSpec: 'OFFSET_MIN|reject|80,90,100'.
local parse_quota = memoize(function(spec)
  local offset, exhausted, levels = string.match(spec or '', '^(%-?%d+)|(%a*)|([%d,]*)$')
  local q = { offset = tonumber(offset) or 0, defer = exhausted == 'defer', levels = {} }
  for p in string.gmatch(levels or '', '%d+') do q.levels[#q.levels + 1] = tonumber(p) end
  return q
end)

-- The calendar month of time now (ms) at a fixed offset from UTC (minutes): 'YYYYMM' and the
-- time (ms) the next month starts. Civil-date arithmetic (H. Hinnant's days_from_civil and
-- its inverse), so no time library is needed inside Redis.
local function quota_period(now, offset_min)
  local shift = offset_min * 60000
  local z = math.floor((now + shift) / 86400000) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) -
                          math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  local ny, nm = y, m + 1
  if nm > 12 then ny, nm = y + 1, 1 end
  local yy = nm <= 2 and ny - 1 or ny
  local era2 = math.floor(yy / 400)
  local yoe2 = yy - era2 * 400
  local doy2 = math.floor((153 * (nm > 2 and nm - 3 or nm + 9) + 2) / 5)
  local days = era2 * 146097 + yoe2 * 365 + math.floor(yoe2 / 4) - math.floor(yoe2 / 100) +
               doy2 - 719468
  return string.format('%04d%02d', y, m), days * 86400000 - shift
end

-- The quota states of a request's subjects that have a quota: { tag, quota, key, used,
-- unlocked } each, one HMGET per subject. subjects: { {tag, quota}, ... }.
local function quota_states(prefix, subjects, period)
  local states = {}
  for _, s in ipairs(subjects) do
    local k = key(prefix, 'quota', s[1], period)
    local v = redis.call('HMGET', k, 'used', 'unlocked')
    states[#states + 1] = { tag = s[1], quota = s[2], key = k, used = tonumber(v[1]) or 0,
                            unlocked = v[2] == '1' }
  end
  return states
end

-- Counts n messages on every state and fires each warning level crossed, once per period
-- (HSETNX: the counter crosses a level in one call only, the flag keeps it so even if a
-- quota is lowered and raised again). Returns the levels fired: 'TAG PERCENT,...'.
-- home: where the events go (emit_event; nil on one Redis, the slot-tag on a cluster).
local function quota_add(prefix, states, n, now, period_end, q, period, evidence_max,
                         evidence_ttl, home)
  local fired = {}
  for _, s in ipairs(states) do
    local used = redis.call('HINCRBY', s.key, 'used', n)
    -- Kept a month past the period, for usage and reports of the month just ended.
    redis.call('PEXPIREAT', s.key, period_end + 31 * 86400000)
    for _, p in ipairs(q.levels) do
      local level = math.ceil(p * s.quota / 100)
      if used - n < level and used >= level and
         redis.call('HSETNX', s.key, 'w' .. p, fmt_int(now)) == 1 then
        local detail = p .. '% of the monthly quota: ' .. fmt_int(used) .. '/' ..
                       fmt_int(s.quota) .. ' messages in ' .. period
        emit_event(prefix, 'quota.warning', s.tag, now, { percent = p, used = used,
                   quota = s.quota, period = period }, home)
        add_evidence(prefix, s.tag, { at = now, kind = 'quota', detail = detail },
                     evidence_max, evidence_ttl)
        fired[#fired + 1] = s.tag .. ' ' .. p
      end
    end
  end
  return table.concat(fired, ',')
end

-- Whether a client address is in a user's IP allow-list (issue 19). list: the user field
-- ip_allow_match, 'HEX32/LEN,...' (lib/core/ip_allow_list.h: networks as 128 bits, IPv4 as
-- IPv4-mapped, host bits zero); client_hex: the client address the same way ('' when it is
-- not an address: refused). A hex-prefix compare per entry, then the odd bits of one digit.
local function ip_allowed(list, client_hex)
  if client_hex == '' then return false end
  for net, len in string.gmatch(list, '(%x+)/(%d+)') do
    len = tonumber(len)
    local digits = math.floor(len / 4)
    if string.sub(client_hex, 1, digits) == string.sub(net, 1, digits) then
      local bits = len - digits * 4
      if bits == 0 then return true end
      local unit = 2 ^ (4 - bits)
      local a = tonumber(string.sub(client_hex, digits + 1, digits + 1), 16)
      local b = tonumber(string.sub(net, digits + 1, digits + 1), 16)
      if math.floor(a / unit) == math.floor(b / unit) then return true end
    end
  end
  return false
end

-- The plan called name, or the default plan when config has no such plan (a plan removed
-- from the config while users still name it). Third value: the unknown name, or nil.
local function resolve_plan(plans, name, default_plan)
  if plans[name] then return plans[name], name, nil end
  return plans[default_plan] or { any = false, limits = {} }, default_plan, name
end

-- The plan's limits with the user's overrides (fields 'limit:SUBJECT:METRIC:WINDOW_S' = max)
-- replacing a plan limit's max or adding a limit. Overridden entries have override = true.
-- Without overrides (most users) the plan's own list, which callers must not modify.
local function effective_limits(plan, user)
  local any = false
  for f in pairs(user) do
    if string.sub(f, 1, 6) == 'limit:' then any = true break end
  end
  if not any then return plan.limits end
  local limits, index = {}, {}
  for _, l in ipairs(plan.limits) do
    limits[#limits + 1] = { subject = l.subject, metric = l.metric, max = l.max, window = l.window,
                            suffix = l.suffix }
    index[l.id] = #limits
  end
  for f, v in pairs(user) do
    local s, m, w = string.match(f, '^limit:(%a+):(%a+):(%d+)$')
    if s and tonumber(v) then
      local id = s .. ':' .. m .. ':' .. w
      if index[id] then
        limits[index[id]].max = tonumber(v)
        limits[index[id]].override = true
      else
        limits[#limits + 1] = { subject = s, metric = m, max = tonumber(v), window = tonumber(w),
                                suffix = m .. ':' .. fmt_int(tonumber(w)), override = true }
        index[id] = #limits
      end
    end
  end
  return limits
end

-- ---------------------------------------------------------------------------------------
-- Refunds (issue 17, subject_refund.lua): takes back `cost` units that window_add_all put in
-- bucket `idx` of the window `st` (window_state + window_read_all of the subject's hash).
-- A bucket that has left the window is no longer in the total (window_settle took it out),
-- so it gives nothing back; nor does a hash that expired meanwhile. Writes the settled state
-- with the subtraction (the expired buckets go, as window_add_all would drop them) and
-- returns the units taken back.
local function window_take_back(st, idx, cost)
  if idx < st.first or idx > st.cur or cost <= 0 then return 0 end
  local field = bucket_name(st.names, idx)
  local v = tonumber(redis.call('HGET', st.key, field))
  if not v or v <= 0 then return 0 end
  local back = math.min(v, cost, st.total)
  if back <= 0 then return 0 end
  if st.expired then redis.call('HDEL', st.key, unpack(st.expired)) end
  local args = { st.names.total, st.total - back }
  if st.first_moved then args[3], args[4] = st.names.first, st.first end
  if v - back > 0 then
    args[#args + 1], args[#args + 2] = field, v - back
  else
    redis.call('HDEL', st.key, field)
  end
  redis.call('HSET', st.key, unpack(args))
  return back
end

-- The opening of subject_count.lua and subject_refund.lua (issue 17): the subject's rate key
-- and its current and previous reservation slices (slice_keys), checked against the keys a
-- cluster call declared, each when given: KEYS[1] the rate key (the route key: the slot the
-- call was routed by is then the slot of every key it touches), KEYS[2] and KEYS[3] the
-- slices (lib/core/subject_count.cc SubjectCallKeys), so that a slot half migrated answers
-- TRYAGAIN instead of the script missing a slice. Returns rk, cur, prev, ttl, or nil and an
-- error reply naming `script`.
local function subject_call_keys(script, keys, prefix, tag, span, now)
  local rk = key(prefix, 'rate', tag)
  if keys[1] and keys[1] ~= rk then
    return nil, redis.error_reply('ERR ' .. script .. ': KEYS[1] is not ' .. rk)
  end
  local cur, prev, ttl = slice_keys(prefix, 'resv', tag, span, now)
  if keys[2] and (keys[2] ~= cur or keys[3] ~= prev) then
    return nil, redis.error_reply('ERR ' .. script .. ': KEYS[2], KEYS[3] are not ' .. cur ..
                                  ', ' .. prev)
  end
  return rk, cur, prev, ttl
end
