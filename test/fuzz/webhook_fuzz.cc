// Fuzzes what webhook delivery reads from outside or builds from stored text (issue 20): an
// endpoint's response bytes (ParseHttpResponseHead), a configured URL (ParseHttpUrl and the
// request FormatHttpPost builds from it), a signature header (VerifyWebhookSignature), and an
// event's stored fields (WebhookBody). Seeds: corpus/webhook.
// Invariants, beyond "no crash and no exception":
//  - a response head, once complete, keeps its status however many bytes follow, and an
//    incomplete one longer than the bound is an error;
//  - an accepted URL yields a request whose head is exactly the lines FormatHttpPost writes:
//    no CR, LF or space from the URL reaches the request line or Host header;
//  - a header is accepted only when it carries the true HMAC of the body;
//  - the webhook body is always a JSON object with the five fields.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/http_client_wire.h"
#include "core/webhook_event.h"
#include "core/webhook_signature.h"
#include "fuzz_check.h"

namespace policyd {
namespace {

constexpr std::string_view kSecret = "fuzz-webhook-secret-0123";

void Response(std::string_view input) {
  constexpr size_t kMax = 256;
  HttpResponseHead whole = ParseHttpResponseHead(input, kMax);
  for (size_t cut = 0; cut <= input.size(); cut += 1 + cut / 8) {
    HttpResponseHead part = ParseHttpResponseHead(input.substr(0, cut), kMax);
    if (part.state == HttpResponseHead::State::kDone) {
      FUZZ_CHECK(whole.state == HttpResponseHead::State::kDone && whole.status == part.status);
      FUZZ_CHECK(part.status >= 100 && part.status <= 599);
    }
  }
  if (whole.state == HttpResponseHead::State::kNeedMore) FUZZ_CHECK(input.size() <= kMax);
}

void Url(std::string_view input) {
  Result<HttpUrl> url = ParseHttpUrl(input);
  if (!url) return;
  std::string request = FormatHttpPost(*url, {{"X-Policyd-Signature", "t=1,v1=00"}}, "{}");
  std::string head = request.substr(0, request.find("\r\n\r\n"));
  FUZZ_CHECK(std::count(head.begin(), head.end(), '\n') == 6);  // 7 lines, fixed
  FUZZ_CHECK(std::count(head.begin(), head.end(), '\r') == 6);
  std::string first = head.substr(0, head.find("\r\n"));
  FUZZ_CHECK(std::count(first.begin(), first.end(), ' ') == 2);
}

void Signature(std::string_view input) {
  std::string_view body = input.substr(0, input.size() / 2);
  std::string_view header = input.substr(input.size() / 2);
  if (!VerifyWebhookSignature(kSecret, header, body, 1'700'000'000, 300)) return;
  // Only a true MAC passes: the header holds the v1 of some t within the window.
  bool found = false;
  for (int64_t t = 1'700'000'000 - 300; t <= 1'700'000'000 + 300 && !found; ++t) {
    std::string good = WebhookSignature(kSecret, t, body);
    found = header.find(good.substr(good.find("v1="))) != std::string_view::npos;
  }
  FUZZ_CHECK(found);
}

void Body(std::string_view input) {
  size_t cut = input.size() / 3;
  WebhookEvent event{"1-0", "block.created", 1'700'000'000'000, std::string(input.substr(0, cut)),
                     std::string(input.substr(cut))};
  nlohmann::json body = nlohmann::json::parse(WebhookBody(event, "http://x/report", kSecret));
  FUZZ_CHECK(body.is_object() && body.size() == 5 && body["data"].is_object());
}

}  // namespace
}  // namespace policyd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  policyd::Response(input);
  policyd::Url(input);
  policyd::Signature(input);
  policyd::Body(input);
  return 0;
}
