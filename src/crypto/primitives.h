#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace govesb::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);
// The SHA-256 of the parts one after the other, without joining them first.
Sha256Digest Sha256(std::initializer_list<std::string_view> parts);
Sha256Digest HmacSha256(std::string_view key, std::string_view data);

// The SHA-256 of data that arrives a part at a time (a file read in chunks). Move-only; one
// thread at a time.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void Update(std::string_view data);
  // The digest of everything given; the stream then starts again, empty.
  Sha256Digest Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Cryptographically secure random bytes (OpenSSL RAND_bytes). Aborts if the RNG fails.
void RandomBytes(std::span<uint8_t> out);
std::string RandomBytes(size_t n);
// n characters from [A-Za-z0-9], uniformly (rejection sampling). Used for client secrets.
std::string RandomAlphanumeric(size_t n);
// A random (version 4) UUID in canonical lowercase form, e.g. client ids.
std::string NewUuid();
// 32 lowercase hex characters (a UUID without hyphens): GovESB requestIds. Version 7
// (time-ordered: ids made later sort later), so that indexes on them stay append-mostly.
std::string NewRequestId();

bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Password-style hashing of client secrets at rest with scrypt (N=2^15, r=8, p=1 by
// default). The encoded form carries its parameters and salt:
//   "scrypt$<logN>$<r>$<p>$<salt b64>$<hash b64>"
// Slow on purpose (tens of milliseconds): never call it on an I/O thread.
std::string HashSecret(std::string_view secret);
// Cheap parameters, for tests only.
std::string HashSecretForTest(std::string_view secret);
// Constant-time comparison of the derived hash. False on a malformed encoding.
bool VerifySecret(std::string_view secret, std::string_view encoded);

}  // namespace govesb::crypto
