#include "core/rated_accounts.h"

#include <algorithm>
#include <set>
#include <string>

namespace policyd {

std::vector<AccountRateRow> MergeRatedAccounts(std::vector<std::vector<RatedAccount>> slots,
                                               std::size_t max) {
  std::vector<RatedAccount> all;
  for (std::vector<RatedAccount>& s : slots) {
    for (RatedAccount& r : s) all.push_back(std::move(r));
  }
  std::sort(all.begin(), all.end(), [](const RatedAccount& a, const RatedAccount& b) {
    if (a.last_ms != b.last_ms) return a.last_ms > b.last_ms;
    return a.row.account < b.row.account;
  });
  std::vector<AccountRateRow> out;
  std::set<std::string> seen;
  for (RatedAccount& r : all) {
    if (out.size() >= max) break;
    if (seen.insert(r.row.account).second) out.push_back(std::move(r.row));
  }
  return out;
}

}  // namespace policyd
