// A Redis reply as a plain value, so that nothing outside lib/store ever sees hiredis's
// redisReply. Conversion happens once, in the client's reply callback.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace policyd {

struct RedisValue {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisValue> elements;

  bool IsError() const { return type == Type::kError; }
  // Integer, or a string holding an integer (Lua numbers come back as integers, but a
  // script may return counters as strings); 0 otherwise.
  int64_t AsInt() const;
  // The string form of kString/kStatus/kInteger; "" otherwise.
  std::string AsString() const;
};

}  // namespace policyd
