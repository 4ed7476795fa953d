// policyctl's verbs, one function each (DESIGN §8). Each validates all of its input before
// its first Redis call, so a bad value never leaves anything half-written, and prints the
// record it wrote or read (ctx.Emit: text or --json). Help and arguments: verb_table.cc.
#pragma once

#include "policyctl/verb_context.h"

namespace policyd::admin {

// account_verbs.cc: accounts and their domains.
Status AccountSet(VerbContext& ctx);
Status AccountShow(VerbContext& ctx);
Status DomainAdd(VerbContext& ctx);
Status DomainVerify(VerbContext& ctx);
Status DomainDel(VerbContext& ctx);
Status DomainList(VerbContext& ctx);

// user_verbs.cc: SMTP users and their grants.
Status UserSet(VerbContext& ctx);
Status UserShow(VerbContext& ctx);
Status UserDel(VerbContext& ctx);
Status Grant(VerbContext& ctx);
Status Revoke(VerbContext& ctx);
// ip_allow_verb.cc: a user's client IP allow-list (lib/ops/user_ip_allow.h).
Status UserIpAllow(VerbContext& ctx);
// quota_verbs.cc: monthly quotas (lib/ops/quota_ops.h).
Status QuotaShow(VerbContext& ctx);
Status QuotaSet(VerbContext& ctx);
Status QuotaUnlock(VerbContext& ctx);

// block_verbs.cc: blocks and abuse signals.
Status BlockAdd(VerbContext& ctx);
Status BlockList(VerbContext& ctx);
Status BlockShow(VerbContext& ctx);
Status BlockDel(VerbContext& ctx);
Status SignalVerb(VerbContext& ctx);

// report_verbs.cc: reports and review requests.
Status ReportShow(VerbContext& ctx);
Status ReviewList(VerbContext& ctx);
Status ReviewResolve(VerbContext& ctx);

// usage_verb.cc and explain_verb.cc: read-only views of decisions.
Status Usage(VerbContext& ctx);
Status Explain(VerbContext& ctx);

}  // namespace policyd::admin
