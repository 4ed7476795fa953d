#include "policyctl/admin_keys.h"

#include "core/config.h"
#include "core/redis_keys.h"

namespace policyd::admin {

std::string AdminKeys::User(std::string_view name) const {
  return BuildKey(prefix_, "user", SubjectTag(SubjectKind::kUser, name));
}

std::string AdminKeys::Grants(std::string_view name) const {
  return BuildKey(prefix_, "grants", SubjectTag(SubjectKind::kUser, name));
}

std::string AdminKeys::Domains(std::string_view account) const {
  return BuildKey(prefix_, "domains", SubjectTag(SubjectKind::kAccount, account));
}

}  // namespace policyd::admin
