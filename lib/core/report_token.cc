#include "core/report_token.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <pthread.h>

#include <atomic>
#include <cstdlib>

#include "core/cluster_slot.h"
#include "core/hex.h"
#include "core/report_slot.h"

namespace policyd {

namespace {

// Bumped in a forked child, so that parent and child never hand out the same pooled bytes.
std::atomic<uint64_t> fork_generation{0};

void RegisterForkHandler() {
  static const int registered = pthread_atfork(nullptr, nullptr, [] { ++fork_generation; });
  (void)registered;
}

// Random bytes drawn from RAND_bytes 640 at a time: a report id is made for every decision,
// and each RAND_bytes call costs a getpid() syscall and the DRBG's locking (6% of policyd's
// CPU per request at 64 connections). Per thread, so no lock.
struct RandomPool {
  unsigned char bytes[640];
  std::size_t used = sizeof bytes;
  uint64_t generation = 0;

  const unsigned char* Take(std::size_t n) {
    uint64_t g = fork_generation.load(std::memory_order_relaxed);
    if (used + n > sizeof bytes || generation != g) {
      RegisterForkHandler();
      if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: nothing safe to do
      used = 0;
      generation = g;
    }
    const unsigned char* out = bytes + used;
    used += n;
    return out;
  }
};

}  // namespace

std::string NewReportId() {
  thread_local RandomPool pool;
  return HexLower(pool.Take(10), 10);
}

std::string NewReportId(std::string_view subject_tag) {
  std::string id(SubjectSlotTag(subject_tag));
  return id + "." + NewReportId();
}

bool IsValidReportId(std::string_view id) {
  std::string_view tag = ReportIdSlotTag(id);
  if (!tag.empty() || id.starts_with('.')) {
    if (tag.empty() || tag.size() > 4) return false;
    for (char c : tag) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
    }
    id.remove_prefix(tag.size() + 1);
  }
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
  std::string hex = HexLower(mac, 16);  // 128 bits, grouped 8-4-4-4-12 like a UUID
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20));
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
