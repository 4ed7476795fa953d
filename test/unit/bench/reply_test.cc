// policyd-bench reads replies split anywhere and tallies them by the action's first word.
#include "bench/reply.h"

#include <doctest/doctest.h>

#include <string>

namespace policyd::bench {

TEST_CASE("reply: labels are the action's first word, lower-cased") {
  CHECK(ReplyLabel("DUNNO") == "dunno");
  CHECK(ReplyLabel("421 4.7.1 Rate limit exceeded") == "421");
  CHECK(ReplyLabel("defer_if_permit Rate limit reach, retry later") == "defer_if_permit");
  CHECK(ReplyLabel("") == "");
  CHECK(ReplyLabel(std::string(100, 'x')).size() == 24);
}

TEST_CASE("reply: complete, partial and bad replies") {
  std::string label;
  std::size_t consumed = 0;
  const std::string reply = "action=550 5.7.1 [ABUSE] Sender blocked\n\n";
  CHECK(ParseReply(reply, &label, &consumed) == ReplyStatus::kReply);
  CHECK(label == "550");
  CHECK(consumed == reply.size());
  for (std::size_t cut = 0; cut < reply.size(); ++cut) {
    CAPTURE(cut);
    CHECK(ParseReply(reply.substr(0, cut), &label, &consumed) == ReplyStatus::kNeedMore);
  }
  CHECK(ParseReply("action=DUNNO\nextra=1\n\n", &label, &consumed) == ReplyStatus::kReply);
  CHECK(label == "dunno");
  CHECK(ParseReply("bogus\n\n", &label, &consumed) == ReplyStatus::kBad);
  CHECK(ParseReply("acx", &label, &consumed) == ReplyStatus::kBad);
  CHECK(ParseReply("action=" + std::string(kMaxReplyBytes, 'x'), &label, &consumed) ==
        ReplyStatus::kBad);
}

}  // namespace policyd::bench
