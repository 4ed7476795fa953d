-- flags: no-writes
-- access_facts (issue 16): what policyd's access cache keeps for one (subject, sender tag,
-- sender domain, client address): decide.lua's sections 1-3 (_access.lua read_access) read
-- and nothing written, so it may run as FCALL_RO. ARGV: decide.lua's ARGV 1-31 (the same
-- request's; only the mode, clock, prefix, subject, sender tag, domain, client, unknown_user,
-- default_plan and plans are read).
-- Reply: { 'full', per client } when the request must take decide's full path (a block on
-- either subject, an unknown user, an IP or ACL refusal: anything but a plain pass), else
-- { 'pass', the request's resolved limits (the plan's with the user's overrides:
-- _access.lua format_limits of effective_limits), account ('' none), the user's quota field
-- ('' none), the account's quota ('' none), per client }: what decide.lua's fast path takes in
-- ARGV[34...] (lib/core/access_cache.h), and what policyd's RCPT pre-check reads windows for.
-- per client: '1' when the user has an IP allow-list (the answer holds for this client address
-- only), else '0' (it holds for every client address).
local a = read_access({
  prefix = ARGV[3], subject = ARGV[6], sender_tag = ARGV[7], domain = ARGV[8],
  client = ARGV[24], client_hex = ARGV[30], unknown_user = ARGV[15], default_plan = ARGV[16],
  plans = parse_plans(ARGV[17]), now = now_ms(ARGV[2]), facts = {} })
-- Whether the answer depends on the client address (the user has an IP allow-list): policyd
-- keys the answer by the client address only then.
local per_client = (a.user.ip_allow_match or '') ~= '' and '1' or '0'
if a.kind ~= 'pass' or a.unknown then return { 'full', per_client } end
return { 'pass', format_limits(effective_limits(a.plan, a.user)), a.account or '',
         a.user.quota or '', a.acct_quota and string.format('%.17g', a.acct_quota) or '',
         per_client }
