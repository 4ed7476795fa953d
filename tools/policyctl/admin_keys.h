// The Redis keys policyctl reads and writes, built only through redis_keys.h (BuildKey,
// SubjectTag), in the layout of docs/redis-keys.md: the same names decide.lua and the other
// scripts use. One place in policyctl names a key type.
#pragma once

#include <string>
#include <string_view>

namespace policyd::admin {

class AdminKeys {
 public:
  explicit AdminKeys(std::string prefix) : prefix_(std::move(prefix)) {}

  std::string User(std::string_view name) const;        // PREFIXuser:{user:NAME}
  std::string Grants(std::string_view name) const;      // PREFIXgrants:{user:NAME}
  std::string Domains(std::string_view account) const;  // PREFIXdomains:{account:NAME}

 private:
  std::string prefix_;
};

}  // namespace policyd::admin
