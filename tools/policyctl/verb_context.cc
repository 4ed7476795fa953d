#include "policyctl/verb_context.h"

namespace policyd::admin {

int ExitCode(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalid:
    case ErrorCode::kTooLarge:
      return 2;
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
      return 3;
    case ErrorCode::kNotFound:
    case ErrorCode::kConflict:
    case ErrorCode::kInternal:
      return 1;
  }
  return 1;
}

std::map<std::string, std::string> HashOf(const RedisValue& reply) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    out[reply.elements[i].AsString()] = reply.elements[i + 1].AsString();
  }
  return out;
}

std::vector<std::string> StringsOf(const RedisValue& reply) {
  std::vector<std::string> out;
  for (const RedisValue& e : reply.elements) out.push_back(e.AsString());
  return out;
}

}  // namespace policyd::admin
