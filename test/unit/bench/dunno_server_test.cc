// The trivial DUNNO server of scripts/bench answers once per request, however the bytes of
// the requests are split across reads (pipelined requests, a "\n\n" split in two).
#include "bench/dunno_server.h"

#include <doctest/doctest.h>

#include <string>

namespace policyd::bench {

TEST_CASE("dunno_server: one answer per empty line, at any split") {
  const std::string two = "request=smtpd_access_policy\nprotocol_state=RCPT\n\n"
                          "request=smtpd_access_policy\n\n";
  for (std::size_t cut = 0; cut <= two.size(); ++cut) {
    CAPTURE(cut);
    bool last = false;
    std::size_t n = CountRequestEnds(std::string_view(two).substr(0, cut), &last);
    n += CountRequestEnds(std::string_view(two).substr(cut), &last);
    CHECK(n == 2);
  }
}

TEST_CASE("dunno_server: byte by byte, and no end inside a line") {
  bool last = false;
  std::size_t n = 0;
  for (char c : std::string("a=1\nb=2\n\nc=3\n")) n += CountRequestEnds(std::string(1, c), &last);
  CHECK(n == 1);
  CHECK(CountRequestEnds("\n", &last) == 1);  // completes the second request
}

}  // namespace policyd::bench
