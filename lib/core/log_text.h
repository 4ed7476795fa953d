// Making hostile bytes safe for a log line: every byte outside printable ASCII becomes \xNN,
// and long values keep their head and tail around a "...(N bytes)..." marker (Redis
// setProtocolError does the same), so one log line stays one line and bounded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace policyd {

// Printable ASCII passes; backslash becomes "\\"; everything else "\xNN".
std::string Printable(std::string_view bytes);

// Printable(), then at most max_chars characters: head + "...(N bytes)..." + tail.
std::string LogSafe(std::string_view bytes, std::size_t max_chars = 128);

}  // namespace policyd
