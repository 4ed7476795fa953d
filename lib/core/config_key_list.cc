#include "core/config_key_list.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/config.h"

namespace policyd {

std::string KeyTypeText(const ConfigKey& key) {
  switch (key.type) {
    case KeyType::kString: return "string";
    case KeyType::kStringList: return "list of strings";
    case KeyType::kInt: return "integer";
    case KeyType::kDouble: return "number";
    case KeyType::kBool: return "boolean";
    case KeyType::kDuration: return "duration";
    case KeyType::kSize: return "size";
    case KeyType::kEnum: return fmt::format("one of: {}", fmt::join(key.allowed, " "));
  }
  return "unknown";
}

std::string ConfigKeyList() {
  const Config defaults;  // the built-in defaults, as a file without the key gets them
  std::string out;
  for (const ConfigKey& key : ConfigKeys()) {
    out += fmt::format("{}\t{}\t{}\t{}\n", key.name, KeyTypeText(key),
                       FormatKeyValue(key, key.get(defaults)),
                       key.reloadable ? "reload" : "restart");
  }
  return out;
}

}  // namespace policyd
