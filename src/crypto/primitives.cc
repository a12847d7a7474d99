#include "crypto/primitives.h"

// SHA-256 runs several times per exchange. OpenSSL 3.0's EVP interface allocates and frees the
// provider's digest context on every EVP_DigestInit_ex2 (2 allocations per hash, about 14 per
// exchange) and dispatches through the provider; the low-level SHA256_* functions run the same
// assembly (SHA extensions where the CPU has them) on a context on the stack. They are
// deprecated in 3.0 but kept there; this file opts out of the deprecation warnings for them.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <memory>
#include <optional>
#include <vector>

#include "base/encoding.h"
#include "crypto/openssl_handles.h"

namespace govesb::crypto {
namespace {

// OpenSSL wants a non-null pointer even for empty input; string_view::data() may be null.
const unsigned char* Bytes(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

struct ScryptParams {
  int log_n;
  int r;
  int p;
};
constexpr ScryptParams kProductionScrypt{15, 8, 1};
constexpr ScryptParams kTestScrypt{4, 8, 1};
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
// scrypt needs about 128 * r * N bytes; OpenSSL's default cap (32 MiB) is exactly what
// N=2^15, r=8 needs without its bookkeeping, so the cap is raised for every call.
constexpr uint64_t kScryptMaxMem = uint64_t{64} << 20;
// Bounds for parameters read back from an encoded hash (a corrupt or hostile row must not
// make us allocate gigabytes or spin for minutes).
constexpr int kMaxLogN = 20;
constexpr int kMaxR = 16;
constexpr int kMaxP = 16;
constexpr uint64_t kMaxVerifyMem = uint64_t{256} << 20;

// Derives `out.size()` bytes; false if OpenSSL refuses the parameters.
bool Scrypt(std::string_view secret, std::string_view salt, const ScryptParams& params,
            uint64_t max_mem, std::span<uint8_t> out) {
  internal::ClearOpenSslErrorsOnExit clear_errors;
  return EVP_PBE_scrypt(reinterpret_cast<const char*>(Bytes(secret)), secret.size(), Bytes(salt),
                        salt.size(), uint64_t{1} << params.log_n, static_cast<uint64_t>(params.r),
                        static_cast<uint64_t>(params.p), max_mem, out.data(), out.size()) == 1;
}

std::string HashSecretWith(std::string_view secret, const ScryptParams& params) {
  std::string salt = RandomBytes(kSaltBytes);
  std::array<uint8_t, kHashBytes> hash{};
  GOVESB_CHECK(Scrypt(secret, salt, params, kScryptMaxMem, hash));
  std::string encoded = "scrypt$" + std::to_string(params.log_n) + "$" + std::to_string(params.r) +
                        "$" + std::to_string(params.p) + "$" + Base64Encode(salt) + "$" +
                        Base64Encode(hash);
  OPENSSL_cleanse(hash.data(), hash.size());
  return encoded;
}

// A decimal in [min, max], digits only (no sign, no spaces).
std::optional<int> ParseBoundedInt(std::string_view text, int min, int max) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string FormatUuidBytes(std::array<uint8_t, 16> bytes, bool hyphens, uint8_t version = 4) {
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | (version << 4));
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex = HexEncode(bytes);
  if (!hyphens) return hex;
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::array<uint8_t, 16> RandomUuidBytes() {
  std::array<uint8_t, 16> bytes{};
  RandomBytes(bytes);
  return bytes;
}

}  // namespace

Sha256Digest Sha256(std::initializer_list<std::string_view> parts) {
  SHA256_CTX ctx;
  GOVESB_CHECK(SHA256_Init(&ctx) == 1);
  for (std::string_view part : parts) {
    if (!part.empty()) GOVESB_CHECK(SHA256_Update(&ctx, part.data(), part.size()) == 1);
  }
  Sha256Digest digest{};
  GOVESB_CHECK(SHA256_Final(digest.data(), &ctx) == 1);
  return digest;
}

Sha256Digest Sha256(std::string_view data) { return Sha256({data}); }

struct Sha256Stream::State {
  SHA256_CTX ctx;
};

Sha256Stream::Sha256Stream() : state_(std::make_unique<State>()) {
  GOVESB_CHECK(SHA256_Init(&state_->ctx) == 1);
}
Sha256Stream::~Sha256Stream() {
  if (state_ != nullptr) OPENSSL_cleanse(&state_->ctx, sizeof state_->ctx);
}
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;

void Sha256Stream::Update(std::string_view data) {
  if (!data.empty()) GOVESB_CHECK(SHA256_Update(&state_->ctx, data.data(), data.size()) == 1);
}

Sha256Digest Sha256Stream::Finish() {
  Sha256Digest digest{};
  GOVESB_CHECK(SHA256_Final(digest.data(), &state_->ctx) == 1);
  GOVESB_CHECK(SHA256_Init(&state_->ctx) == 1);
  return digest;
}

Sha256Digest HmacSha256(std::string_view key, std::string_view data) {
  // RFC 2104 over SHA-256, on stack contexts (OpenSSL's HMAC() allocates three contexts per
  // call, and a bearer token is checked with it on every exchange).
  constexpr size_t kBlock = 64;
  std::array<uint8_t, kBlock> k{};
  if (key.size() > kBlock) {
    const Sha256Digest hashed = Sha256(key);
    std::copy(hashed.begin(), hashed.end(), k.begin());
  } else {
    std::copy(key.begin(), key.end(), k.begin());
  }
  std::array<uint8_t, kBlock> pad{};
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  SHA256_CTX ctx;
  Sha256Digest inner{};
  GOVESB_CHECK(SHA256_Init(&ctx) == 1 && SHA256_Update(&ctx, pad.data(), pad.size()) == 1);
  if (!data.empty()) GOVESB_CHECK(SHA256_Update(&ctx, data.data(), data.size()) == 1);
  GOVESB_CHECK(SHA256_Final(inner.data(), &ctx) == 1);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  Sha256Digest mac{};
  GOVESB_CHECK(SHA256_Init(&ctx) == 1 && SHA256_Update(&ctx, pad.data(), pad.size()) == 1 &&
               SHA256_Update(&ctx, inner.data(), inner.size()) == 1 &&
               SHA256_Final(mac.data(), &ctx) == 1);
  OPENSSL_cleanse(k.data(), k.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(&ctx, sizeof ctx);
  return mac;
}

void RandomBytes(std::span<uint8_t> out) {
  while (!out.empty()) {
    size_t chunk = std::min<size_t>(out.size(), INT_MAX);
    GOVESB_CHECK(RAND_bytes(out.data(), static_cast<int>(chunk)) == 1);
    out = out.subspan(chunk);
  }
}

std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  RandomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()));
  return bytes;
}

std::string RandomAlphanumeric(size_t n) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 248 = 4 * 62: bytes at or above it are rejected, so that every character is equally
  // likely (byte % 62 alone would favour the first 8 characters by 5 to 4).
  static constexpr unsigned kLimit = 256 - 256 % kAlphabet.size();
  std::string out;
  out.reserve(n);
  std::array<uint8_t, 64> pool{};
  while (out.size() < n) {
    RandomBytes(pool);
    for (uint8_t b : pool) {
      if (b >= kLimit) continue;
      out.push_back(kAlphabet[b % kAlphabet.size()]);
      if (out.size() == n) break;
    }
  }
  OPENSSL_cleanse(pool.data(), pool.size());
  return out;
}

std::string NewUuid() { return FormatUuidBytes(RandomUuidBytes(), /*hyphens=*/true); }

std::string NewRequestId() {
  // UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids made
  // later sort later, so the stores' indexes on request ids grow at their right edge instead
  // of touching a random page per insert (which multiplied the bytes every commit wrote).
  // Request ids are unique, not secret: their random bits come from a per-thread block of
  // RAND_bytes output, refilled every 409 ids, instead of a RAND_bytes call (a lock, and a
  // getpid for its fork check) per exchange.
  thread_local std::array<uint8_t, 4096> pool{};
  thread_local size_t used = pool.size();
  std::array<uint8_t, 16> bytes{};
  if (used + 10 > pool.size()) {
    RandomBytes(pool);
    used = 0;
  }
  std::copy_n(pool.begin() + static_cast<std::ptrdiff_t>(used), 10, bytes.begin() + 6);
  used += 10;
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  return FormatUuidBytes(bytes, /*hyphens=*/false, /*version=*/7);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // When the lengths differ, `a` is compared with itself so that the time spent depends on
  // a's length only, never on where the contents differ.
  const bool same_length = a.size() == b.size();
  const unsigned char* other = same_length ? Bytes(b) : Bytes(a);
  const int diff = CRYPTO_memcmp(Bytes(a), other, a.size());
  return same_length & (diff == 0);
}

std::string HashSecret(std::string_view secret) {
  return HashSecretWith(secret, kProductionScrypt);
}

std::string HashSecretForTest(std::string_view secret) {
  return HashSecretWith(secret, kTestScrypt);
}

bool VerifySecret(std::string_view secret, std::string_view encoded) {
  std::vector<std::string_view> parts = Split(encoded, '$');
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  std::optional<int> log_n = ParseBoundedInt(parts[1], 1, kMaxLogN);
  std::optional<int> r = ParseBoundedInt(parts[2], 1, kMaxR);
  std::optional<int> p = ParseBoundedInt(parts[3], 1, kMaxP);
  if (!log_n || !r || !p) return false;
  const uint64_t v_bytes = uint64_t{128} * static_cast<uint64_t>(*r) * (uint64_t{1} << *log_n);
  const uint64_t b_bytes = uint64_t{128} * static_cast<uint64_t>(*r) * static_cast<uint64_t>(*p);
  if (v_bytes + b_bytes > kMaxVerifyMem) return false;

  std::optional<std::string> salt = Base64Decode(parts[4]);
  std::optional<std::string> expected = Base64Decode(parts[5]);
  if (!salt || salt->empty() || salt->size() > 64) return false;
  if (!expected || expected->size() < 16 || expected->size() > 64) return false;

  std::array<uint8_t, 64> derived{};
  std::span<uint8_t> out(derived.data(), expected->size());
  // OpenSSL's own accounting adds a little on top of V and B; leave it room.
  const uint64_t max_mem = std::max(kScryptMaxMem, v_bytes + b_bytes + (uint64_t{1} << 20));
  if (!Scrypt(secret, *salt, ScryptParams{*log_n, *r, *p}, max_mem, out)) return false;
  const bool equal = ConstantTimeEquals(
      std::string_view(reinterpret_cast<const char*>(out.data()), out.size()), *expected);
  OPENSSL_cleanse(derived.data(), derived.size());
  return equal;
}

}  // namespace govesb::crypto
