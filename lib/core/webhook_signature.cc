#include "core/webhook_signature.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <optional>

#include "core/hex.h"

namespace policyd {
namespace {

std::string Mac(std::string_view secret, int64_t t, std::string_view body) {
  std::string signed_text = fmt::format("{}.{}", t, body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &len);
  return HexLower(mac, len);
}

}  // namespace

std::string WebhookSignature(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  return fmt::format("t={},v1={}", unix_seconds, Mac(secret, unix_seconds, body));
}

bool VerifyWebhookSignature(std::string_view secret, std::string_view header, std::string_view body,
                            int64_t now_seconds, int64_t window_seconds) {
  if (header.size() > 1024) return false;
  std::optional<int64_t> t;
  std::string_view v1;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (part.starts_with("t=")) {
      int64_t value = 0;
      std::string_view digits = part.substr(2);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (ec != std::errc{} || end != digits.data() + digits.size()) return false;
      t = value;
    } else if (part.starts_with("v1=")) {
      v1 = part.substr(3);
    }
  }
  if (!t || v1.empty()) return false;
  int64_t skew = now_seconds > *t ? now_seconds - *t : *t - now_seconds;
  if (skew > window_seconds) return false;
  std::string expected = Mac(secret, *t, body);
  return v1.size() == expected.size() &&
         CRYPTO_memcmp(v1.data(), expected.data(), expected.size()) == 0;
}

}  // namespace policyd
