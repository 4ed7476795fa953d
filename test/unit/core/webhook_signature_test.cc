// X-Policyd-Signature: known answer (computed with Python's hmac), and a verification that
// accepts exactly the signed body, secret and time window.
#include "core/webhook_signature.h"

#include <doctest/doctest.h>

namespace policyd {

constexpr std::string_view kSecret = "0123456789abcdef";
constexpr std::string_view kBody = R"({"a":1})";

TEST_CASE("WebhookSignature: t=<unix>,v1=<hex hmac-sha256 of \"<t>.<body>\">") {
  CHECK(WebhookSignature(kSecret, 1700000000, kBody) ==
        "t=1700000000,v1=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23");
}

TEST_CASE("VerifyWebhookSignature accepts its own signature within the window only") {
  std::string header = WebhookSignature(kSecret, 1700000000, kBody);
  CHECK(VerifyWebhookSignature(kSecret, header, kBody, 1700000000, 300));
  CHECK(VerifyWebhookSignature(kSecret, header, kBody, 1700000300, 300));
  CHECK(VerifyWebhookSignature(kSecret, header, kBody, 1699999700, 300));        // receiver behind
  CHECK_FALSE(VerifyWebhookSignature(kSecret, header, kBody, 1700000301, 300));  // a replay
  CHECK_FALSE(VerifyWebhookSignature("another secret!!", header, kBody, 1700000000, 300));
  CHECK_FALSE(VerifyWebhookSignature(kSecret, header, R"({"a":2})", 1700000000, 300));
}

TEST_CASE("VerifyWebhookSignature refuses malformed headers and ignores unknown parts") {
  std::string good = WebhookSignature(kSecret, 1700000000, kBody);
  std::string v1 = good.substr(good.find("v1="));
  CHECK(VerifyWebhookSignature(kSecret, v1 + ",t=1700000000,v0=xx", kBody, 1700000000, 300));
  CHECK_FALSE(VerifyWebhookSignature(kSecret, v1, kBody, 1700000000, 300));  // no t
  CHECK_FALSE(VerifyWebhookSignature(kSecret, "t=1700000000", kBody, 1700000000, 300));
  CHECK_FALSE(VerifyWebhookSignature(kSecret, "t=17x," + v1, kBody, 1700000000, 300));
  CHECK_FALSE(
      VerifyWebhookSignature(kSecret, "t=1700000000," + v1.substr(0, 20), kBody, 1700000000, 300));
  CHECK_FALSE(VerifyWebhookSignature(kSecret, "", kBody, 1700000000, 300));
  CHECK_FALSE(VerifyWebhookSignature(kSecret, std::string(2000, 't'), kBody, 1700000000, 300));
}

}  // namespace policyd
