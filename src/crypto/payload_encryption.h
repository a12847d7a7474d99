#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/keys.h"

namespace govesb::crypto {

// Optional end-to-end encryption of an `esbBody` (GOVESB-WIRE.md section 6), interoperable in
// both directions with govesb-connector-js 0.1.1 `encrypt()` / `decrypt()`:
// ephemeral ECDH on the recipient's curve, HKDF-SHA256 (32 zero bytes of salt, info
// "aes-encryption"), AES-256-GCM with a random 12-byte IV and no AAD, carried as
//   {"ephemeralKey":"<base64 of the PEM text>","iv":"<base64>","encryptedData":"<base64 of
//    tag || ciphertext>"}
// Both functions are free of shared state and safe to call from any thread at the same time.

// The largest plaintext EncryptPayload takes: its JSON then stays under the decrypt bound.
inline constexpr size_t kMaxPayloadPlaintextBytes = 48 * 1024 * 1024 - 4096;
// The largest encrypted JSON DecryptPayload reads.
inline constexpr size_t kMaxEncryptedPayloadBytes = 64 * 1024 * 1024;

// Encrypts `plaintext` (any bytes; the JS helper expects UTF-8 text) for `recipient`.
// Error: kResourceExhausted when the plaintext exceeds kMaxPayloadPlaintextBytes.
[[nodiscard]] Result<std::string> EncryptPayload(std::string_view plaintext,
                                                 const PublicKey& recipient);

// Decrypts the JSON produced by EncryptPayload or by govesb-connector-js encrypt(). The
// ephemeral key may be base64 of its PEM text (what both produce) or of its SPKI DER.
// Errors:
//   kResourceExhausted  the JSON is larger than kMaxEncryptedPayloadBytes;
//   kInvalidArgument    malformed JSON, a missing member, bad base64, an IV that is not 12
//                       bytes, an unparsable ephemeral key or one on another curve than
//                       `recipient`;
//   kBadSignature       "payload does not decrypt: wrong key or tampered data" (the GCM tag,
//                       the payload's authenticator, does not verify).
[[nodiscard]] Result<std::string> DecryptPayload(std::string_view encrypted_json,
                                                 const PrivateKey& recipient);

}  // namespace govesb::crypto
