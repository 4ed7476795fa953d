// List-bombing on a Redis Cluster (issue 17), the pure part: the arguments of
// list_bombing.lua, the call ClusterPolicyStore makes in the user's slot once the rate check
// admitted and counted a request. On one Redis decide.lua records list-bombing in the same
// call (its pd:msg slices); on a cluster that state lives in the user's slot alone, so one
// call there, after the subjects counted and before the verdict, records the request's
// recipients, and a block list-bombing creates is in the verdict as decide.lua's is.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace policyd {

// What list_bombing.lua is called with for an admitted request: its keys and its ARGV. The
// keys are the subject's current and previous pd:msg slices (_common.lua slice_keys, span the
// larger of [policy] dedup_ttl and [abuse] list_bombing_window, from the request's now), the
// first the route key: declared, so that while the user's slot is being migrated Redis
// answers TRYAGAIN when only one of them has moved and ASK only when neither is left, instead
// of the script writing a slice on one node that the other still holds (the script checks
// them against its own).
struct ListBombingCall {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// args: BuildDecideArgs' (decide.lua's ARGV 1-32); identity: the request's (RateStage::
// identity, the message's or with count_at = rcpt the RCPT's); report_id: for a block, an id
// of the subject's slot (NewReportId(subject)). nullopt when decide.lua records nothing: a
// request without an identity (no instance attribute). REQUIRES: args[1] (now) > 0.
std::optional<ListBombingCall> BuildListBombingCall(const std::vector<std::string>& args,
                                                    const std::string& identity,
                                                    const std::string& report_id);

}  // namespace policyd
