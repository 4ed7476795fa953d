#include "core/report_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>

#include "fmt/format.h"

namespace policyd {
namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string NewReportId() {
  unsigned char bytes[10];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: nothing safe to do
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

bool IsValidReportId(std::string_view id) {
  if (id.size() != 20) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ReportAuth(std::string_view secret, std::string_view id) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(id.data()), id.size(), mac, &len);
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

bool VerifyReportAuth(std::string_view secret, std::string_view id, std::string_view auth) {
  if (!IsValidReportId(id)) return false;
  std::string expected = ReportAuth(secret, id);
  if (auth.size() != expected.size()) return false;
  return CRYPTO_memcmp(expected.data(), auth.data(), expected.size()) == 0;
}

std::string ReportUrl(std::string_view base_url, std::string_view secret, std::string_view id) {
  return fmt::format("{}?id={}&auth={}", base_url, id, ReportAuth(secret, id));
}

}  // namespace policyd
