#include "core/rspamd_verdict.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/http_message.h"
#include "core/log_text.h"

namespace policyd {
namespace {

// metadata_exporter writes "unknown" for a missing user or queue id.
std::string Known(const nlohmann::json& doc, const char* name) {
  if (!doc.contains(name) || !doc[name].is_string()) return "";
  std::string v = doc[name].get<std::string>();
  return v == "unknown" ? "" : v;
}

double Number(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      return std::stod(v.get<std::string>());
    } catch (...) {
    }
  }
  return 0;
}

}  // namespace

bool RspamdAuthMatches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  if (BearerTokenMatches(authorization, token)) return true;
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.size() <= kBasic.size() || authorization.size() > 1024 ||
      !authorization.starts_with(kBasic)) {
    return false;
  }
  std::string_view b64 = authorization.substr(kBasic.size());
  std::string decoded(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return false;
  decoded.resize(static_cast<std::size_t>(n));
  while (!b64.empty() && b64.back() == '=') {  // EVP_DecodeBlock keeps padding's zero bytes
    b64.remove_suffix(1);
    if (!decoded.empty()) decoded.pop_back();
  }
  std::size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  std::string_view password = std::string_view(decoded).substr(colon + 1);
  return password.size() == token.size() &&
         CRYPTO_memcmp(password.data(), token.data(), token.size()) == 0;
}

Result<RspamdVerdict> ParseRspamdVerdict(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Invalid("body is not a JSON object");
  if (!doc.contains("action") || !doc["action"].is_string()) {
    return Invalid("no \"action\" string (metadata_exporter formatter = \"json\" expected)");
  }
  RspamdVerdict v;
  v.user = Known(doc, "user");
  v.qid = Known(doc, "qid");
  v.action = doc["action"].get<std::string>();
  if (doc.contains("score")) v.score = Number(doc["score"]);
  // symbols: a list of {name, score, options} (the json formatter), or an object by name.
  std::vector<std::pair<double, std::string>> symbols;
  if (doc.contains("symbols")) {
    const nlohmann::json& s = doc["symbols"];
    auto add = [&](const std::string& name, const nlohmann::json& body) {
      double score = body.is_object() && body.contains("score") ? Number(body["score"]) : 0;
      symbols.emplace_back(score, name);
    };
    if (s.is_array()) {
      for (const auto& e : s) {
        if (e.is_object() && e.contains("name") && e["name"].is_string()) {
          add(e["name"].get<std::string>(), e);
        }
      }
    } else if (s.is_object()) {
      for (auto it = s.begin(); it != s.end(); ++it) add(it.key(), it.value());
    }
  }
  std::stable_sort(symbols.begin(), symbols.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [score, name] : symbols) {
    if (v.symbols.size() >= kMaxRspamdSymbols) break;
    v.symbols.push_back(fmt::format("{}({:.2f})", Printable(name.substr(0, 64)), score));
  }
  return v;
}

std::optional<Signal> RspamdSignal(const RspamdVerdict& verdict, std::string* why) {
  if (verdict.user.empty()) {
    *why = "no authenticated user";
    return std::nullopt;
  }
  const std::string& a = verdict.action;
  if (a != "reject" && a != "add header" && a != "rewrite subject" && a != "soft reject") {
    // Printable: the reason goes into a JSON reply, and a cut UTF-8 sequence would not dump.
    *why = fmt::format("action '{}' is not a spam verdict", LogSafe(a, 32));
    return std::nullopt;
  }
  std::string symbols;
  for (const std::string& s : verdict.symbols) symbols += (symbols.empty() ? "" : ", ") + s;
  std::string evidence =
      fmt::format("rspamd {} score {:.2f}: {}{}", a, verdict.score, symbols,
                  verdict.qid.empty() ? "" : " queue id " + verdict.qid.substr(0, 64));
  if (evidence.size() > kMaxEvidenceBytes) evidence.resize(kMaxEvidenceBytes);
  Result<Signal> s = MakeSignal("user:" + verdict.user, "spam", evidence);
  if (!s.ok()) {
    *why = s.error().message;
    return std::nullopt;
  }
  *why = "";
  return std::move(*s);
}

}  // namespace policyd
