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
  Run(name, std::vector<std::string>{std::move(route_key)}, std::move(args), timeout_ms,
      std::move(callback));
}

void ClusterScriptRunner::Run(std::string_view name, std::vector<std::string> keys,
                              std::vector<std::string> args, uint64_t timeout_ms,
                              RedisClient::Callback callback) {
  assert(!keys.empty());
  uint16_t slot = KeySlot(keys.front());
  std::vector<std::string> argv = FcallArgv(name, std::move(keys), std::move(args));
  Send(slot, std::move(argv), timeout_ms, std::move(callback));
}

void ClusterScriptRunner::RunKeyless(std::string_view name, uint16_t slot,
                                     std::vector<std::string> args, uint64_t timeout_ms,
                                     RedisClient::Callback callback) {
  std::vector<std::string> argv = FcallArgv(name, {}, std::move(args));
  Send(slot, std::move(argv), timeout_ms, std::move(callback));
}

void ClusterScriptRunner::Send(uint16_t slot, std::vector<std::string> argv,
                               uint64_t timeout_ms, RedisClient::Callback callback) {
  auto shared = std::make_shared<std::vector<std::string>>(std::move(argv));
  cluster_->Command(
      slot, *shared, timeout_ms,
      [this, slot, shared, timeout_ms,
       callback = std::move(callback)](Result<RedisValue> r) mutable {
        if (!IsFunctionMissing(r)) return callback(ErrorReplyAsError(std::move(r)));
        // Called again, once, after the library is loaded on every primary.
        ReloadThen(slot, timeout_ms,
                   [this, slot, shared, timeout_ms, callback = std::move(callback)]() mutable {
                     cluster_->Command(
                         slot, std::move(*shared), timeout_ms,
                         [callback = std::move(callback)](Result<RedisValue> r) mutable {
                           callback(ErrorReplyAsError(std::move(r)));
                         });
                   });
      });
}

void ClusterScriptRunner::ReloadThen(uint16_t slot, uint64_t timeout_ms,
                                     std::function<void()> then) {
  waiting_.push_back(std::move(then));
  // A burst of calls that all find the library missing (a cold start, a flushed primary)
  // waits for one load instead of each loading it on every primary: hundreds of loads in a
  // row held the calls behind them past their deadline (the cluster race, 768 calls).
  if (loading_) return;
  loading_ = true;
  // Every primary of the map, not only the slot's: the answer may have come from the node an
  // ASK named, and a node new to the map has nothing yet either (REPLACE: another instance
  // may be loading the same library at the same moment).
  ++reloads_;
  POLICYD_LOG_INFO("event=script_library_reload slot={} {}", slot,
                   LogField("library", Library().name));
  // Not the ones down now: their loads would only hold the retries until the deadline.
  std::vector<RedisClient*> primaries;
  for (RedisClient* p : cluster_->Primaries()) {
    if (p->ready()) primaries.push_back(p);
  }
  auto done = [this]() {
    loading_ = false;
    std::vector<std::function<void()>> retries;
    retries.swap(waiting_);
    for (auto& retry : retries) retry();
  };
  if (primaries.empty()) return done();
  auto pending = std::make_shared<size_t>(primaries.size());
  for (RedisClient* primary : primaries) {
    primary->Command({"FUNCTION", "LOAD", "REPLACE", Library().code}, timeout_ms,
                     [pending, done](Result<RedisValue> loaded) {
                       if (!loaded.ok() || loaded->IsError()) {
                         POLICYD_LOG_WARN("event=script_load_failed {} {}",
                                          LogField("library", Library().name),
                                          LogField("error", loaded.ok() ? loaded->str
                                                                        : loaded.error().message));
                       }
                       // A failed load shows in the retries' answers.
                       if (--*pending == 0) done();
                     });
  }
}

}  // namespace policyd
