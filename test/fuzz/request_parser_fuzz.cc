// Fuzzes RequestParser with the bytes of a policy connection, as any client could send them.
// The input is the raw stream (seeds: test/data/requests). Each input runs under the shipped
// default limits and under small limits derived from the input, so every bound is reached
// within -max_len. Invariants, beyond "no crash":
//  - lossless: each request, written back as "name=value\n" lines and a blank line, is exactly
//    the bytes the parser consumed for it (nothing dropped, merged or invented);
//  - bounded: at most max_attributes attributes, no line over max_line_bytes, no request over
//    max_request_bytes; names are non-empty without '='; no LF or NUL anywhere; request= is there;
//  - split-independent: the same bytes in arbitrary chunks give the same requests and error;
//  - sticky errors: after kError, Feed consumes nothing and stays kError;
//  - what the server derives from a request stays safe: key tags are printable ASCII without
//    braces, sender domains are plausible DNS names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/decide_args.h"
#include "core/redis_keys.h"
#include "core/request_parser.h"
#include "fuzz_check.h"

namespace policyd {
namespace {

using Attrs = std::vector<std::pair<std::string, std::string>>;

struct Outcome {
  std::vector<Attrs> requests;
  RequestParser::Status last = RequestParser::Status::kNeedMore;
  std::string error;
  std::size_t consumed = 0;  // bytes taken by complete requests
};

std::string Serialize(const Attrs& attrs) {
  std::string out;
  for (const auto& [name, value] : attrs) out += name + "=" + value + "\n";
  return out + "\n";
}

void CheckRequest(const Attrs& attrs, const ParserLimits& limits) {
  FUZZ_CHECK(!attrs.empty() && attrs.size() <= limits.max_attributes);
  FUZZ_CHECK(Serialize(attrs).size() <= limits.max_request_bytes);
  bool has_request = false;
  for (const auto& [name, value] : attrs) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(name.find_first_of(std::string_view("=\n\0", 3)) == std::string::npos);
    FUZZ_CHECK(value.find_first_of(std::string_view("\n\0", 2)) == std::string::npos);
    FUZZ_CHECK(name.size() + 1 + value.size() <= limits.max_line_bytes);
    has_request = has_request || name == "request";
  }
  FUZZ_CHECK(has_request);
}

// Feeds `input` in chunks whose sizes come from `chunk_size(i)` (0: all at once).
template <typename ChunkSize>
Outcome Run(std::string_view input, const ParserLimits& limits, ChunkSize chunk_size) {
  RequestParser parser(limits);
  Outcome out;
  std::size_t pos = 0, chunk_end = 0;
  for (std::size_t i = 0; pos < input.size(); ++i) {
    std::size_t size = chunk_size(i);
    chunk_end = size == 0 ? input.size() : std::min(input.size(), pos + size);
    while (pos < chunk_end) {
      std::string_view rest = input.substr(pos, chunk_end - pos);
      std::size_t consumed = 12345;
      out.last = parser.Feed(rest, &consumed);
      FUZZ_CHECK(consumed <= rest.size());
      pos += consumed;
      FUZZ_CHECK(parser.pending_bytes() <= limits.max_request_bytes);
      if (out.last == RequestParser::Status::kRequest) {
        Attrs attrs = parser.TakeRequest().attributes();
        CheckRequest(attrs, limits);
        std::string_view taken = input.substr(out.consumed, pos - out.consumed);
        FUZZ_CHECK(Serialize(attrs) == taken);
        out.consumed = pos;
        out.requests.push_back(std::move(attrs));
      } else if (out.last == RequestParser::Status::kError) {
        out.error = parser.error();
        FUZZ_CHECK(!out.error.empty());
        std::size_t again = 1;
        FUZZ_CHECK(parser.Feed("request=x\n\n", &again) == RequestParser::Status::kError);
        FUZZ_CHECK(again == 0);
        return out;
      } else {
        FUZZ_CHECK(pos == chunk_end);  // kNeedMore takes everything it was given
      }
    }
  }
  return out;
}

// What the server derives from a request for keys and the store's ARGV.
void CheckDerived(const Attrs& attrs, const Config& config) {
  PolicyRequest request;
  for (const auto& [name, value] : attrs) request.Add(name, value);
  (void)request.State();
  (void)request.RecipientCount();
  (void)request.Size();
  for (SubjectKind kind : {SubjectKind::kUser, SubjectKind::kSender, SubjectKind::kIp}) {
    std::string tag = SubjectTag(kind, kind == SubjectKind::kUser     ? request.SaslUsername()
                                       : kind == SubjectKind::kSender ? request.Sender()
                                                                      : request.ClientAddress());
    std::string_view name = std::string_view(tag).substr(tag.find(':') + 1);
    for (unsigned char c : name) FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '{' && c != '}');
  }
  std::string domain = SenderDomain(request.Sender());
  FUZZ_CHECK(domain.size() <= 253);
  for (char c : domain) {
    FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_');
  }
  if (!DecideLocally(request, config)) {
    static const std::string plans = PlansSpec(config);
    static const AbuseSpecs abuse = AbuseSpec(config);
    std::vector<std::string> argv = BuildDecideArgs(request, config, {}, plans, abuse);
    FUZZ_CHECK(!argv.empty());
  }
}

const Config& TestConfig() {
  static const Config config = [] {
    Result<Config> c = ParseConfig(
        "[policy]\nunauthenticated = \"sender\"\n[report]\nsecret = \"0123456789abcdef\"\n",
        "fuzz.toml");
    if (!c.ok()) std::abort();
    return *c;
  }();
  return config;
}

}  // namespace
}  // namespace policyd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace policyd;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const ParserLimits defaults;
  // The input's last byte picks the limits, so the fuzzer steers them: the shipped defaults
  // or small ones that every bound reaches within -max_len. One set per input halves the
  // cost of an execution.
  unsigned char knob = size ? data[size - 1] : 0;
  const ParserLimits small{8 + knob % 64u, 1 + knob % 7u, 32 + (knob * 5u) % 512u};
  {
    const ParserLimits& limits = knob % 4 == 0 ? defaults : small;
    Outcome whole = Run(input, limits, [](std::size_t) { return std::size_t{0}; });
    Outcome split = Run(input, limits, [&](std::size_t i) {
      return size ? 1 + (data[i % size] + i) % 11 : 1;
    });
    FUZZ_CHECK(whole.requests == split.requests);
    FUZZ_CHECK(whole.last == split.last);
    FUZZ_CHECK(whole.error == split.error);
    FUZZ_CHECK(whole.consumed == split.consumed);
    for (const Attrs& attrs : whole.requests) CheckDerived(attrs, TestConfig());
  }
  return 0;
}
