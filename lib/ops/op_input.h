// An admin operation's JSON input and its errors, the same for both front ends. Pure.
//
// Input is one JSON object: the HTTP body with the path's parameters added (a path parameter
// wins over a body field of the same name), or what a policyctl verb builds from its
// arguments. Unknown fields and wrong types are errors, so a typo in a control panel never
// silently does nothing. An error about a field is kInvalid with the message
// "FIELD: what is wrong"; ErrorJson turns it into {"error": {"code", "field", "message"}}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace policyd {
struct Config;
}

namespace policyd::ops {

// kInvalid, "FIELD: message".
Error FieldError(std::string_view field, std::string_view message);

// The body of a request as a JSON object ("" = {}). At most max_bytes (kTooLarge).
Result<nlohmann::json> ParseInputBody(std::string_view body, std::size_t max_bytes);

// input is an object whose fields are all in known.
Status CheckFields(const nlohmann::json& input, const std::vector<std::string_view>& known);

// A string field; nullopt when absent (an error if required).
Result<std::optional<std::string>> StringField(const nlohmann::json& input,
                                               std::string_view field, bool required);
// An array of strings; nullopt when absent (an error if required). At most max entries.
Result<std::optional<std::vector<std::string>>> StringArrayField(const nlohmann::json& input,
                                                                 std::string_view field,
                                                                 bool required,
                                                                 std::size_t max);

// The optional "plan" field: a plan defined in config, or "" (none of its own, inherit);
// nullopt when absent. Errors name the field "plan".
Result<std::optional<std::string>> PlanField(const Config& config, const nlohmann::json& input);

// {"error": {"code": "invalid", "field": "ip_allow", "message": "..."}} ("field" only when
// the message names one).
nlohmann::json ErrorJson(const Error& error);
// 400 invalid, 413 too large (a body), 404 not found, 409 conflict, 503 unavailable or
// timeout, 500 otherwise.
int HttpStatusOf(ErrorCode code);
std::string_view ErrorCodeName(ErrorCode code);

}  // namespace policyd::ops
