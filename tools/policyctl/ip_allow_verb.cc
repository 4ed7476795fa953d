// user ip-allow: a user's client IP allow-list, through the same operations as the HTTP admin
// API's /api/v1/admin/users/{user}/ip-allow-list (lib/ops/user_ip_allow.h). This verb only
// turns its arguments into the operation's JSON input and prints the operation's result.
#include <fmt/format.h>

#include "ops/user_ip_allow.h"
#include "policyctl/verbs.h"

namespace policyd::admin {

Status UserIpAllow(VerbContext& ctx) {
  nlohmann::json input = {{"user", ctx.inv.args[0]}};
  std::vector<std::string> networks(ctx.inv.args.begin() + 1, ctx.inv.args.end());
  bool clear = ctx.inv.Has("--clear");
  if (clear && !networks.empty()) {
    return Invalid("--clear removes the whole list: give either --clear or networks");
  }
  bool set = clear || !networks.empty();
  if (set) input["ip_allow"] = networks;
  Result<ops::AdminCall> call = set ? ops::SetIpAllowList(ctx.config, input)
                                    : ops::ShowIpAllowList(ctx.config, input);
  if (!call.ok()) return call.error();
  Result<nlohmann::json> result = ctx.session.Run(std::move(*call));
  if (!result.ok()) {
    if (result.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("user '{}' not found; create it: policyctl user set {} "
                                  "--account ACCOUNT",
                                  Cell(ctx.inv.args[0]), Cell(ctx.inv.args[0])));
    }
    return result.error();
  }
  std::string text;
  const nlohmann::json& list = (*result)["ip_allow"];
  if (list.empty()) {
    text = fmt::format("user {}: no IP allow-list (any client address)\n", Cell(ctx.inv.args[0]));
  } else {
    text = fmt::format("user {}: client addresses allowed:\n", Cell(ctx.inv.args[0]));
    for (const auto& n : list) text += "  " + n.get<std::string>() + "\n";
  }
  ctx.Emit(*result, text);
  return Ok{};
}

}  // namespace policyd::admin
