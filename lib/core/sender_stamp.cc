#include "core/sender_stamp.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdlib>
#include <memory>

#include "core/redis_keys.h"

namespace policyd {
namespace {

constexpr std::size_t kIvBytes = 16;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kMaxFieldBytes = 320;  // a user name or an address

// Derived keys: the secret itself never keys a cipher, and the two uses never share a key.
std::string DeriveKey(std::string_view secret, std::string_view purpose) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Mac(std::string_view secret, std::string_view data) {
  std::string key = DeriveKey(secret, "policyd sender stamp mac v1");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), kMacBytes);
}

// AES-256-CTR is its own inverse: the same call encrypts and decrypts.
std::string Ctr(std::string_view secret, std::string_view iv, std::string_view in) {
  std::string key = DeriveKey(secret, "policyd sender stamp aes v1");
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        EVP_CIPHER_CTX_free);
  std::string out(in.size(), '\0');
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(iv.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        reinterpret_cast<const unsigned char*>(in.data()),
                        static_cast<int>(in.size())) != 1) {
    std::abort();  // OpenSSL without AES: nothing safe to do
  }
  return out;
}

constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64UrlAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kBase64UrlAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::optional<std::string> FromBase64Url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Canonical only: left-over bits must be zero, so each byte string has one spelling and no
  // altered character decodes to the same bytes.
  if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

bool Trim(std::string_view* s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s->empty() && space(s->front())) s->remove_prefix(1);
  while (!s->empty() && space(s->back())) s->remove_suffix(1);
  return !s->empty();
}

}  // namespace

std::string MakeSenderStamp(std::string_view secret, const StampedSender& sender) {
  if (secret.empty() || sender.user.empty() || sender.user.size() > kMaxFieldBytes ||
      sender.sender.size() > kMaxFieldBytes) {
    return "";
  }
  // A name with a newline cannot be told apart from the next field: no stamp.
  if (sender.user.find('\n') != std::string::npos ||
      sender.sender.find('\n') != std::string::npos) {
    return "";
  }
  std::string payload = fmt::format("{}\n{}\n{}", sender.user, sender.sender, sender.time_ms);
  unsigned char iv[kIvBytes];
  if (RAND_bytes(iv, sizeof iv) != 1) std::abort();
  std::string ivs(reinterpret_cast<char*>(iv), sizeof iv);
  std::string body = "1." + Base64Url(ivs + Ctr(secret, ivs, payload));
  std::string token = body + "." + Base64Url(Mac(secret, body));
  return token.size() <= kMaxStampTokenBytes ? token : "";
}

std::optional<StampedSender> VerifySenderStamp(std::string_view secret, std::string_view token) {
  if (secret.empty() || !Trim(&token) || token.size() > kMaxStampTokenBytes) return std::nullopt;
  if (!token.starts_with("1.")) return std::nullopt;
  std::size_t dot = token.rfind('.');
  if (dot <= 1) return std::nullopt;
  std::string_view body = token.substr(0, dot);
  std::optional<std::string> mac = FromBase64Url(token.substr(dot + 1));
  if (!mac || mac->size() != kMacBytes) return std::nullopt;
  std::string expected = Mac(secret, body);
  if (CRYPTO_memcmp(expected.data(), mac->data(), kMacBytes) != 0) return std::nullopt;
  std::optional<std::string> raw = FromBase64Url(body.substr(2));
  if (!raw || raw->size() <= kIvBytes) return std::nullopt;
  std::string iv = raw->substr(0, kIvBytes);
  std::string payload = Ctr(secret, iv, std::string_view(*raw).substr(kIvBytes));
  std::size_t a = payload.find('\n');
  std::size_t b = a == std::string::npos ? a : payload.find('\n', a + 1);
  if (b == std::string::npos) return std::nullopt;
  StampedSender out;
  out.user = payload.substr(0, a);
  out.sender = payload.substr(a + 1, b - a - 1);
  std::string_view t = std::string_view(payload).substr(b + 1);
  if (std::from_chars(t.data(), t.data() + t.size(), out.time_ms).ec != std::errc()) {
    return std::nullopt;
  }
  if (out.user.empty()) return std::nullopt;
  return out;
}

std::string SenderStampAction(const PolicyRequest& request, const Verdict& verdict,
                              const Config& config, uint64_t now_ms, std::string* last_instance) {
  const FeedbackConfig& f = config.feedback;
  if (f.stamp_secret.empty() || request.State() != ProtocolState::kRcpt) return "";
  if (verdict.action != Action::kDunno || verdict.rule.starts_with("unknown-user")) return "";
  if (request.SaslUsername().empty() || request.Instance().empty()) return "";
  if (request.Instance() == *last_instance) return "";  // a later RCPT of the same message
  std::string token = MakeSenderStamp(
      f.stamp_secret, {std::string(request.SaslUsername()), NormalizeSender(request.Sender()),
                       now_ms});
  if (token.empty()) return "";
  *last_instance = std::string(request.Instance());
  return fmt::format("PREPEND {}: {}", f.stamp_header, token);
}

}  // namespace policyd
