// The shape the cluster's counting scripts answer in (subject_count.lua, quota_count.lua): an
// array whose first element is a status word, then the script's fields. Checked in one place;
// each caller reads its own fields.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/redis_value.h"

namespace policyd {

struct StatusReply {
  std::size_t status = 0;                          // index of the status word in `statuses`
  const std::vector<RedisValue>* fields = nullptr;  // the whole array, status first
  std::string error;                               // set: the call failed or the shape is wrong
};

// Reads `reply` of script `script`: an array of one of `sizes` elements whose first is one of
// `statuses`. A failed call gives its error; another shape "SCRIPT: unexpected reply" or
// "SCRIPT: unexpected status". The fields point into `reply`.
StatusReply ReadStatusReply(const Result<RedisValue>& reply, std::string_view script,
                            std::initializer_list<std::size_t> sizes,
                            std::initializer_list<std::string_view> statuses);

}  // namespace policyd
