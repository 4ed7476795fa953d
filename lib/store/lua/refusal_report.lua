-- refusal_report (issue 17): on a Redis Cluster, the report of an IP allow-list or ACL
-- refusal, created once per [report] acl_dedup in the user's slot, as decide.lua creates it on
-- one Redis (_common.lua refusal_report). Its dedup key and the report (a report id of the
-- user's slot, NewReportId(subject)) share the subject's hash tag.
-- ARGV (lib/store/cluster_policy_store.cc): prefix, kind ('ip' | 'acl'), subject, client,
--   client address as 32 hex digits, sender domain, sender, queue id, now (ms), ACL reason,
--   mode, account, plan (the report page's guidance), report id, report TTL ms, dedup ms,
--   and '0' for explain (only an existing report is looked up, nothing written; absent: '1').
-- Reply: the report's id (an existing one while its dedup key lives; explain: '' none).
local prefix, kind, subject = ARGV[1], ARGV[2], ARGV[3]
if kind ~= 'ip' and kind ~= 'acl' then return redis.error_reply('ERR refusal_report: kind') end
return refusal_report(prefix, {
  kind = kind, subject = subject, client = ARGV[4], client_hex = ARGV[5], domain = ARGV[6],
  sender = ARGV[7], queue_id = ARGV[8], now = now_ms(ARGV[9]), reason = ARGV[10],
  mode = ARGV[11], account = ARGV[12], plan = ARGV[13] }, ARGV[14], tonumber(ARGV[15]),
  tonumber(ARGV[16]), ARGV[17] ~= '0')
