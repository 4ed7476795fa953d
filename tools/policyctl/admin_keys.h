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
  std::string Account(std::string_view account) const;  // PREFIXaccount:{account:NAME}
  std::string Domains(std::string_view account) const;  // PREFIXdomains:{account:NAME}
  // tag: an escaped subject tag as ParseBlockSubject returns it ("user:alice").
  std::string Block(std::string_view tag) const;         // PREFIXblock:{TAG}
  std::string BlockHistory(std::string_view tag) const;  // PREFIXblockhist:{TAG}
  std::string Evidence(std::string_view tag) const;      // PREFIXevidence:{TAG}
  // A SCAN MATCH pattern for every block key (the prefix's glob characters escaped).
  std::string BlockPattern() const;

 private:
  std::string prefix_;
};

}  // namespace policyd::admin
