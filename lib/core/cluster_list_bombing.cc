#include "core/cluster_list_bombing.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

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
  // The pd:msg span (decide.lua: math.max(dedup_ttl, lb_window)); the spec is
  // 'MESSAGES,WINDOW_MS' (AbuseSpec).
  int64_t now = 0, dedup = 0, window = 0;
  std::from_chars(a[1].data(), a[1].data() + a[1].size(), now);
  std::from_chars(a[18].data(), a[18].data() + a[18].size(), dedup);
  const std::string& lb = a[27];
  std::size_t comma = lb.find(',');
  if (comma != std::string::npos) {
    std::from_chars(lb.data() + comma + 1, lb.data() + lb.size(), window);
  }
  int64_t span = std::max<int64_t>({dedup, window, 1});
  int64_t slice = now / span;  // math.floor(now / span) for now > 0
  ListBombingCall call;
  std::string msg = prefix + "msg:{" + subject + "}:";
  call.keys = {msg + std::to_string(slice), msg + std::to_string(slice - 1)};
  call.args = {prefix, subject, a[1], identity, a[12], a[18], a[27], a[26], a[22],
               report_id, a[20], std::string(SubjectSlotTag(subject)), a[31], a[9]};
  return call;
}

}  // namespace policyd
