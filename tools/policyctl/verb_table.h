// Every policyctl verb (DESIGN §8) as data: words, arguments, options and help text. The
// handlers live beside each group of verbs (account_verbs.cc, user_verbs.cc, ...); policyctl.cc
// joins them by name. Pure, so the parser is tested against the real table.
#pragma once

#include <string_view>
#include <vector>

#include "policyctl/cli_args.h"

namespace policyd::admin {

const std::vector<VerbSpec>& PolicyctlVerbs();

}  // namespace policyd::admin
