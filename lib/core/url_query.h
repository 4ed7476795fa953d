// application/x-www-form-urlencoded: URL query strings and HTML form bodies. Percent-decoding,
// '+' as space; malformed escapes are kept literally. Bounded by the caller's input size.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace policyd {

std::string PercentDecode(std::string_view text);
// First value wins for a repeated name.
std::map<std::string, std::string> ParseFormEncoded(std::string_view text);

}  // namespace policyd
