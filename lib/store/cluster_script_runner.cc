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
  cluster_->Command(
      slot, *shared, timeout_ms,
      [this, slot, shared, timeout_ms,
       callback = std::move(callback)](Result<RedisValue> r) mutable {
        if (!IsFunctionMissing(r)) return callback(ErrorReplyAsError(std::move(r)));
        // Load every primary of the map (REPLACE: another instance may be loading the same
        // library at the same moment), then call again, once. Every one, not only the slot's:
        // the answer may have come from the node an ASK named, and a node new to the map
        // has nothing yet either. Rare (a flush, a new node), so the extra loads cost nothing.
        ++reloads_;
        POLICYD_LOG_INFO("event=script_library_reload slot={} {}", slot,
                         LogField("library", Library().name));
        // Not the ones down now: their loads would only hold the retry until the deadline.
        std::vector<RedisClient*> primaries;
        for (RedisClient* p : cluster_->Primaries()) {
          if (p->ready()) primaries.push_back(p);
        }
        auto retry = [this, slot, shared, timeout_ms, callback = std::move(callback)]() mutable {
          cluster_->Command(slot, std::move(*shared), timeout_ms,
                            [callback = std::move(callback)](Result<RedisValue> r) mutable {
                              callback(ErrorReplyAsError(std::move(r)));
                            });
        };
        auto pending = std::make_shared<size_t>(primaries.size());
        auto shared_retry = std::make_shared<decltype(retry)>(std::move(retry));
        if (primaries.empty()) return (*shared_retry)();
        for (RedisClient* primary : primaries) {
          primary->Command(
              {"FUNCTION", "LOAD", "REPLACE", Library().code}, timeout_ms,
              [pending, shared_retry](Result<RedisValue> loaded) {
                if (!loaded.ok() || loaded->IsError()) {
                  POLICYD_LOG_WARN(
                      "event=script_load_failed {} {}", LogField("library", Library().name),
                      LogField("error", loaded.ok() ? loaded->str : loaded.error().message));
                }
                // A failed load shows in the retry's answer.
                if (--*pending == 0) (*shared_retry)();
              });
        }
      });
}

}  // namespace policyd
