#include "store/redis_value.h"

#include <charconv>

namespace policyd {

int64_t RedisValue::AsInt() const {
  if (type == Type::kInteger) return integer;
  if (type != Type::kString && type != Type::kStatus) return 0;
  int64_t v = 0;
  std::from_chars(str.data(), str.data() + str.size(), v);
  return v;
}

std::string RedisValue::AsString() const {
  if (type == Type::kInteger) return std::to_string(integer);
  if (type == Type::kString || type == Type::kStatus) return str;
  return {};
}

}  // namespace policyd
