#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace govesb::crypto {

// AES-256-GCM (OpenSSL), with a 12-byte IV and a 16-byte tag. Thread-safe.
inline constexpr size_t kAesKeyBytes = 32;
inline constexpr size_t kGcmIvBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

// tag || ciphertext of `plaintext` under `key` (32 bytes) and `iv` (12 bytes); `aad` is
// authenticated, not encrypted. kInvalidArgument for a key or IV of the wrong size.
[[nodiscard]] Result<std::string> GcmSeal(std::string_view key, std::string_view iv,
                                          std::string_view plaintext, std::string_view aad);
// The plaintext of tag || ciphertext. kBadSignature ("does not decrypt: wrong key or tampered
// data") when the tag does not verify.
[[nodiscard]] Result<std::string> GcmOpen(std::string_view key, std::string_view iv,
                                          std::string_view tag_and_ciphertext,
                                          std::string_view aad);

// With a fresh random IV carried in front: iv || tag || ciphertext (for data kept at rest,
// such as the bodies the evidence log stores).
[[nodiscard]] Result<std::string> SealWithKey(std::string_view key, std::string_view plaintext,
                                              std::string_view aad);
[[nodiscard]] Result<std::string> OpenWithKey(std::string_view key, std::string_view sealed,
                                              std::string_view aad);

}  // namespace govesb::crypto
