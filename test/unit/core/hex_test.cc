#include "core/hex.h"

#include <doctest/doctest.h>

namespace policyd {

TEST_CASE("HexLower: two lowercase digits a byte, high nibble first") {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff, 0x10};
  CHECK(HexLower(bytes, sizeof bytes) == "000fa5ff10");
  CHECK(HexLower(bytes, 0).empty());
}

}  // namespace policyd
