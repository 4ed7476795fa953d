#include "store/cluster_script_runner.h"

#include <cassert>
#include <memory>

#include "core/cluster_slot.h"
#include "log/log.h"

namespace policyd {

void ClusterScriptRunner::LoadAll(uint64_t timeout_ms) {
  for (RedisClient* primary : cluster_->Primaries()) {
    ScriptRunner(primary).LoadAll(timeout_ms);
  }
}

void ClusterScriptRunner::Run(std::string_view name, std::string route_key,
                              std::vector<std::string> args, uint64_t timeout_ms,
                              RedisClient::Callback callback) {
  const Script* script = FindScript(name);
  assert(script != nullptr);
  uint16_t slot = KeySlot(route_key);
  std::vector<std::string> argv;
  argv.reserve(args.size() + 4);
  argv.push_back("FCALL");
  argv.push_back(script->function);
  argv.push_back("1");
  argv.push_back(std::move(route_key));
  for (auto& a : args) argv.push_back(std::move(a));
  auto shared = std::make_shared<std::vector<std::string>>(std::move(argv));
  cluster_->Command(slot, *shared, timeout_ms,
                    [this, slot, shared, timeout_ms,
                     callback = std::move(callback)](Result<RedisValue> r) mutable {
                      if (!IsFunctionMissing(r)) return callback(ErrorReplyAsError(std::move(r)));
                      // The primary of the slot answered: load it there (REPLACE: another instance
                      // may be loading the same library at the same moment), then call again, once.
                      ++reloads_;
                      POLICYD_LOG_INFO("event=script_library_reload slot={} {}", slot,
                                       LogField("library", Library().name));
                      cluster_->Command(
                          slot, {"FUNCTION", "LOAD", "REPLACE", Library().code}, timeout_ms,
                          [this, slot, shared, timeout_ms,
                           callback = std::move(callback)](Result<RedisValue> loaded) mutable {
                            if (!loaded.ok() || loaded->IsError()) {
                              return callback(ErrorReplyAsError(std::move(loaded)));
                            }
                            cluster_->Command(
                                slot, std::move(*shared), timeout_ms,
                                [callback = std::move(callback)](Result<RedisValue> r) mutable {
                                  callback(ErrorReplyAsError(std::move(r)));
                                });
                          });
                    });
}

}  // namespace policyd
