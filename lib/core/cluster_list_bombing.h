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

// What list_bombing.lua is called with for an admitted request: the key that routes it (in
// the subject's slot) and its ARGV.
struct ListBombingCall {
  std::string route_key;
  std::vector<std::string> args;
};

// args: BuildDecideArgs' (decide.lua's ARGV 1-32); identity: the request's (RateStage::
// identity, the message's or with count_at = rcpt the RCPT's); report_id: for a block, an id
// of the subject's slot (NewReportId(subject)). nullopt when decide.lua records nothing: a
// request without an identity (no instance attribute).
std::optional<ListBombingCall> BuildListBombingCall(const std::vector<std::string>& args,
                                                    const std::string& identity,
                                                    const std::string& report_id);

}  // namespace policyd
