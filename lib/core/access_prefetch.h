// Access facts on a Redis Cluster (issue 17): what access_eval.lua reads for one request, as
// plain reads policyd sends to each key's slot, and how their answers are handed to it. The
// access logic itself stays in _access.lua read_access: access_eval.lua runs it over these
// records (a reader over them instead of Redis), so this file only has to name every key and
// field read_access may read. Reading more than it needs is harmless; reading less makes
// access_eval fail ("not prefetched"), never answer wrongly.
// Pure: lib/store/cluster_access sends the reads and the call.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/domain_candidates.h"

namespace policyd {

// Round 1, from the request alone (decide.lua's ARGV 1-31, lib/core/decide_args.h).
struct AccessReads {
  // read_block: the subject's block, then the sender's when the request has a sender tag
  // other than the subject. Read whole (HGETALL): mostly absent, then as cheap as EXISTS.
  std::vector<std::string> block_keys;
  std::string user_key;    // HGETALL; "" when the subject is not a user (no user record read)
  std::string grants_key;  // SMISMEMBER grant_candidates; "" when no ACL check can happen
  std::vector<std::string> grant_candidates;  // DomainCandidates(domain, false)
};
AccessReads PlanAccessReads(const std::vector<std::string>& decide_args);

// Round 2, once the user's record is known: its account (load_user's HMGET plan, quota) and
// the account's domains (HMGET domain_candidates).
struct AccountReads {
  std::string account_key;  // HGETALL
  std::string domains_key;  // "" when no ACL check can happen
  std::vector<std::string> domain_candidates;  // DomainCandidates(domain, true)
};
// user_fields: the user's HGETALL (field, value, ...). nullopt when load_user reads no account
// (no user, no account field, or a name _common.lua SAFE_NAME refuses).
std::optional<AccountReads> PlanAccountReads(const std::vector<std::string>& decide_args,
                                             const std::vector<std::string>& user_fields);

// The records, appended to access_eval's ARGV after decide's ARGV 1-31 (access_eval.lua
// describes the layout): each value is an argument of its own, so nothing needs escaping.
// A whole hash (HGETALL's field, value, ... ; empty: no such key).
void AppendHashRecord(const std::string& key, const std::vector<std::string>& fields_values,
                      std::vector<std::string>* args);
// Some fields of a hash: HMGET's answers (nullopt: absent) for `fields`, in order.
void AppendFieldsRecord(const std::string& key, const std::vector<std::string>& fields,
                        const std::vector<std::optional<std::string>>& values,
                        std::vector<std::string>* args);
// Set memberships: SMISMEMBER's answers for `members`, in order.
void AppendMembersRecord(const std::string& key, const std::vector<std::string>& members,
                         const std::vector<bool>& answers, std::vector<std::string>* args);

}  // namespace policyd
