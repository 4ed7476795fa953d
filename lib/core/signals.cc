#include "core/signals.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/redis_keys.h"

namespace policyd {

bool IsSignalKind(std::string_view kind) {
  return kind == "complaint" || kind == "bounce" || kind == "spam" || kind == "bad_recipient" ||
         kind == "list_bombing";
}

Result<Signal> MakeSignal(std::string_view subject, std::string_view kind,
                          std::string_view evidence, std::string_view feedback_id) {
  Result<std::string> tag = ParseBlockSubject(subject);
  if (!tag.ok()) return tag.error();
  if (!IsSignalKind(kind)) {
    return Invalid(fmt::format(
        "kind '{}': expected complaint, bounce, spam, bad_recipient or list_bombing", kind));
  }
  if (evidence.size() > kMaxEvidenceBytes) {
    return Invalid(fmt::format("evidence longer than {} bytes", kMaxEvidenceBytes));
  }
  if (feedback_id.size() > kMaxFeedbackIdBytes) {
    return Invalid(fmt::format("id longer than {} bytes", kMaxFeedbackIdBytes));
  }
  for (char c : feedback_id) {
    if (c <= ' ' || c > '~') return Invalid("id: printable ASCII without spaces expected");
  }
  return Signal{std::string(subject), *tag, std::string(kind), std::string(evidence),
                std::string(feedback_id)};
}

Result<std::vector<Signal>> ParseSignalBatch(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded()) return Invalid("body is not valid JSON");
  const nlohmann::json* list = &doc;
  if (doc.is_object()) {
    if (!doc.contains("signals")) return Invalid("expected {\"signals\": [...]}");
    list = &doc["signals"];
  }
  if (!list->is_array()) return Invalid("signals must be an array");
  if (list->empty()) return Invalid("signals is empty");
  if (list->size() > kMaxSignalBatch) {
    return Invalid(fmt::format("more than {} signals in one request", kMaxSignalBatch));
  }
  std::vector<Signal> out;
  out.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& e = (*list)[i];
    auto text = [&](const char* name) -> std::string {
      return e.is_object() && e.contains(name) && e[name].is_string() ? e[name].get<std::string>()
                                                                       : std::string();
    };
    if (!e.is_object() || !e.contains("subject") || !e.contains("kind")) {
      return Invalid(fmt::format("signals[{}]: needs \"subject\" and \"kind\" strings", i));
    }
    Result<Signal> s = MakeSignal(text("subject"), text("kind"), text("evidence"), text("id"));
    if (!s.ok()) return Invalid(fmt::format("signals[{}]: {}", i, s.error().message));
    out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace policyd
