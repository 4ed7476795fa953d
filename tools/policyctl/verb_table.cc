#include "policyctl/verb_table.h"

#include <cstddef>
#include <limits>

namespace policyd::admin {
namespace {

constexpr std::size_t kMany = std::numeric_limits<std::size_t>::max();

std::vector<VerbSpec> Build() {
  const OptionSpec plan{"--plan", "PLAN",
                        "a plan defined in the configuration ([plans.PLAN]); \"\" clears it"};
  return {
      {"account set", "ACCOUNT", 1, 1, {plan},
       "create an account or change its plan",
       "Creates ACCOUNT (1-64 characters of A-Z a-z 0-9 . _ -) or changes its plan. An\n"
       "account without a plan uses [policy] default_plan. Users of the account inherit its\n"
       "plan unless they have their own."},
      {"account show", "ACCOUNT", 1, 1, {},
       "an account's plan, its limits and its domains",
       "Shows the account's stored plan, the plan decisions use (the default plan when it\n"
       "has none or names a plan the configuration no longer has), the plan's limits and the\n"
       "account's domains with their verification state."},
      {"domain add", "ACCOUNT DOMAIN", 2, 2,
       {{"--verified", "", "mark it verified at once (the default: unverified)"}},
       "add a domain to an account",
       "Adds DOMAIN to ACCOUNT. Mail from a domain is allowed only once it is verified\n"
       "(domain verify); a verified domain also covers its subdomains. Adding a domain that\n"
       "is already there keeps its state unless --verified is given."},
      {"domain verify", "ACCOUNT DOMAIN", 2, 2, {},
       "mark an account's domain verified",
       "Marks DOMAIN of ACCOUNT verified: users in mode \"account\" may send from it (and its\n"
       "subdomains), users in mode \"explicit\" once it is also granted to them."},
      {"domain del", "ACCOUNT DOMAIN", 2, 2, {},
       "remove a domain from an account",
       "Removes DOMAIN from ACCOUNT. Grants of it stay but no longer allow anything."},
      {"domain list", "ACCOUNT", 1, 1, {},
       "an account's domains and their state",
       "Lists the domains of ACCOUNT: verified or unverified."},
      {"user set", "USER", 1, 1,
       {{"--account", "ACCOUNT", "the user's account (required for a new user)"},
        plan,
        {"--mode", "MODE",
         "explicit (granted, verified domains), account (verified) or any"},
        {"--limit", "SUBJECT:METRIC:WINDOW=MAX",
         "override or add a limit, e.g. user:messages:1h=100", false, true},
        {"--unset-limit", "SUBJECT:METRIC:WINDOW", "remove an override", false, true}},
       "create or change an SMTP user",
       "Creates or changes the SMTP user USER (its sasl_username). Only the given fields\n"
       "change. A new user needs --account; its mode is \"explicit\" unless --mode says\n"
       "otherwise. A limit override names the limit's subject (user, sender, account, ip),\n"
       "metric (messages, recipients, bytes) and window (1s..30d); MAX is a number, or a\n"
       "size such as 2GiB."},
      {"user show", "USER", 1, 1, {},
       "a user's account, plan, mode, limits and grants",
       "Shows what is stored for USER, the plan decisions use for it, its limits with\n"
       "overrides marked, and its grants."},
      {"user del", "USER", 1, 1, {},
       "delete a user and its grants",
       "Deletes USER and its grants. Counters, blocks and evidence of the user stay until\n"
       "they expire (block del removes a block)."},
      {"user ip-allow", "USER [CIDR...]", 1, kMany,
       {{"--clear", "", "remove the list: any client address is allowed again"}},
       "show or set a user's client IP allow-list",
       "Without networks, shows USER's client IP allow-list. With networks (IPv4 or IPv6\n"
       "CIDR such as 203.0.113.0/24 or 2001:db8::/64, or single addresses), replaces it:\n"
       "mail from any other client address gets the [messages] ip reply (5xx) with a\n"
       "report. At most 50 networks; an IPv4-mapped client address (::ffff:203.0.113.9)\n"
       "counts as its IPv4 address. Same operation as PUT\n"
       "/api/v1/admin/users/{user}/ip-allow-list."},
      {"grant", "USER DOMAIN", 2, 2, {},
       "allow a user to send from a domain",
       "Grants DOMAIN (example.com, or *.example.com for it and its subdomains) to USER.\n"
       "The user's account must have the domain (domain add); it must also be verified\n"
       "before mail from it is accepted."},
      {"revoke", "USER DOMAIN", 2, 2, {},
       "take a grant back", "Removes the grant DOMAIN from USER."},
      {"quota show", "SUBJECT", 1, 1, {},
       "a monthly quota: used this month, state, warnings sent",
       "Shows the monthly message quota of SUBJECT (user:NAME or account:NAME) in the\n"
       "current calendar month ([quota] time_zone): messages counted, the quota, whether it\n"
       "is quota-locked (used up) or unlocked, and the warning levels already sent."},
      {"quota set", "SUBJECT MAX", 2, 2, {},
       "set or remove a monthly message quota",
       "Sets the monthly message quota of SUBJECT (user:NAME or account:NAME) to MAX\n"
       "messages per calendar month, or removes it (MAX = none). Beside the sliding-window\n"
       "limits: when used up, mail gets [messages] quota (or quota_defer) until the month\n"
       "ends or quota unlock. Same operation as PUT /api/v1/admin/users/{user}/quota."},
      {"quota unlock", "SUBJECT", 1, 1, {},
       "admit a quota-locked user or account for the rest of the month",
       "Unlocks SUBJECT's monthly quota for the rest of the current period: messages are\n"
       "admitted past 100 % (and still counted) until the month ends. Same operation as\n"
       "POST /api/v1/admin/users/{user}/quota/unlock."},
      {"block add", "SUBJECT", 1, 1,
       {{"--reason", "REASON", "spam, abuse, rate or manual", true},
        {"--ttl", "DURATION", "how long, e.g. 1h, 7d (default: until block del)"},
        {"--evidence", "TEXT", "why, for the report page and block show"}},
       "block a user or a sender address",
       "Blocks SUBJECT (user:NAME or sender:ADDRESS): its mail gets the [ABUSE] reply with a\n"
       "report link until the block expires or is deleted. Replaces an existing block."},
      {"block list", "", 0, 0, {{"--reason", "REASON", "only blocks with this reason"}},
       "current blocks", "Lists the current blocks, sorted by subject."},
      {"block show", "SUBJECT", 1, 1, {},
       "a block, its report and the subject's evidence",
       "Shows the block of SUBJECT, its escalation history and the subject's evidence."},
      {"block del", "SUBJECT", 1, 1, {},
       "remove a block (unblock)",
       "Removes the block of SUBJECT. Its escalation history stays, so a repeat block within\n"
       "[abuse] memory still lasts longer."},
      {"signal", "SUBJECT KIND", 2, 2,
       {{"--evidence", "TEXT", "what happened (FBL report id, bounce text, ...)"},
        {"--id", "ID", "feedback id: the same id for a subject counts once"}},
       "feed an abuse signal, as POST /api/v1/signals",
       "Records a signal of KIND (complaint, bounce, spam, bad_recipient, list_bombing) for\n"
       "SUBJECT (user:NAME or sender:ADDRESS). Complaints and bounces are judged as rates\n"
       "against the messages SUBJECT sent within [abuse] rate_window (warn and block\n"
       "levels); the other kinds are weighted by [abuse.weights], and when the subject's\n"
       "score within [abuse] score_window reaches score_threshold it is blocked."},
      {"usage", "SUBJECT", 1, 1,
       {{"--plan", "PLAN", "the plan to read limits from (sender and ip subjects)"},
        {"--sender", "ADDRESS", "with a user: also the sender limits of this address"},
        {"--ip", "ADDRESS", "with a user: also the client IP limits of this address"}},
       "current window counts against each limit",
       "Shows, for SUBJECT (user:NAME, account:NAME, sender:ADDRESS or ip:ADDRESS), each\n"
       "limit that applies, the count in its sliding window now, the maximum, and when\n"
       "capacity returns (\"now\" while there is room). Counts nothing and writes nothing.\n"
       "A user's limits come from its plan with its overrides, an account's from its plan,\n"
       "a sender's or an IP's from --plan or [policy] default_plan."},
      {"explain", "[NAME=VALUE...]", 0, kMany, {},
       "the reply policyd would give to a request, and why",
       "Runs a policy request through the same decision script as policyd, without counting\n"
       "or writing anything, and prints the reply policyd would give, the rule that fired\n"
       "and the facts behind it (block, account, plan, mode, verified domain, grant, window\n"
       "counts). The request is NAME=VALUE arguments (protocol_state=RCPT\n"
       "sasl_username=alice sender=alice@example.com ...) or, without arguments, Postfix's\n"
       "format on standard input (explain < request.txt)."},
      {"report show", "ID", 1, 1, {},
       "a report: reason, subject, evidence, review state",
       "Shows the report ID (20 hex characters, the id= of a report URL): kind, subject,\n"
       "reason, times, review state, its URL and the evidence it was made with."},
      {"review list", "", 0, 0, {{"--limit", "N", "at most N reviews (default 100)"}},
       "reports whose review was requested, newest first",
       "Lists the reports whose review a customer requested on the report page and that are\n"
       "not resolved yet. Same operation as GET /api/v1/admin/reviews."},
      {"review resolve", "ID", 1, 1,
       {{"--note", "TEXT", "the answer, shown to the customer on the report page", true}},
       "answer a review request",
       "Resolves the review of report ID with a note the customer reads on the report page\n"
       "(at most 1000 bytes), and takes it off review list. A customer may ask again. Same\n"
       "operation as POST /api/v1/admin/reviews/{id}/resolve."},
  };
}

}  // namespace

const std::vector<VerbSpec>& PolicyctlVerbs() {
  static const std::vector<VerbSpec> verbs = Build();
  return verbs;
}

}  // namespace policyd::admin
