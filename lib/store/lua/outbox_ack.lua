-- outbox_ack: the end of the event relay's pass over a slot's outbox (issue 17;
-- store/event_relay.h): removes the entries it has added to the home stream. An outbox left
-- empty is kept OUTBOX_LINGER_MS more, then goes by its TTL, so that scans stop finding it (a
-- stream stays when emptied). Not deleted at once: a stream made again in the same
-- millisecond would give a new event the id of one already moved, and the outbox id is what
-- receivers deduplicate by. emit_event PERSISTs the outbox with every entry it adds, so an
-- outbox holding an entry never expires.
-- KEYS[1]: the outbox, PREFIX .. 'events:{TAG}' (the call's route key).
-- ARGV: the ids of the entries moved (at most the relay's batch).
-- Reply: how many entries are left.
local OUTBOX_LINGER_MS = 60000
local k = KEYS[1]
if #ARGV > 0 then redis.call('XDEL', k, unpack(ARGV)) end
local left = redis.call('XLEN', k)
if left == 0 and redis.call('EXISTS', k) == 1 then redis.call('PEXPIRE', k, OUTBOX_LINGER_MS) end
return left
