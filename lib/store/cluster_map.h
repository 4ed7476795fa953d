// Which primary serves each of Redis Cluster's 16384 slots, read from CLUSTER SLOTS. A value:
// the router (one per event loop) keeps one and replaces it when a MOVED or a lost primary
// says the cluster changed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/cluster_slot.h"
#include "core/result.h"
#include "store/redis_value.h"

namespace policyd {

struct ClusterNode {
  std::string host;
  uint16_t port = 0;
  bool operator==(const ClusterNode&) const = default;
};

class ClusterMap {
 public:
  // From a CLUSTER SLOTS reply: an array of [start, end, [host, port, id...], replicas...].
  // A range past 16383, a start after its end, a node without host or port, or a reply that is
  // not that shape is kInvalid naming what is wrong. Slots no range covers stay unassigned
  // (a cluster being created or resharded): NodeFor answers -1 for them.
  // A primary named by a NULL endpoint (its address is unknown: behind a load balancer) or by
  // "" (it does not know its own address: a cluster of one node, or one not yet joined) is
  // on the host the map was read from, `asked_host`, with the port given (the CLUSTER SLOTS
  // documentation says so); with no asked_host that is an error.
  static Result<ClusterMap> FromClusterSlots(const RedisValue& reply,
                                             std::string_view asked_host = {});

  // The primaries, each once, in the order the reply first names them.
  const std::vector<ClusterNode>& primaries() const { return primaries_; }

  // Index into primaries() of the node serving `slot`, -1 when none does.
  int NodeFor(uint16_t slot) const { return slot_owner_[slot]; }

  // How many slots have a primary (16384 in a healthy cluster).
  int AssignedSlots() const;

  // A MOVED reply said `slot` lives on `node` now: the map answers so until it is re-read
  // (the router also re-reads it, as several slots usually moved together).
  void Move(uint16_t slot, const ClusterNode& node);

 private:
  int IndexOf(const ClusterNode& node);

  std::vector<ClusterNode> primaries_;
  std::array<int16_t, kClusterSlots> slot_owner_{};
};

}  // namespace policyd
