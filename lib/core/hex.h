// Lowercase hex of raw bytes: script SHA1s (as SCRIPT LOAD returns them), report ids and
// their HMACs, the hashed identities of decide.lua's arguments. One encoder for all of them.
#pragma once

#include <cstddef>
#include <string>

namespace policyd {

// "0123456789abcdef" digits, two per byte, most significant nibble first.
std::string HexLower(const unsigned char* data, std::size_t size);

}  // namespace policyd
