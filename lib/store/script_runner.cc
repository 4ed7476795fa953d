#include "store/script_runner.h"

#include <openssl/sha.h>

#include <cassert>
#include <memory>

#include <fmt/format.h>

#include "core/hex.h"
#include "log/log.h"
#include "store/embedded_scripts.h"

namespace policyd {
namespace {

// Each script becomes one function of the library; its top-level 'return' returns from it.
constexpr char kLibraryFormat[] =
    "redis.register_function('{}', function(KEYS, ARGV)\n{}\nend)\n";
// A script whose first line is kReadOnlyMarker writes nothing: registered with the no-writes
// flag, it is called with FCALL_RO (allowed on replicas, and Redis enforces that it only reads).
constexpr char kReadOnlyMarker[] = "-- flags: no-writes\n";
constexpr char kReadOnlyLibraryFormat[] =
    "redis.register_function{{function_name='{}', callback=function(KEYS, ARGV)\n{}\nend, "
    "flags={{'no-writes'}}}}\n";

std::string Sha1Hex(std::string_view body) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(body.data()), body.size(), md);
  return HexLower(md, sizeof md);
}

}  // namespace

const std::vector<Script>& AllScripts() {
  static const std::vector<Script> scripts = [] {
    std::vector<Script> all;
    // The version names the library text: the preludes, every script and the wrapper below.
    std::string text = std::string(kLibraryFormat) + kReadOnlyLibraryFormat + kEmbeddedPrelude;
    for (std::size_t i = 0; i < kEmbeddedScriptCount; ++i) text += kEmbeddedScripts[i].source;
    std::string version = Sha1Hex(text).substr(0, 16);
    for (std::size_t i = 0; i < kEmbeddedScriptCount; ++i) {
      const EmbeddedScript& e = kEmbeddedScripts[i];
      bool read_only = std::string_view(e.source).rfind(kReadOnlyMarker, 0) == 0;
      all.push_back({e.name, e.body, e.source, Sha1Hex(e.body),
                     std::string(e.name) + "_" + version, read_only});
    }
    return all;
  }();
  return scripts;
}

const FunctionLibrary& Library() {
  static const FunctionLibrary library = [] {
    const std::string& first = AllScripts().front().function;
    std::string version = first.substr(first.rfind('_') + 1);
    FunctionLibrary lib{"policyd_" + version, {}};
    lib.code = fmt::format("#!lua name={}\n{}\n", lib.name, kEmbeddedPrelude);
    for (const Script& s : AllScripts()) {
      lib.code += fmt::format(fmt::runtime(s.read_only ? kReadOnlyLibraryFormat : kLibraryFormat),
                              s.function, s.source);
    }
    return lib;
  }();
  return library;
}

const Script* FindScript(std::string_view name) {
  for (const Script& s : AllScripts()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void ScriptRunner::LoadAll(uint64_t timeout_ms) {
  client_->Command({"FUNCTION", "LOAD", "REPLACE", Library().code}, timeout_ms,
                   [](Result<RedisValue> r) {
                     if (!r.ok() || r->IsError()) {
                       POLICYD_LOG_WARN("event=script_load_failed {} {}",
                                        LogField("library", Library().name),
                                        LogField("error", r.ok() ? r->str : r.error().message));
                     }
                   });
}

bool IsFunctionMissing(const Result<RedisValue>& r) {
  return r.ok() && r->IsError() && r->str.rfind("ERR Function not found", 0) == 0;
}

std::vector<std::string> FcallArgv(std::string_view name, std::vector<std::string> keys,
                                   std::vector<std::string> args) {
  const Script* script = FindScript(name);
  assert(script != nullptr);
  std::vector<std::string> argv;
  argv.reserve(args.size() + keys.size() + 3);
  argv.push_back(script->read_only ? "FCALL_RO" : "FCALL");
  argv.push_back(script->function);
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  return argv;
}

Result<RedisValue> ErrorReplyAsError(Result<RedisValue> r) {
  if (r.ok() && r->IsError()) return Error{ErrorCode::kInternal, r->str};
  return r;
}

void ScriptRunner::Run(std::string_view name, std::vector<std::string> args, uint64_t timeout_ms,
                       RedisClient::Callback callback) {
  std::vector<std::string> argv = FcallArgv(name, {}, std::move(args));
  auto shared = std::make_shared<std::vector<std::string>>(std::move(argv));
  client_->Command(
      *shared, timeout_ms,  // by reference: the ARGV is formatted, not copied
      [this, shared, timeout_ms, callback = std::move(callback)](Result<RedisValue> r) mutable {
        if (!IsFunctionMissing(r)) return callback(ErrorReplyAsError(std::move(r)));
        // REPLACE: another instance may load the same library at the same moment.
        client_->Command({"FUNCTION", "LOAD", "REPLACE", Library().code}, timeout_ms,
                         [this, shared, timeout_ms, callback = std::move(callback)](
                             Result<RedisValue> loaded) mutable {
                           if (!loaded.ok() || loaded->IsError()) {
                             return callback(ErrorReplyAsError(std::move(loaded)));
                           }
                           client_->Command(std::move(*shared), timeout_ms,
                                            [callback = std::move(callback)](
                                                Result<RedisValue> r) mutable {
                                              callback(ErrorReplyAsError(std::move(r)));
                                            });
                         });
      });
}

}  // namespace policyd
