// Report ids and auth tokens: shape, uniqueness, HMAC known answer, and verification that
// accepts exactly one auth per (secret, id).
#include "core/report_token.h"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <string>
#include <unordered_set>
#include <vector>

namespace policyd {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// 8-4-4-4-12 lowercase hex.
bool IsUuidShaped(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsLowerHex(s[i])) return false;
  }
  return true;
}

constexpr std::string_view kSecret = "sixteen byte key";
constexpr std::string_view kId = "0123456789abcdef0123";

}  // namespace

TEST_CASE("report_token: NewReportId is 20 lowercase hex characters and unique over 10,000") {
  std::unordered_set<std::string> ids;
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewReportId();
    REQUIRE(id.size() == 20);
    for (char c : id) REQUIRE(IsLowerHex(c));
    REQUIRE(IsValidReportId(id));
    ids.insert(std::move(id));
  }
  CHECK(ids.size() == 10000);
}

TEST_CASE("report_token: a forked child and its parent never make the same next id") {
  // Ids come from a per-thread pool of random bytes: a child must not reuse what its parent
  // still holds (the pool is refilled after fork).
  NewReportId();  // the pool now holds unused bytes
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::string id = NewReportId();
    ssize_t n = write(fds[1], id.data(), id.size());
    _exit(n == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string parent = NewReportId();
  char buf[32] = {};
  ssize_t n = read(fds[0], buf, sizeof buf);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(n == 20);
  CHECK(std::string(buf, 20) != parent);
}

TEST_CASE("report_token: IsValidReportId accepts exactly 20 lowercase hex characters") {
  struct Case {
    std::string id;
    bool valid;
  };
  std::vector<Case> cases = {
      {"0123456789abcdef0123", true},
      {"ffffffffffffffffffff", true},
      {"", false},
      {"0123456789abcdef012", false},
      {"0123456789abcdef01234", false},
      {"0123456789ABCDEF0123", false},
      {"0123456789abcdeg0123", false},
      {"0123456789abcdef012 ", false},
      {"0123456789abcdef012\n", false},
      {std::string("0123456789abcdef012\0", 20), false},
      {"../../../etc/passwd0", false},
      {"0123456789abcdef0123&auth=x", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.id);
    CHECK(IsValidReportId(c.id) == c.valid);
  }
}

TEST_CASE("report_token: ReportAuth is the first 16 bytes of HMAC-SHA256, UUID-shaped") {
  // openssl dgst -sha256 -hmac 'sixteen byte key' <<< '0123456789abcdef0123' (no newline)
  CHECK(ReportAuth(kSecret, kId) == "54da4565-6c01-52be-bdcc-44544b5dd23d");
  for (int i = 0; i < 100; ++i) {
    std::string id = NewReportId();
    std::string auth = ReportAuth(kSecret, id);
    CAPTURE(auth);
    CHECK(IsUuidShaped(auth));
    CHECK(ReportAuth(kSecret, id) == auth);  // deterministic
  }
}

TEST_CASE("report_token: ReportAuth differs by secret and by id") {
  std::string base = ReportAuth(kSecret, kId);
  CHECK(ReportAuth("sixteen byte kez", kId) != base);
  CHECK(ReportAuth("sixteen byte key ", kId) != base);
  CHECK(ReportAuth(kSecret, "0123456789abcdef0124") != base);
  CHECK(ReportAuth(kSecret, "1123456789abcdef0123") != base);
}

TEST_CASE("report_token: ReportAuth is well defined for an empty secret") {
  std::string a = ReportAuth(std::string_view(), kId);
  std::string b = ReportAuth("", kId);
  CHECK(IsUuidShaped(a));
  CHECK(a == b);
  CHECK(a != ReportAuth(kSecret, kId));
}

TEST_CASE("report_token: VerifyReportAuth accepts only the exact auth for a valid id") {
  std::string good = ReportAuth(kSecret, kId);
  CHECK(VerifyReportAuth(kSecret, kId, good));

  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  REQUIRE(upper != good);

  std::vector<std::string> wrong = {
      "",
      upper,
      good.substr(0, 35),
      good + "0",
      good + " ",
      " " + good,
      good.substr(0, 8) + good.substr(9) + "0",  // dash moved
      std::string(36, '0'),
      ReportAuth("another secret!!", kId),
      ReportAuth(kSecret, "0123456789abcdef0124"),
  };
  for (std::size_t i = 0; i < good.size(); ++i) {  // every single-character change
    std::string altered = good;
    altered[i] = altered[i] == '0' ? '1' : '0';
    wrong.push_back(altered);
  }
  for (const std::string& auth : wrong) {
    CAPTURE(auth);
    CHECK_FALSE(VerifyReportAuth(kSecret, kId, auth));
  }
  CHECK_FALSE(VerifyReportAuth("another secret!!", kId, good));
}

TEST_CASE("report_token: VerifyReportAuth refuses malformed ids even with their own auth") {
  for (std::string id : {"", "0123456789ABCDEF0123", "0123456789abcdef012", "x",
                         "0123456789abcdef01234"}) {
    CAPTURE(id);
    CHECK_FALSE(VerifyReportAuth(kSecret, id, ReportAuth(kSecret, id)));
  }
}

TEST_CASE("report_token: ReportUrl appends id and auth as query parameters") {
  CHECK(ReportUrl("https://r.example/report", kSecret, kId) ==
        "https://r.example/report?id=0123456789abcdef0123"
        "&auth=54da4565-6c01-52be-bdcc-44544b5dd23d");
  std::string id = NewReportId();
  CHECK(ReportUrl("http://127.0.0.1:10041/report", kSecret, id) ==
        "http://127.0.0.1:10041/report?id=" + id + "&auth=" + ReportAuth(kSecret, id));
}

}  // namespace policyd
