// The one table of configuration keys (DESIGN §6; Redis static_configs[], PgBouncer CfKey):
// every key's dotted name, type, bounds, default, reloadability and where it lands in Config.
// ParseConfig is driven by it, NonReloadableChanges compares through it, and a unit test checks
// that conf/policyd.toml documents every row. Plans ([plans.NAME]) are not rows: their names are
// the operator's, so config_plans.cc parses them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config.h"

namespace policyd {

enum class KeyType {
  kString,      // TOML string
  kStringList,  // TOML array of strings
  kInt,         // TOML integer
  kDouble,      // TOML float or integer
  kBool,        // TOML boolean
  kDuration,    // "90s", "1h", ... or integer seconds; stored in milliseconds
  kSize,        // "2GiB", "10MB", ... or integer bytes; stored in bytes
  kEnum,        // TOML string, one of ConfigKey::allowed
};

// A key's value after conversion from TOML, by type:
//   kBool -> bool; kInt -> int64_t; kEnum -> int64_t, the index into ConfigKey::allowed;
//   kDuration (ms), kSize (bytes) -> uint64_t; kDouble -> double; kString -> std::string;
//   kStringList -> std::vector<std::string>.
using KeyValue =
    std::variant<bool, int64_t, uint64_t, double, std::string, std::vector<std::string>>;

struct ConfigKey {
  std::string_view name;  // dotted: "server.request_timeout", "abuse.weights.spam"
  KeyType type = KeyType::kString;
  // Inclusive bounds for kInt, kDouble, kDuration (ms) and kSize (bytes); max may be +inf.
  double min = 0;
  double max = 0;
  bool min_exclusive = false;             // "> min" instead of ">= min" (score_threshold)
  std::vector<std::string_view> allowed;  // kEnum: names in the enum's declaration order
  bool reloadable = true;                 // false: SIGHUP keeps the running value
  // Checks beyond type and bounds (address shape, template codes, required secrets). Runs on
  // the final value, so a default that is not valid on its own (report.secret) is reported
  // too. Returns "" when fine, else "what is wrong, what is expected". May be null.
  std::string (*check)(const KeyValue& value) = nullptr;
  // Write a converted, range-checked value into a Config / read the Config's value back.
  void (*set)(Config& config, const KeyValue& value) = nullptr;
  KeyValue (*get)(const Config& config) = nullptr;

  std::string_view section() const;  // "server" for "server.listen", "abuse.weights" for ...spam
  std::string_view leaf() const;     // "listen", "spam"
};

// All keys, grouped by section in the order conf/policyd.toml presents them.
const std::vector<ConfigKey>& ConfigKeys();

// The row named `name` (dotted), or null.
const ConfigKey* FindConfigKey(std::string_view name);

// True if `name` is a table that holds rows ("server", "abuse", "abuse.weights").
bool IsConfigSection(std::string_view name);

// The value as TOML text, e.g. "1h" (quoted), 4096, ["127.0.0.1:10040"], for messages and docs.
std::string FormatKeyValue(const ConfigKey& key, const KeyValue& value);

// 65536 -> "64KiB", 10000000 -> "10MB", 1000 -> "1KB", 1500 -> "1500": the shortest exact form
// with a unit (binary on a tie), plain bytes when no unit divides; ParseSize reads it back.
std::string FormatSize(uint64_t bytes);

}  // namespace policyd
