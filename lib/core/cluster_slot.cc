#include "core/cluster_slot.h"

#include <charconv>

namespace policyd {
namespace {

// Parses all of `text` as a decimal number no larger than max.
std::optional<uint32_t> Number(std::string_view text, uint32_t max) {
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n > max) {
    return std::nullopt;
  }
  return n;
}

}  // namespace

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char byte : data) {
    crc ^= static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string_view KeyHashTag(std::string_view key) {
  std::size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  std::size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

uint16_t KeySlot(std::string_view key) {
  return static_cast<uint16_t>(Crc16(KeyHashTag(key)) % kClusterSlots);
}

std::optional<ClusterRedirect> ParseClusterRedirect(std::string_view error) {
  ClusterRedirect r;
  if (error.substr(0, 6) == "MOVED ") {
    r.kind = ClusterRedirect::Kind::kMoved;
    error.remove_prefix(6);
  } else if (error.substr(0, 4) == "ASK ") {
    r.kind = ClusterRedirect::Kind::kAsk;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  std::size_t space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::optional<uint32_t> slot = Number(error.substr(0, space), kClusterSlots - 1);
  std::string_view endpoint = error.substr(space + 1);
  // The port follows the last ':', so an IPv6 host keeps its own colons.
  std::size_t colon = endpoint.rfind(':');
  if (!slot || colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::optional<uint32_t> port = Number(endpoint.substr(colon + 1), 65535);
  if (!port || *port == 0) return std::nullopt;
  r.slot = static_cast<uint16_t>(*slot);
  r.host = std::string(endpoint.substr(0, colon));
  r.port = static_cast<uint16_t>(*port);
  return r;
}

bool IsClusterRetryable(std::string_view error) {
  return error.substr(0, 9) == "TRYAGAIN " || error == "TRYAGAIN" ||
         error.substr(0, 12) == "CLUSTERDOWN " || error == "CLUSTERDOWN";
}

}  // namespace policyd
