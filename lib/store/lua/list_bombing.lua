-- list_bombing (issue 17): on a Redis Cluster, decide.lua's list-bombing for one admitted,
-- counted request, in the user's (subject's) slot, where its state lives as on one Redis:
-- the subject's pd:msg slices (_common.lua MSG_MARK), a field per recipient with the times
-- and message ids of the subject's latest messages to it (lb_fresh, lb_record). A recipient
-- whose count reaches [abuse] list_bombing_messages now is a list_bombing signal
-- (add_signal), which may block the subject; that block, its report and its events are
-- written in this one call, so racing instances create one block. Called once the rate
-- check admitted and counted the request, before its verdict (the reply names the block).
--
-- ARGV (lib/core/cluster_list_bombing.cc BuildListBombingCall): prefix, subject, now (ms),
--   the request's identity (decide.lua's seen_field: the message's at END-OF-MESSAGE, the
--   RCPT's with count_at = rcpt), the message identity (the entries' ids), [policy]
--   dedup_ttl (ms), list-bombing spec ('MESSAGES,WINDOW_MS'), score spec, abuse spec, report
--   id for a block (one of the subject's slot), report TTL (ms), home (the subject's
--   slot-tag: where events and block expiries go, _common.lua emit_event), the recipients
--   policyd collected for the transaction ('\n'-joined, decide.lua's ARGV[32]), the
--   request's recipient (counted when there are none).
-- KEYS, when given (a cluster call): the current and the previous pd:msg slice, as this
-- script names them (lib/core/cluster_list_bombing.h says why they are declared).
-- Reply: { 1 if the identity was answered before (a repeat: nothing is counted again),
--          the reason of the block this request created ('' none; a repeat answers the
--          first call's) }.
-- Writes '%m' .. identity -> 'c', or 'b|' .. reason when the call created a block, as the
-- answer kept for a repeated request (decide.lua keeps its whole reply there).
local prefix, subject, now = ARGV[1], ARGV[2], now_ms(ARGV[3])
local id, msg_id, dedup_ttl = ARGV[4], ARGV[5], tonumber(ARGV[6])
local lb = parse_list_bombing(ARGV[7])
local score_spec, abuse_spec = ARGV[8], ARGV[9]
local report_id, report_ttl = ARGV[10], tonumber(ARGV[11])
local home = check_home(ARGV[12])
if id == '' or msg_id == '' or not dedup_ttl or not lb.messages or not lb.window then
  return redis.error_reply('ERR list_bombing: bad arguments')
end

-- The recipients, as decide.lua picks them: the collected ones (distinct, at most 1,000),
-- else the request's own.
local rcpts, distinct = {}, {}
for r in string.gmatch(ARGV[13] or '', '[^\n]+') do
  if not distinct[r] then
    distinct[r] = true
    rcpts[#rcpts + 1] = r
    if #rcpts >= 1000 then break end
  end
end
if #rcpts == 0 and (ARGV[14] or '') ~= '' then rcpts[1] = ARGV[14] end

local cur, prev, ttl = slice_keys(prefix, 'msg', subject, math.max(dedup_ttl, lb.window), now)
if KEYS[1] and (KEYS[1] ~= cur or KEYS[2] ~= prev) then
  return redis.error_reply('ERR list_bombing: KEYS are not ' .. cur .. ', ' .. prev)
end
local fields = { MSG_MARK, msg_field(id) }
for i = 1, #rcpts do fields[2 + i] = rcpts[i] end
local cv = redis.call('HMGET', cur, unpack(fields))
local new_slice, answer = not cv[1], cv[2]
local cur_vals = {}
for i = 1, #rcpts do cur_vals[i] = cv[2 + i] end
local fresh, recent = lb_fresh(rcpts, cur_vals, msg_id, now, lb.window)
local pfields = {}
if not answer then pfields[1] = fields[2] end
local pbase = #pfields
for i = 1, #fresh do pfields[pbase + i] = fresh[i] end
local prev_vals = {}
if #pfields > 0 then
  local pv = redis.call('HMGET', prev, unpack(pfields))
  if not answer then answer = pv[1] end
  for i = 1, #fresh do prev_vals[i] = pv[pbase + i] end
end
if answer then return { 1, string.match(answer, '^b|(.*)$') or '' } end

local args, created = {}, ''
for _, r in ipairs(lb_record(fresh, recent, prev_vals, msg_id, now, lb.messages, lb.window,
                             args)) do
  local _, reason = add_signal(prefix, subject, 'list_bombing', lb.messages ..
    ' messages to ' .. r .. ' within ' .. math.floor(lb.window / 1000) .. 's', now,
    parse_score(score_spec), parse_abuse(abuse_spec), report_id, report_ttl, 'list-bombing',
    nil, home)
  if reason ~= '' then created = reason end
end
local n = #args
args[n + 1], args[n + 2] = msg_field(id), created == '' and 'c' or 'b|' .. created
if new_slice then args[n + 3], args[n + 4] = MSG_MARK, '1' end
redis.call('HSET', cur, unpack(args))
if new_slice then redis.call('PEXPIRE', cur, ttl) end
return { 0, created }
