// The substring check the unit tests' CHECKs share (one definition: the test files are
// compiled together as unity builds, where two would collide).
#pragma once

#include <string_view>

namespace policyd::testing {

inline bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace policyd::testing
