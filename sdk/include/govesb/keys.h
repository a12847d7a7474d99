#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "govesb/result.h"

namespace govesb::sdk {

enum class Curve { kSecp256k1, kP256, kP521 };

// "secp256k1", "prime256v1", "secp521r1" (also accepted when parsing: "P-256", "P-521", ...).
const char* CurveName(Curve curve);
Result<Curve> ParseCurve(std::string_view name);

// An EC public key: single-line base64 SPKI DER (as GovESB distributes them) or PEM.
// Immutable, cheap to copy, thread-safe.
class PublicKey {
 public:
  static Result<PublicKey> Parse(std::string_view text);
  Curve curve() const;
  std::string ToBase64() const;
  // ECDSA-SHA256 over `message`, signature as base64 DER (high-S accepted).
  bool Verify(std::string_view message, std::string_view signature_base64) const;

  struct Impl;
  explicit PublicKey(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// An EC private key: single-line base64 PKCS#8 DER, or PEM. Immutable, thread-safe.
class PrivateKey {
 public:
  static Result<PrivateKey> Generate(Curve curve);
  static Result<PrivateKey> Parse(std::string_view text);
  Curve curve() const;
  std::string ToBase64() const;  // PKCS#8 DER, base64: secret material
  PublicKey public_key() const;
  // ECDSA-SHA256 over `message`: base64 of the DER signature.
  std::string Sign(std::string_view message) const;

  struct Impl;
  explicit PrivateKey(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// End-to-end payload encryption inside esbBody (wire contract section 6), interoperable with
// govesb-connector-js encrypt/decrypt: ECDH on the recipient's curve with an ephemeral key,
// HKDF-SHA256 (salt 32 zero bytes, info "aes-encryption", 32 bytes), AES-256-GCM (12-byte IV,
// tag prepended). Output/input: the JSON text {"ephemeralKey","iv","encryptedData"}.
Result<std::string> Encrypt(std::string_view plaintext, const PublicKey& recipient);
Result<std::string> Decrypt(std::string_view encrypted_json, const PrivateKey& recipient);

}  // namespace govesb::sdk
