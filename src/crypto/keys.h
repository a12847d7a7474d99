#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/primitives.h"

// OpenSSL's EVP_PKEY, declared here so that this header does not pull in OpenSSL.
struct evp_pkey_st;

namespace govesb::crypto {

// The curves GovESB systems use. Signatures are always ECDSA with SHA-256, whatever the curve.
enum class Curve { kSecp256k1, kP256, kP521 };

// "secp256k1", "prime256v1", "secp521r1".
std::string_view CurveName(Curve curve);
// Accepts the names above and the aliases "P-256", "secp256r1", "P-521".
Result<Curve> ParseCurveName(std::string_view name);

// An EC public key, parsed once and then shared. Immutable; Verify is thread-safe.
// secp256k1 keys verify through libsecp256k1, the NIST curves through OpenSSL.
class PublicKey {
 public:
  // Single-line base64 of X.509 SubjectPublicKeyInfo DER, or PEM ("-----BEGIN PUBLIC KEY-----").
  // Errors name what is wrong (not base64, not a public key, unsupported curve ...).
  static Result<PublicKey> FromText(std::string_view text);
  static Result<PublicKey> FromSpkiDer(std::span<const uint8_t> der);

  Curve curve() const;
  // Base64 of the SubjectPublicKeyInfo DER, one line.
  std::string SpkiBase64() const;

  // ECDSA-SHA256 over `message`. `der_signature` is ASN.1 DER; high-S signatures are
  // accepted (normalised before libsecp256k1 sees them). False on any malformed input.
  bool Verify(std::string_view message, std::span<const uint8_t> der_signature) const;
  // Same, with the signature as standard base64 (as carried in envelopes).
  bool VerifyBase64(std::string_view message, std::string_view signature_base64) const;
  // The same over the message's SHA-256, made already by a caller that needs it anyway (the
  // evidence log keeps the SHA-256 of every signed body): the message is hashed once.
  bool VerifyDigest(const Sha256Digest& digest, std::span<const uint8_t> der_signature) const;
  bool VerifyDigestBase64(const Sha256Digest& digest, std::string_view signature_base64) const;

  // The underlying OpenSSL key (an EVP_PKEY), owned by this object and its copies. For the
  // crypto module's own OpenSSL code (payload encryption); callers must not modify it.
  evp_pkey_st* evp() const;

  struct Impl;

 private:
  explicit PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// An EC private key. Immutable; Sign is thread-safe.
class PrivateKey {
 public:
  static Result<PrivateKey> Generate(Curve curve);
  // Single-line base64 of PKCS#8 DER, or PEM ("BEGIN PRIVATE KEY" or "BEGIN EC PRIVATE KEY").
  static Result<PrivateKey> FromText(std::string_view text);

  Curve curve() const;
  // Base64 of the unencrypted PKCS#8 DER, one line. Secret material: never log it.
  std::string Pkcs8Base64() const;
  PublicKey public_key() const;

  // ECDSA-SHA256 over `message`: ASN.1 DER signature (low-S), as standard base64.
  std::string SignBase64(std::string_view message) const;
  std::string SignDer(std::string_view message) const;
  // The same over the message's SHA-256, made already by the caller.
  std::string SignDigestBase64(const Sha256Digest& digest) const;
  std::string SignDigestDer(const Sha256Digest& digest) const;

  // The underlying OpenSSL key (an EVP_PKEY), owned by this object and its copies. For the
  // crypto module's own OpenSSL code (payload encryption); callers must not modify it.
  evp_pkey_st* evp() const;

  struct Impl;

 private:
  explicit PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// The signing seam: the bus signs through a Signer so that an HSM can replace the local key.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual std::string SignBase64(std::string_view message) const = 0;
  // ECDSA over a SHA-256 the caller has made of the message (SignBase64 without the hashing).
  virtual std::string SignDigestBase64(const Sha256Digest& digest) const = 0;
  // The key it signs with now (a rotating signer may sign with another one later).
  virtual PublicKey public_key() const = 0;
  // A signer of the key this one signs with now, which stays that key: for what must name the
  // key it is signed with (an evidence checkpoint names its key's id in the text it signs).
  virtual std::shared_ptr<const Signer> Pinned() const = 0;
};

class LocalSigner final : public Signer {
 public:
  explicit LocalSigner(PrivateKey key) : key_(std::move(key)), public_key_(key_.public_key()) {}
  std::string SignBase64(std::string_view message) const override {
    return key_.SignBase64(message);
  }
  std::string SignDigestBase64(const Sha256Digest& digest) const override {
    return key_.SignDigestBase64(digest);
  }
  PublicKey public_key() const override { return public_key_; }
  std::shared_ptr<const Signer> Pinned() const override {
    return std::make_shared<LocalSigner>(*this);
  }

 private:
  PrivateKey key_;
  PublicKey public_key_;
};

}  // namespace govesb::crypto
