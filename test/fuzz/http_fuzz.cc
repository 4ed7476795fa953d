// Fuzzes the HTTP side's handling of a request, everything short of Redis: HttpRequestReader
// (Debian's http-parser and our bounds) on raw bytes, then the pure parts the routes apply to
// what it assembled: query and form decoding, report auth verification, the API bearer token,
// the signals batch and the JSON/HTTP responses built from them. Seeds: corpus/http.
// Invariants, beyond "no crash and no exception":
//  - bounded: a request's header bytes and body stay within the limits (the shipped ones, and
//    small ones steered by the input's last byte);
//  - split-independent: the same bytes in arbitrary chunks give the same request, or an error
//    both ways;
//  - lower-case header names; decoded query and form values never grow;
//  - auth: a report opens only with exactly ReportAuth(secret, id) for a well-formed id; the
//    bearer check accepts exactly "Bearer " + token, never an empty token;
//  - an accepted signal batch holds 1..kMaxSignalBatch valid signals whose tags are what
//    ParseBlockSubject makes, and every JSON reply the route builds serialises;
//  - an error response's head is CRLF-only and its Content-Length is the body's size.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/http_message.h"
#include "core/redis_keys.h"
#include "core/report_token.h"
#include "core/rspamd_verdict.h"
#include "core/signals.h"
#include "core/url_query.h"
#include "fuzz_check.h"
#include "http/http_request_reader.h"

namespace policyd {
namespace {

constexpr std::string_view kSecret = "fuzz-secret-0123456789";
constexpr std::string_view kToken = "fuzz-token-abcdef";

struct Outcome {
  HttpRequestReader::Status status = HttpRequestReader::Status::kNeedMore;
  HttpRequest request;
  int error_status = 0;
};

bool SameRequest(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.path == b.path && a.query == b.query &&
         a.headers == b.headers && a.body == b.body;
}

// chunk == 0: all bytes in one Feed.
Outcome Read(std::string_view input, HttpLimits limits, const uint8_t* data, std::size_t chunk) {
  HttpRequestReader reader(limits);
  Outcome out;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < input.size() || i == 0; ++i) {
    std::size_t n = input.size() - pos;
    if (chunk != 0 && n > 0) n = std::min<std::size_t>(n, 1 + data[i % chunk] % 9u);
    out.status = reader.Feed(input.substr(pos, n));
    pos += n;
    if (out.status != HttpRequestReader::Status::kNeedMore) break;
  }
  if (out.status == HttpRequestReader::Status::kRequest) {
    out.request = reader.TakeRequest();
    // Done is done: more bytes change nothing.
    FUZZ_CHECK(reader.Feed("GET / HTTP/1.1\r\n\r\n") == HttpRequestReader::Status::kRequest);
  } else if (out.status == HttpRequestReader::Status::kError) {
    out.error_status = reader.error_status();
    FUZZ_CHECK(out.error_status == 400 || out.error_status == 413 || out.error_status == 431);
    FUZZ_CHECK(!reader.error().empty());
    std::string wire = FormatHttpResponse(TextResponse(out.error_status, reader.error() + "\n"));
    std::size_t head_end = wire.find("\r\n\r\n");
    FUZZ_CHECK(head_end != std::string::npos);
    for (std::size_t k = 0; k < head_end; ++k) {
      if (wire[k] == '\n') FUZZ_CHECK(k > 0 && wire[k - 1] == '\r');
      if (wire[k] == '\r') FUZZ_CHECK(wire[k + 1] == '\n');
    }
    FUZZ_CHECK(wire.find(fmt::format("Content-Length: {}\r\n", reader.error().size() + 1)) !=
               std::string::npos);
  }
  return out;
}

void CheckForm(std::string_view raw) {
  FUZZ_CHECK(PercentDecode(raw).size() <= raw.size());
  for (const auto& [name, value] : ParseFormEncoded(raw)) {
    FUZZ_CHECK(name.size() + value.size() <= raw.size());
  }
}

void CheckAuth(const std::string& id, const std::string& auth) {
  bool valid_id = IsValidReportId(id);
  FUZZ_CHECK(VerifyReportAuth(kSecret, id, ReportAuth(kSecret, id)) == valid_id);
  if (VerifyReportAuth(kSecret, id, auth)) {
    FUZZ_CHECK(valid_id && auth == ReportAuth(kSecret, id));
  }
}

void CheckSignals(const std::string& body) {
  Result<std::vector<Signal>> batch = ParseSignalBatch(body);
  try {
    if (!batch.ok()) {
      (void)nlohmann::json{{"error", batch.error().message}}.dump();
      return;
    }
    FUZZ_CHECK(!batch->empty() && batch->size() <= kMaxSignalBatch);
    nlohmann::json blocked = nlohmann::json::array();
    for (const Signal& s : *batch) {
      FUZZ_CHECK(IsSignalKind(s.kind));
      FUZZ_CHECK(s.evidence.size() <= kMaxEvidenceBytes);
      Result<std::string> tag = ParseBlockSubject(s.subject);
      FUZZ_CHECK(tag.ok() && *tag == s.tag);
      FUZZ_CHECK(s.tag.starts_with("user:") || s.tag.starts_with("sender:"));
      blocked.push_back({{"subject", s.subject}, {"reason", s.kind}});
    }
    (void)nlohmann::json{{"accepted", batch->size()}, {"blocked", blocked}}.dump();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "JSON reply threw: %s\n", e.what());
    FUZZ_CHECK(false);
  }
}

// POST /api/v1/rspamd: bounded symbols and evidence, and every reply it builds serialises
// (a cut UTF-8 sequence in a reason would make the JSON dump throw).
void CheckRspamd(const std::string& body, const std::string& authorization) {
  FUZZ_CHECK(!RspamdAuthMatches(authorization, ""));
  Result<RspamdVerdict> v = ParseRspamdVerdict(body);
  try {
    if (!v.ok()) {
      (void)nlohmann::json{{"error", v.error().message}}.dump();
      return;
    }
    FUZZ_CHECK(v->symbols.size() <= kMaxRspamdSymbols);
    std::string why;
    std::optional<Signal> s = RspamdSignal(*v, &why);
    if (!s) {
      (void)nlohmann::json{{"accepted", 0}, {"ignored", why}}.dump();
      return;
    }
    FUZZ_CHECK(s->kind == "spam" && s->evidence.size() <= kMaxEvidenceBytes);
    (void)nlohmann::json{{"accepted", 1}, {"subject", s->subject}, {"blocked", ""}}.dump();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "JSON reply threw: %s\n", e.what());
    FUZZ_CHECK(false);
  }
}

void CheckRequest(const HttpRequest& r, HttpLimits limits) {
  FUZZ_CHECK(!r.method.empty());
  FUZZ_CHECK(r.body.size() <= limits.max_body_bytes);
  std::size_t header_bytes = r.path.size() + r.query.size();
  for (const auto& [name, value] : r.headers) {
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    header_bytes += name.size() + value.size();
  }
  FUZZ_CHECK(header_bytes <= limits.max_header_bytes);

  CheckForm(r.query);
  CheckForm(r.body);
  auto query = ParseFormEncoded(r.query);
  auto form = ParseFormEncoded(r.body);
  CheckAuth(query["id"], query["auth"]);
  CheckAuth(form["id"], form["auth"]);

  std::string authorization = r.Header("authorization");
  FUZZ_CHECK(BearerTokenMatches(authorization, kToken) ==
             (authorization == "Bearer " + std::string(kToken)));
  FUZZ_CHECK(!BearerTokenMatches(authorization, ""));
  CheckSignals(r.body);
  CheckRspamd(r.body, authorization);
}

}  // namespace
}  // namespace policyd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace policyd;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  unsigned char knob = size ? data[size - 1] : 0;
  const HttpLimits shipped;
  const HttpLimits small{16 + (knob * 7u) % 512u, knob % 64u};
  // The last byte picks the shipped or the small limits: one set per input halves the cost of
  // an execution, and the fuzzer steers which bounds it reaches.
  const HttpLimits& limits = knob % 4 == 0 ? shipped : small;
  Outcome whole = Read(input, limits, data, 0);
  Outcome split = Read(input, limits, data, size ? size : 1);
  FUZZ_CHECK(whole.status == split.status);
  if (whole.status != HttpRequestReader::Status::kRequest) return 0;
  FUZZ_CHECK(SameRequest(whole.request, split.request));
  CheckRequest(whole.request, limits);
  return 0;
}
