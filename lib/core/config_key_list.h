// The key table as text for tools: `policyd --list-config-keys` prints it, and the manual page
// policyd.toml(5) is checked against it (test/integration/test_manpages.py), so the page
// cannot list a key the daemon does not know or miss one it does.
#pragma once

#include <string>
#include <string_view>

#include "core/config_keys.h"

namespace policyd {

// "duration", "size", "one of: dunno defer", ... : what a key's value is, for people.
std::string KeyTypeText(const ConfigKey& key);

// One line per ConfigKeys() row, in table order, fields separated by a tab:
//   name  type  default  reload
// e.g. "server.request_timeout\tduration\t\"1s\"\treload". reload is "reload" when SIGHUP
// applies a change, "restart" when it needs a restart.
std::string ConfigKeyList();

}  // namespace policyd
