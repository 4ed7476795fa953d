#include "core/cluster_list_bombing.h"

#include "core/decide_args.h"
#include "core/report_slot.h"

namespace policyd {

std::optional<ListBombingCall> BuildListBombingCall(const std::vector<std::string>& a,
                                                    const std::string& identity,
                                                    const std::string& report_id) {
  // decide.lua keys its list-bombing entries by the message identity (ARGV[13]) and keeps
  // none without one.
  if (identity.empty() || a[12].empty()) return std::nullopt;
  const std::string& prefix = a[kArgPrefix];
  const std::string& subject = a[kArgSubject];
  ListBombingCall call;
  call.route_key = prefix + "msg:{" + subject + "}";
  call.args = {prefix, subject, a[1], identity, a[12], a[18], a[27], a[26], a[22],
               report_id, a[20], std::string(SubjectSlotTag(subject)), a[31], a[9]};
  return call;
}

}  // namespace policyd
