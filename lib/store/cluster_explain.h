// explain on a Redis Cluster (issue 17): what policyd would answer a request, with the facts
// behind it (decide.lua's explain mode on one Redis), writing nothing. The access facts are
// read slot by slot as for a decision (ClusterAccess), then evaluated by access_decide.lua,
// which in explain mode also returns sections 1-3's facts; an IP or ACL refusal looks its
// existing report up (refusal_report.lua, create off) in the user's slot; a request with a
// rate check reads each subject's windows in its own slot (subject_explain.lua, all at
// once), then the monthly quotas in theirs (quota_count.lua in mode check).
// lib/core/cluster_explain.h joins the parts into decide.lua's facts JSON.
//
// Every call is a read: no key changes, no report is made, nothing is counted or reserved.
// Not as on one Redis: with count_at = rcpt a later RCPT of a message is explained as costing
// the message again (decide.lua's explain reads the message's pd:msg mark).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "core/config.h"
#include "core/decide_args.h"
#include "core/policy_request.h"
#include "core/result.h"
#include "core/verdict.h"
#include "store/cluster_client.h"
#include "store/cluster_script_runner.h"

namespace policyd {

// The verdict decide.lua's explain gives for `request` (Verdict::facts: its facts JSON; user:
// the request's sasl_username), or the first failure. options: mode is taken as explain;
// now_ms 0 = this host's clock, read once (every slot's part uses the same time). loop,
// cluster and scripts must outlive the call; callback runs once, within timeout_ms of
// each round. REQUIRES: !DecideLocally(request, *config).
void ExplainOnCluster(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts,
                      std::shared_ptr<const Config> config, const PolicyRequest& request,
                      DecideOptions options, uint64_t timeout_ms,
                      std::function<void(Result<Verdict>)> callback);

}  // namespace policyd
