#include "core/log_text.h"

#include <fmt/format.h>

namespace policyd {

std::string Printable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string LogSafe(std::string_view bytes, std::size_t max_chars) {
  std::string p = Printable(bytes);
  if (p.size() <= max_chars) return p;
  std::string marker = fmt::format("...({} bytes)...", bytes.size());
  if (max_chars <= marker.size() + 2) return p.substr(0, max_chars);
  std::size_t keep = max_chars - marker.size();
  std::size_t head = keep - keep / 2, tail = keep / 2;
  return p.substr(0, head) + marker + p.substr(p.size() - tail);
}

}  // namespace policyd
