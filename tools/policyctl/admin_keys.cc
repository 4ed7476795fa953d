#include "policyctl/admin_keys.h"

#include "core/config.h"
#include "core/redis_keys.h"

namespace policyd::admin {
namespace {

std::string GlobEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string AdminKeys::User(std::string_view name) const {
  return BuildKey(prefix_, "user", SubjectTag(SubjectKind::kUser, name));
}

std::string AdminKeys::Grants(std::string_view name) const {
  return BuildKey(prefix_, "grants", SubjectTag(SubjectKind::kUser, name));
}

std::string AdminKeys::Account(std::string_view account) const {
  return BuildKey(prefix_, "account", SubjectTag(SubjectKind::kAccount, account));
}

std::string AdminKeys::Domains(std::string_view account) const {
  return BuildKey(prefix_, "domains", SubjectTag(SubjectKind::kAccount, account));
}

std::string AdminKeys::Block(std::string_view tag) const { return BuildKey(prefix_, "block", tag); }

std::string AdminKeys::BlockHistory(std::string_view tag) const {
  return BuildKey(prefix_, "blockhist", tag);
}

std::string AdminKeys::Evidence(std::string_view tag) const {
  return BuildKey(prefix_, "evidence", tag);
}

std::string AdminKeys::BlockPattern() const { return BuildKey(GlobEscape(prefix_), "block", "*"); }

}  // namespace policyd::admin
