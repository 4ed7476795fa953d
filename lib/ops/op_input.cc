#include "ops/op_input.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/config.h"
#include "core/log_text.h"
#include "ops/admin_input.h"

namespace policyd::ops {
namespace {

std::string_view TypeName(const nlohmann::json& v) {
  if (v.is_string()) return "a string";
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

// A field name as it can appear in an error: printable, short.
bool IsFieldName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

}  // namespace

Error FieldError(std::string_view field, std::string_view message) {
  return Invalid(fmt::format("{}: {}", field, message));
}

Result<nlohmann::json> ParseInputBody(std::string_view body, std::size_t max_bytes) {
  if (body.size() > max_bytes) {
    return Error{ErrorCode::kTooLarge,
                 fmt::format("body: {} bytes, at most {}", body.size(), max_bytes)};
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return FieldError("body", "not valid JSON");
  if (!j.is_object()) return FieldError("body", "expected a JSON object");
  return j;
}

Status CheckFields(const nlohmann::json& input, const std::vector<std::string_view>& known) {
  if (!input.is_object()) return FieldError("body", "expected a JSON object");
  for (const auto& [name, value] : input.items()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (std::string_view k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
      return FieldError(IsFieldName(name) ? name : "body",
                        fmt::format("unknown field '{}' (known: {})", LogSafe(name, 64), list));
    }
  }
  return Ok{};
}

Result<std::optional<std::string>> StringField(const nlohmann::json& input,
                                               std::string_view field, bool required) {
  auto it = input.find(field);
  if (it == input.end()) {
    if (required) return FieldError(field, "required");
    return std::optional<std::string>();
  }
  if (!it->is_string()) {
    return FieldError(field, fmt::format("expected a string, got {}", TypeName(*it)));
  }
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<std::vector<std::string>>> StringArrayField(const nlohmann::json& input,
                                                                 std::string_view field,
                                                                 bool required,
                                                                 std::size_t max) {
  auto it = input.find(field);
  if (it == input.end()) {
    if (required) return FieldError(field, "required");
    return std::optional<std::vector<std::string>>();
  }
  if (!it->is_array()) {
    return FieldError(field, fmt::format("expected an array of strings, got {}", TypeName(*it)));
  }
  if (it->size() > max) {
    return FieldError(field, fmt::format("{} entries, at most {}", it->size(), max));
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& e = (*it)[i];
    if (!e.is_string()) {
      return FieldError(field,
                        fmt::format("entry {}: expected a string, got {}", i + 1, TypeName(e)));
    }
    out.push_back(e.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<std::string>> PlanField(const Config& config, const nlohmann::json& input) {
  Result<std::optional<std::string>> plan = StringField(input, "plan", false);
  if (!plan.ok() || !plan->has_value()) return plan;
  Result<std::string> checked = admin::CheckPlan(config, **plan);
  if (!checked.ok()) return FieldError("plan", checked.error().message);
  return std::optional<std::string>(*checked);
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalid: return "invalid";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

int HttpStatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalid: return 400;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

nlohmann::json ErrorJson(const Error& error) {
  nlohmann::json e = {{"code", ErrorCodeName(error.code)}, {"message", error.message}};
  auto colon = error.message.find(": ");
  if ((error.code == ErrorCode::kInvalid || error.code == ErrorCode::kTooLarge) &&
      colon != std::string::npos && IsFieldName(std::string_view(error.message).substr(0, colon))) {
    e["field"] = error.message.substr(0, colon);
    e["message"] = error.message.substr(colon + 2);
  }
  return {{"error", e}};
}

}  // namespace policyd::ops
