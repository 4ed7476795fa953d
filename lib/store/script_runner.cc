#include "store/script_runner.h"

#include <openssl/sha.h>

#include <cassert>
#include <memory>

#include "core/hex.h"
#include "log/log.h"
#include "store/embedded_scripts.h"

namespace policyd {
namespace {

std::string Sha1Hex(std::string_view body) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(body.data()), body.size(), md);
  return HexLower(md, sizeof md);
}

}  // namespace

const std::vector<Script>& AllScripts() {
  static const std::vector<Script> scripts = [] {
    std::vector<Script> all;
    for (std::size_t i = 0; i < kEmbeddedScriptCount; ++i) {
      all.push_back({kEmbeddedScripts[i].name, kEmbeddedScripts[i].body,
                     Sha1Hex(kEmbeddedScripts[i].body)});
    }
    return all;
  }();
  return scripts;
}

const Script* FindScript(std::string_view name) {
  for (const Script& s : AllScripts()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void ScriptRunner::LoadAll(uint64_t timeout_ms) {
  for (const Script& s : AllScripts()) {
    client_->Command({"SCRIPT", "LOAD", s.body}, timeout_ms,
                     [name = s.name](Result<RedisValue> r) {
                       if (!r.ok() || r->IsError()) {
                         POLICYD_LOG_WARN("event=script_load_failed {} {}", LogField("script", name),
                                          LogField("error", r.ok() ? r->str : r.error().message));
                       }
                     });
  }
}

void ScriptRunner::Run(std::string_view name, std::vector<std::string> args, uint64_t timeout_ms,
                       RedisClient::Callback callback) {
  const Script* script = FindScript(name);
  assert(script != nullptr);
  std::vector<std::string> argv;
  argv.reserve(args.size() + 3);
  argv.push_back("EVALSHA");
  argv.push_back(script->sha1);
  argv.push_back("0");
  for (auto& a : args) argv.push_back(std::move(a));
  auto shared = std::make_shared<std::vector<std::string>>(std::move(argv));
  client_->Command(*shared, timeout_ms,
                   [this, script, shared, timeout_ms,
                    callback = std::move(callback)](Result<RedisValue> r) mutable {
                     if (r.ok() && r->IsError() && r->str.rfind("NOSCRIPT", 0) == 0) {
                       (*shared)[0] = "EVAL";
                       (*shared)[1] = script->body;
                       client_->Command(std::move(*shared), timeout_ms, std::move(callback));
                       return;
                     }
                     callback(std::move(r));
                   });
}

}  // namespace policyd
