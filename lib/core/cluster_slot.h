// Redis Cluster's key-to-slot mapping and its redirect errors (the Redis Cluster
// specification, "Keys distribution model" and "Redirection and resharding"). Pure: the
// cluster router (lib/store) decides where to send a call from these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace policyd {

inline constexpr uint16_t kClusterSlots = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as the specification defines it:
// Crc16("123456789") == 0x31C3.
uint16_t Crc16(std::string_view data);

// The part of a key that is hashed: the text between the first '{' and the first '}' after
// it, when that is not empty; otherwise the whole key. policyd's keys put the subject there
// ("pd:rate:{user:alice}:messages:3600" -> "user:alice"), so every key of a subject shares a
// slot.
std::string_view KeyHashTag(std::string_view key);

// The slot of a key: Crc16(KeyHashTag(key)) mod 16384.
uint16_t KeySlot(std::string_view key);

// A "-MOVED 3999 127.0.0.1:6381" or "-ASK 3999 127.0.0.1:6381" error (without the '-', as
// hiredis hands it over). MOVED: the slot lives there now (refresh the map); ASK: only this
// one call goes there, preceded by ASKING.
struct ClusterRedirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  uint16_t slot = 0;
  std::string host;  // as the node announces itself; an IPv6 address has no brackets
  uint16_t port = 0;
};

// nullopt when the error is not a well-formed MOVED or ASK (any other error, a slot past
// 16383, a missing or bad port).
std::optional<ClusterRedirect> ParseClusterRedirect(std::string_view error);

// An error worth asking again shortly, until the call's deadline, rather than answering:
// "TRYAGAIN" (a multi-key call while its slot migrates, keys split between two nodes) and
// "CLUSTERDOWN" (the cluster is between a primary's failure and its replica's promotion, or
// a node has not yet heard the new map). Any other error is the call's answer.
bool IsClusterRetryable(std::string_view error);

}  // namespace policyd
