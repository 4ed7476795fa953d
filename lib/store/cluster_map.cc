#include "store/cluster_map.h"

#include <fmt/format.h>

namespace policyd {
namespace {

Error Bad(const std::string& what) {
  return Error{ErrorCode::kInvalid, "CLUSTER SLOTS reply: " + what};
}

}  // namespace

Result<ClusterMap> ClusterMap::FromClusterSlots(const RedisValue& reply,
                                                std::string_view asked_host) {
  if (reply.type != RedisValue::Type::kArray) return Bad("not an array");
  ClusterMap map;
  map.slot_owner_.fill(-1);
  for (std::size_t i = 0; i < reply.elements.size(); ++i) {
    const RedisValue& range = reply.elements[i];
    if (range.type != RedisValue::Type::kArray || range.elements.size() < 3 ||
        range.elements[0].type != RedisValue::Type::kInteger ||
        range.elements[1].type != RedisValue::Type::kInteger) {
      return Bad(fmt::format("range {} is not [start, end, node, ...]", i));
    }
    int64_t start = range.elements[0].integer, end = range.elements[1].integer;
    if (start < 0 || end >= kClusterSlots || start > end) {
      return Bad(fmt::format("range {} is {}-{}, outside 0-16383", i, start, end));
    }
    const RedisValue& node = range.elements[2];
    bool unknown_host = node.type == RedisValue::Type::kArray && !node.elements.empty() &&
                        (node.elements[0].type == RedisValue::Type::kNil ||
                         (node.elements[0].type == RedisValue::Type::kString &&
                          node.elements[0].str.empty()));
    if (node.type != RedisValue::Type::kArray || node.elements.size() < 2 ||
        (node.elements[0].type != RedisValue::Type::kString && !unknown_host) ||
        (unknown_host && asked_host.empty()) ||
        node.elements[1].type != RedisValue::Type::kInteger ||
        node.elements[1].integer <= 0 || node.elements[1].integer > 65535) {
      return Bad(fmt::format("range {}: its primary is not [host, port, ...]", i));
    }
    std::string host = unknown_host ? std::string(asked_host) : node.elements[0].str;
    int owner = map.IndexOf({host, static_cast<uint16_t>(node.elements[1].integer)});
    for (int64_t s = start; s <= end; ++s) map.slot_owner_[s] = static_cast<int16_t>(owner);
  }
  return map;
}

int ClusterMap::AssignedSlots() const {
  int n = 0;
  for (int16_t owner : slot_owner_) n += owner >= 0;
  return n;
}

void ClusterMap::Move(uint16_t slot, const ClusterNode& node) {
  slot_owner_[slot % kClusterSlots] = static_cast<int16_t>(IndexOf(node));
}

int ClusterMap::IndexOf(const ClusterNode& node) {
  for (std::size_t i = 0; i < primaries_.size(); ++i) {
    if (primaries_[i] == node) return static_cast<int>(i);
  }
  primaries_.push_back(node);
  return static_cast<int>(primaries_.size() - 1);
}

}  // namespace policyd
