#include "core/access_prefetch.h"

#include <cassert>

#include "core/decide_args.h"
#include "core/redis_keys.h"

namespace policyd {
namespace {

// _common.lua SAFE_NAME, '^[%w%._%-]+$' in Redis's C locale: the account names load_user
// reads. Exactly Lua's rule (no length bound), so policyd fetches the account whenever
// load_user will read it.
bool LuaSafeName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// read_access checks the ACL only for SMTP users with a sender and a sender domain.
bool AclPossible(const std::vector<std::string>& args) {
  return args[kArgSubject].rfind("user:", 0) == 0 && !args[kArgSenderTag].empty() &&
         !args[kArgDomain].empty();
}

}  // namespace

AccessReads PlanAccessReads(const std::vector<std::string>& args) {
  assert(args.size() > kArgClientHex);
  const std::string& prefix = args[kArgPrefix];
  const std::string& subject = args[kArgSubject];
  const std::string& sender_tag = args[kArgSenderTag];
  AccessReads reads;
  reads.block_keys.push_back(BuildKey(prefix, "block", subject));
  if (!sender_tag.empty() && sender_tag != subject) {
    reads.block_keys.push_back(BuildKey(prefix, "block", sender_tag));
  }
  if (subject.rfind("user:", 0) == 0) reads.user_key = BuildKey(prefix, "user", subject);
  if (AclPossible(args)) {
    reads.grants_key = BuildKey(prefix, "grants", subject);
    reads.grant_candidates = DomainCandidates(args[kArgDomain], false);
  }
  return reads;
}

std::optional<AccountReads> PlanAccountReads(const std::vector<std::string>& args,
                                             const std::vector<std::string>& user_fields) {
  // HGETALL has each field once; the last wins as in hash_to_table.
  const std::string* account = nullptr;
  for (std::size_t i = 0; i + 1 < user_fields.size(); i += 2) {
    if (user_fields[i] == "account") account = &user_fields[i + 1];
  }
  if (account == nullptr || !LuaSafeName(*account)) return std::nullopt;
  const std::string tag = "account:" + *account;
  AccountReads reads;
  reads.account_key = BuildKey(args[kArgPrefix], "account", tag);
  if (AclPossible(args)) {
    reads.domains_key = BuildKey(args[kArgPrefix], "domains", tag);
    reads.domain_candidates = DomainCandidates(args[kArgDomain], true);
  }
  return reads;
}

void AppendHashRecord(const std::string& key, const std::vector<std::string>& fields_values,
                      std::vector<std::string>* args) {
  args->push_back("h");
  args->push_back(key);
  args->push_back(std::to_string(fields_values.size() / 2));
  args->insert(args->end(), fields_values.begin(),
               fields_values.begin() + (fields_values.size() / 2) * 2);
}

void AppendFieldsRecord(const std::string& key, const std::vector<std::string>& fields,
                        const std::vector<std::optional<std::string>>& values,
                        std::vector<std::string>* args) {
  assert(fields.size() == values.size());
  args->push_back("f");
  args->push_back(key);
  args->push_back(std::to_string(fields.size()));
  for (std::size_t i = 0; i < fields.size(); ++i) {
    args->push_back(fields[i]);
    args->push_back(values[i] ? "=" + *values[i] : std::string());
  }
}

void AppendMembersRecord(const std::string& key, const std::vector<std::string>& members,
                         const std::vector<bool>& answers, std::vector<std::string>* args) {
  assert(members.size() == answers.size());
  args->push_back("m");
  args->push_back(key);
  args->push_back(std::to_string(members.size()));
  for (std::size_t i = 0; i < members.size(); ++i) {
    args->push_back(members[i]);
    args->push_back(answers[i] ? "1" : "0");
  }
}

}  // namespace policyd
