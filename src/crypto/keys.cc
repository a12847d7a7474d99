#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <secp256k1.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <optional>

#include "base/encoding.h"
#include "crypto/openssl_handles.h"
#include "crypto/primitives.h"

namespace govesb::crypto {

using internal::BignumPtr;
using internal::BioPtr;
using internal::ClearOpenSslErrorsOnExit;
using internal::EcdsaSigPtr;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;
using internal::OpenSslPtr;
using internal::Pkcs8Ptr;

namespace {

constexpr std::string_view kSupportedCurves = "secp256k1, prime256v1, secp521r1";
// Key texts are a few hundred bytes; anything far larger is not a key.
constexpr size_t kMaxKeyTextBytes = 64 * 1024;
// A P-521 DER signature is at most 139 bytes; allow slack for non-minimal encodings.
constexpr size_t kMaxSignatureBytes = 256;
constexpr size_t kSecp256k1ScalarBytes = 32;

// The one libsecp256k1 context. Created once, randomised against side channels, then only
// read: libsecp256k1 documents concurrent sign/verify on a const context as safe. It is never
// destroyed, so that threads still verifying while the process exits cannot use freed memory.
const secp256k1_context* Secp256k1Context() {
  static const secp256k1_context* const context = [] {
    using ContextPtr =
        std::unique_ptr<secp256k1_context, internal::FreeWith<secp256k1_context_destroy>>;
    ContextPtr created(secp256k1_context_create(SECP256K1_CONTEXT_NONE));
    GOVESB_CHECK(created != nullptr);
    std::array<uint8_t, 32> seed{};
    RandomBytes(seed);
    GOVESB_CHECK(secp256k1_context_randomize(created.get(), seed.data()) == 1);
    OPENSSL_cleanse(seed.data(), seed.size());
    return created.release();
  }();
  return context;
}

std::string_view Trim(std::string_view text) {
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// --- Decoding keys with OpenSSL -----------------------------------------------------------

// One PEM block: its label ("PUBLIC KEY", "EC PRIVATE KEY" ...) and its decoded body.
struct PemBlock {
  std::string label;
  std::string der;
  ~PemBlock() { OPENSSL_cleanse(der.data(), der.size()); }  // may be a private key
};

// Reads the first PEM block of `text`, skipping "EC PARAMETERS" blocks (which
// `openssl ecparam -genkey` writes before the key).
Result<std::unique_ptr<PemBlock>> ReadPemBlock(std::string_view text, std::string_view what) {
  ClearOpenSslErrorsOnExit clear_errors;
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio == nullptr) return Internal("cannot allocate a memory BIO");
  while (true) {
    char* raw_label = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long len = 0;
    const int ok = PEM_read_bio(bio.get(), &raw_label, &raw_header, &raw_data, &len);
    OpenSslPtr<char> label(raw_label);
    OpenSslPtr<char> header(raw_header);
    auto wipe_data = [&] {
      if (raw_data != nullptr) OPENSSL_clear_free(raw_data, static_cast<size_t>(len));
    };
    if (ok != 1) {
      wipe_data();
      return InvalidArgument(std::string(what) + " PEM is malformed (no complete BEGIN/END block)");
    }
    std::string label_text(label.get());
    if (label_text == "EC PARAMETERS") {
      wipe_data();
      continue;
    }
    if (header != nullptr &&
        std::string_view(header.get()).find("ENCRYPTED") != std::string_view::npos) {
      wipe_data();
      return InvalidArgument("encrypted " + std::string(what) +
                             " PEM is not supported: provide the key unencrypted");
    }
    auto block = std::make_unique<PemBlock>();
    block->label = std::move(label_text);
    block->der.assign(reinterpret_cast<const char*>(raw_data), static_cast<size_t>(len));
    wipe_data();
    return block;
  }
}

// The text of a key: PEM (any BEGIN line) or base64 of DER, possibly wrapped over lines.
// `pem_label` is set when the text was PEM.
struct KeyText {
  std::string der;
  std::optional<std::string> pem_label;
  ~KeyText() { OPENSSL_cleanse(der.data(), der.size()); }
};

Result<std::unique_ptr<KeyText>> DecodeKeyText(std::string_view text, std::string_view what) {
  text = Trim(text);
  if (text.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (text.size() > kMaxKeyTextBytes) return InvalidArgument(std::string(what) + " is too long");
  auto out = std::make_unique<KeyText>();
  if (text.find("-----BEGIN") != std::string_view::npos) {
    GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<PemBlock> block, ReadPemBlock(text, what));
    out->der = std::move(block->der);
    out->pem_label = block->label;
    return out;
  }
  std::optional<std::string> der = Base64Decode(text);
  if (!der.has_value()) {
    return InvalidArgument(std::string(what) +
                           " is not valid base64 (expected base64 DER or a PEM block)");
  }
  if (der->empty()) return InvalidArgument(std::string(what) + " is empty");
  out->der = std::move(*der);
  return out;
}

// d2i_* wrappers that insist on consuming the whole input (no trailing bytes).
EvpPkeyPtr ParseSpki(std::span<const uint8_t> der) {
  if (der.size() > LONG_MAX) return nullptr;
  const unsigned char* p = der.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (key == nullptr || p != der.data() + der.size()) return nullptr;
  return key;
}

EvpPkeyPtr ParsePkcs8(std::span<const uint8_t> der) {
  if (der.size() > LONG_MAX) return nullptr;
  const unsigned char* p = der.data();
  Pkcs8Ptr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (info == nullptr || p != der.data() + der.size()) return nullptr;
  return EvpPkeyPtr(EVP_PKCS82PKEY(info.get()));
}

// SEC1 ECPrivateKey ("BEGIN EC PRIVATE KEY").
EvpPkeyPtr ParseSec1(std::span<const uint8_t> der) {
  if (der.size() > LONG_MAX) return nullptr;
  const unsigned char* p = der.data();
  EvpPkeyPtr key(d2i_PrivateKey(EVP_PKEY_EC, nullptr, &p, static_cast<long>(der.size())));
  if (key == nullptr || p != der.data() + der.size()) return nullptr;
  return key;
}

std::optional<std::string> GetUtf8Param(const EVP_PKEY* key, const char* name) {
  std::array<char, 80> buf{};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, name, buf.data(), buf.size(), &len) != 1) {
    return std::nullopt;
  }
  return std::string(buf.data(), len);
}

// The supported curve of an EC key, or why the key is not acceptable.
Result<Curve> CurveOfKey(const EVP_PKEY* key, std::string_view what) {
  if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) {
    return InvalidArgument("RSA " + std::string(what) +
                           "s are not supported: GovESB signs with ECDSA (supported curves: " +
                           std::string(kSupportedCurves) + ")");
  }
  if (!EVP_PKEY_is_a(key, "EC")) {
    const char* type = EVP_PKEY_get0_type_name(key);
    return InvalidArgument(std::string(what) + " is not an EC key (key type " +
                           (type != nullptr ? type : "unknown") +
                           "); supported curves: " + std::string(kSupportedCurves));
  }
  std::optional<std::string> encoding = GetUtf8Param(key, OSSL_PKEY_PARAM_EC_ENCODING);
  std::optional<std::string> group = GetUtf8Param(key, OSSL_PKEY_PARAM_GROUP_NAME);
  if ((encoding.has_value() && *encoding == OSSL_PKEY_EC_ENCODING_EXPLICIT) || !group.has_value()) {
    return InvalidArgument(std::string(what) +
                           " uses explicit EC curve parameters, which are not supported: "
                           "encode it with a named curve (" +
                           std::string(kSupportedCurves) + ")");
  }
  return ParseCurveName(*group);
}

// Canonical SubjectPublicKeyInfo DER of any key (public or private).
std::string EncodeSpki(const EVP_PKEY* key) {
  unsigned char* raw = nullptr;
  const int len = i2d_PUBKEY(key, &raw);
  OpenSslPtr<unsigned char> owned(raw);
  GOVESB_CHECK(len > 0);
  return std::string(reinterpret_cast<const char*>(raw), static_cast<size_t>(len));
}

// The public point of a secp256k1 key as libsecp256k1 wants it. OpenSSL hands out the point
// as encoded (compressed or uncompressed); libsecp256k1 parses both.
bool Secp256k1PointOf(const EVP_PKEY* key, secp256k1_pubkey* out) {
  std::array<unsigned char, 1 + 2 * kSecp256k1ScalarBytes> point{};
  size_t point_len = 0;
  return EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(),
                                         &point_len) == 1 &&
         secp256k1_ec_pubkey_parse(Secp256k1Context(), out, point.data(), point_len) == 1;
}

// --- Signatures ---------------------------------------------------------------------------

// Lax DER: OpenSSL's d2i_ECDSA_SIG tolerates non-minimal lengths and integer padding that
// libsecp256k1 and OpenSSL's own verifier refuse. Trailing bytes are still refused.
EcdsaSigPtr ParseLaxDerSignature(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (sig == nullptr || p != der.data() + der.size()) return nullptr;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  if (BN_is_zero(r) || BN_is_zero(s) || BN_is_negative(r) || BN_is_negative(s)) return nullptr;
  return sig;
}

// The fallback for signatures libsecp256k1's strict DER parser refuses.
bool ParseLaxSecp256k1Signature(std::span<const uint8_t> der, secp256k1_ecdsa_signature* out) {
  ClearOpenSslErrorsOnExit clear_errors;
  EcdsaSigPtr sig = ParseLaxDerSignature(der);
  if (sig == nullptr) return false;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::array<unsigned char, 2 * kSecp256k1ScalarBytes> compact{};
  if (BN_bn2binpad(r, compact.data(), kSecp256k1ScalarBytes) != kSecp256k1ScalarBytes ||
      BN_bn2binpad(s, compact.data() + kSecp256k1ScalarBytes, kSecp256k1ScalarBytes) !=
          kSecp256k1ScalarBytes) {
    return false;  // wider than 256 bits
  }
  // Refuses r or s >= the group order.
  return secp256k1_ecdsa_signature_parse_compact(Secp256k1Context(), out, compact.data()) == 1;
}

bool VerifySecp256k1(const secp256k1_pubkey& key, const Sha256Digest& digest,
                     std::span<const uint8_t> der) {
  const secp256k1_context* ctx = Secp256k1Context();
  secp256k1_ecdsa_signature parsed;
  if (secp256k1_ecdsa_signature_parse_der(ctx, &parsed, der.data(), der.size()) != 1 &&
      !ParseLaxSecp256k1Signature(der, &parsed)) {
    return false;
  }
  // libsecp256k1 only accepts low-S; other signers (OpenSSL, Java, Node) produce either.
  secp256k1_ecdsa_signature normalized;
  secp256k1_ecdsa_signature_normalize(ctx, &normalized, &parsed);
  return secp256k1_ecdsa_verify(ctx, &normalized, digest.data(), &key) == 1;
}

// ECDSA over the SHA-256 digest (what EVP_DigestVerify with SHA-256 does after hashing).
bool VerifyWithOpenSsl(EVP_PKEY* key, const Sha256Digest& digest, std::span<const uint8_t> der) {
  ClearOpenSslErrorsOnExit clear_errors;
  // OpenSSL's verifier insists on canonical DER; accept what other encoders produce by
  // re-encoding first, so that all three curves accept the same signatures.
  EcdsaSigPtr sig = ParseLaxDerSignature(der);
  if (sig == nullptr) return false;
  std::array<unsigned char, kMaxSignatureBytes> canonical{};
  if (i2d_ECDSA_SIG(sig.get(), nullptr) > static_cast<int>(canonical.size())) return false;
  unsigned char* end = canonical.data();
  const int canonical_len = i2d_ECDSA_SIG(sig.get(), &end);
  if (canonical_len <= 0) return false;

  // A context per call: EVP contexts are mutable and must not be shared between threads.
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (ctx == nullptr || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1) {
    return false;
  }
  return EVP_PKEY_verify(ctx.get(), canonical.data(), static_cast<size_t>(canonical_len),
                         digest.data(), digest.size()) == 1;
}

}  // namespace

// --- Curves -------------------------------------------------------------------------------

std::string_view CurveName(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1:
      return "secp256k1";
    case Curve::kP256:
      return "prime256v1";
    case Curve::kP521:
      return "secp521r1";
  }
  return "unknown";
}

Result<Curve> ParseCurveName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "secp256k1") return Curve::kSecp256k1;
  if (lower == "prime256v1" || lower == "secp256r1" || lower == "p-256") return Curve::kP256;
  if (lower == "secp521r1" || lower == "p-521") return Curve::kP521;
  return InvalidArgument("unsupported curve " + std::string(name) +
                         " (supported: " + std::string(kSupportedCurves) + ")");
}

// --- PublicKey ----------------------------------------------------------------------------

struct PublicKey::Impl {
  Curve curve = Curve::kSecp256k1;
  std::string spki_der;
  // Used for the NIST curves (and to re-encode); for secp256k1 only `secp256k1_point`.
  EvpPkeyPtr key;
  // Parsed once here so that Verify never parses the key again.
  secp256k1_pubkey secp256k1_point{};
};

Result<PublicKey> PublicKey::FromText(std::string_view text) {
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<KeyText> decoded, DecodeKeyText(text, "public key"));
  if (decoded->pem_label.has_value() && *decoded->pem_label != "PUBLIC KEY") {
    if (decoded->pem_label->find("PRIVATE KEY") != std::string::npos) {
      return InvalidArgument("expected a public key but got a PEM '" + *decoded->pem_label +
                             "' block: never distribute private keys");
    }
    return InvalidArgument("PEM block '" + *decoded->pem_label +
                           "' is not a public key (expected BEGIN PUBLIC KEY)");
  }
  return FromSpkiDer(AsBytes(decoded->der));
}

Result<PublicKey> PublicKey::FromSpkiDer(std::span<const uint8_t> der) {
  ClearOpenSslErrorsOnExit clear_errors;
  if (der.empty()) return InvalidArgument("public key is empty");
  EvpPkeyPtr key = ParseSpki(der);
  if (key == nullptr) {
    if (ParsePkcs8(der) != nullptr) {
      return InvalidArgument(
          "expected a public key but got a PKCS#8 private key: never distribute private keys");
    }
    return InvalidArgument(
        "public key is not an X.509 SubjectPublicKeyInfo EC public key (DER does not parse)");
  }
  GOVESB_ASSIGN_OR_RETURN(Curve curve, CurveOfKey(key.get(), "public key"));

  auto impl = std::make_shared<Impl>();
  impl->curve = curve;
  impl->spki_der = EncodeSpki(key.get());
  if (curve == Curve::kSecp256k1 && !Secp256k1PointOf(key.get(), &impl->secp256k1_point)) {
    return InvalidArgument("public key is not a valid secp256k1 point");
  }
  impl->key = std::move(key);
  return PublicKey(std::move(impl));
}

Curve PublicKey::curve() const {
  GOVESB_CHECK(impl_ != nullptr);
  return impl_->curve;
}

std::string PublicKey::SpkiBase64() const {
  GOVESB_CHECK(impl_ != nullptr);
  return Base64Encode(impl_->spki_der);
}

bool PublicKey::Verify(std::string_view message, std::span<const uint8_t> der_signature) const {
  return VerifyDigest(Sha256(message), der_signature);
}

bool PublicKey::VerifyDigest(const Sha256Digest& digest,
                             std::span<const uint8_t> der_signature) const {
  GOVESB_CHECK(impl_ != nullptr);
  if (der_signature.empty() || der_signature.size() > kMaxSignatureBytes) return false;
  if (impl_->curve == Curve::kSecp256k1) {
    return VerifySecp256k1(impl_->secp256k1_point, digest, der_signature);
  }
  return VerifyWithOpenSsl(impl_->key.get(), digest, der_signature);
}

EVP_PKEY* PublicKey::evp() const {
  GOVESB_CHECK(impl_ != nullptr);
  return impl_->key.get();
}

bool PublicKey::VerifyBase64(std::string_view message, std::string_view signature_base64) const {
  return VerifyDigestBase64(Sha256(message), signature_base64);
}

bool PublicKey::VerifyDigestBase64(const Sha256Digest& digest,
                                   std::string_view signature_base64) const {
  if (signature_base64.size() > 2 * kMaxSignatureBytes) return false;
  std::array<uint8_t, kMaxSignatureBytes> der;
  const std::optional<size_t> der_len = Base64DecodeInto(signature_base64, der);
  if (!der_len.has_value()) return false;  // not base64, or longer than any signature
  return VerifyDigest(digest, std::span<const uint8_t>(der.data(), *der_len));
}

// --- PrivateKey ---------------------------------------------------------------------------

struct PrivateKey::Impl {
  Impl(Curve c, EvpPkeyPtr k, PublicKey p)
      : curve(c), key(std::move(k)), public_key(std::move(p)) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { OPENSSL_cleanse(secp256k1_secret.data(), secp256k1_secret.size()); }

  Curve curve;
  EvpPkeyPtr key;
  PublicKey public_key;
  // The secret scalar, big-endian, extracted once (secp256k1 only).
  std::array<unsigned char, kSecp256k1ScalarBytes> secp256k1_secret{};
};

namespace {

Result<std::shared_ptr<const PrivateKey::Impl>> MakePrivateKeyImpl(EvpPkeyPtr key) {
  ClearOpenSslErrorsOnExit clear_errors;
  GOVESB_ASSIGN_OR_RETURN(Curve curve, CurveOfKey(key.get(), "private key"));

  EvpPkeyCtxPtr check_ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (check_ctx == nullptr) return Internal("cannot allocate an EVP_PKEY_CTX");
  if (EVP_PKEY_pairwise_check(check_ctx.get()) != 1) {
    return InvalidArgument("private key is invalid or does not match its embedded public key");
  }
  GOVESB_ASSIGN_OR_RETURN(PublicKey public_key,
                          PublicKey::FromSpkiDer(AsBytes(EncodeSpki(key.get()))));
  auto impl = std::make_shared<PrivateKey::Impl>(curve, std::move(key), std::move(public_key));

  if (curve == Curve::kSecp256k1) {
    BIGNUM* raw_scalar = nullptr;
    if (EVP_PKEY_get_bn_param(impl->key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw_scalar) != 1) {
      return InvalidArgument("private key has no secret scalar");
    }
    BignumPtr scalar(raw_scalar);
    const secp256k1_context* ctx = Secp256k1Context();
    secp256k1_pubkey derived;
    if (BN_bn2binpad(scalar.get(), impl->secp256k1_secret.data(), kSecp256k1ScalarBytes) !=
            kSecp256k1ScalarBytes ||
        secp256k1_ec_seckey_verify(ctx, impl->secp256k1_secret.data()) != 1 ||
        secp256k1_ec_pubkey_create(ctx, &derived, impl->secp256k1_secret.data()) != 1) {
      return InvalidArgument("private key is not a valid secp256k1 scalar");
    }
    // What libsecp256k1 signs with must be what we publish.
    secp256k1_pubkey published;
    if (!Secp256k1PointOf(impl->key.get(), &published) ||
        secp256k1_ec_pubkey_cmp(ctx, &derived, &published) != 0) {
      return Internal("libsecp256k1 and OpenSSL disagree on the public key");
    }
  }
  return std::shared_ptr<const PrivateKey::Impl>(std::move(impl));
}

// The DER signature into `der`; its length.
size_t SignSecp256k1Into(const PrivateKey::Impl& impl, const Sha256Digest& digest,
                         std::array<uint8_t, 72>& der) {
  const secp256k1_context* ctx = Secp256k1Context();
  secp256k1_ecdsa_signature sig;
  // Default nonce: RFC 6979, deterministic. The result is always low-S.
  GOVESB_CHECK(secp256k1_ecdsa_sign(ctx, &sig, digest.data(), impl.secp256k1_secret.data(), nullptr,
                                    nullptr) == 1);
  size_t der_len = der.size();
  GOVESB_CHECK(secp256k1_ecdsa_signature_serialize_der(ctx, der.data(), &der_len, &sig) == 1);
  return der_len;
}

std::string SignSecp256k1(const PrivateKey::Impl& impl, const Sha256Digest& digest) {
  std::array<uint8_t, 72> der{};
  const size_t der_len = SignSecp256k1Into(impl, digest, der);
  return std::string(reinterpret_cast<const char*>(der.data()), der_len);
}

// ECDSA over the SHA-256 digest (what EVP_DigestSign with SHA-256 does after hashing).
std::string SignWithOpenSsl(EVP_PKEY* key, const Sha256Digest& digest) {
  ClearOpenSslErrorsOnExit clear_errors;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  GOVESB_CHECK(ctx != nullptr);
  GOVESB_CHECK(EVP_PKEY_sign_init(ctx.get()) == 1);
  GOVESB_CHECK(EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1);
  size_t len = 0;
  GOVESB_CHECK(EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) == 1);
  std::string der(len, '\0');
  GOVESB_CHECK(EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                             digest.data(), digest.size()) == 1);
  der.resize(len);
  return der;
}

}  // namespace

Result<PrivateKey> PrivateKey::Generate(Curve curve) {
  ClearOpenSslErrorsOnExit clear_errors;
  const std::string name(CurveName(curve));
  EvpPkeyPtr key(EVP_EC_gen(name.c_str()));
  if (key == nullptr) return Internal("cannot generate a " + name + " key");
  GOVESB_ASSIGN_OR_RETURN(std::shared_ptr<const Impl> impl, MakePrivateKeyImpl(std::move(key)));
  return PrivateKey(std::move(impl));
}

Result<PrivateKey> PrivateKey::FromText(std::string_view text) {
  ClearOpenSslErrorsOnExit clear_errors;
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<KeyText> decoded, DecodeKeyText(text, "private key"));
  const std::span<const uint8_t> der = AsBytes(decoded->der);
  EvpPkeyPtr key;
  if (decoded->pem_label.has_value()) {
    const std::string& label = *decoded->pem_label;
    if (label == "PRIVATE KEY") {
      key = ParsePkcs8(der);
    } else if (label == "EC PRIVATE KEY") {
      key = ParseSec1(der);
    } else if (label == "ENCRYPTED PRIVATE KEY") {
      return InvalidArgument("encrypted private key PEM is not supported: provide it unencrypted");
    } else if (label == "PUBLIC KEY") {
      return InvalidArgument("expected a private key but got a public key (BEGIN PUBLIC KEY)");
    } else {
      return InvalidArgument("PEM block '" + label +
                             "' is not a private key (expected BEGIN PRIVATE KEY or BEGIN EC "
                             "PRIVATE KEY)");
    }
    if (key == nullptr) {
      return InvalidArgument("private key PEM '" + label + "' does not parse");
    }
  } else {
    // The wire format is PKCS#8; bare SEC1 DER is accepted as well, it is unambiguous.
    key = ParsePkcs8(der);
    if (key == nullptr) key = ParseSec1(der);
    if (key == nullptr) {
      if (ParseSpki(der) != nullptr) {
        return InvalidArgument(
            "expected a private key but got a public key (SubjectPublicKeyInfo)");
      }
      return InvalidArgument("private key is not a PKCS#8 EC private key (DER does not parse)");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(std::shared_ptr<const Impl> impl, MakePrivateKeyImpl(std::move(key)));
  return PrivateKey(std::move(impl));
}

Curve PrivateKey::curve() const {
  GOVESB_CHECK(impl_ != nullptr);
  return impl_->curve;
}

std::string PrivateKey::Pkcs8Base64() const {
  GOVESB_CHECK(impl_ != nullptr);
  ClearOpenSslErrorsOnExit clear_errors;
  Pkcs8Ptr info(EVP_PKEY2PKCS8(impl_->key.get()));
  GOVESB_CHECK(info != nullptr);
  unsigned char* raw = nullptr;
  const int len = i2d_PKCS8_PRIV_KEY_INFO(info.get(), &raw);
  GOVESB_CHECK(len > 0);
  std::string encoded = Base64Encode(std::span<const uint8_t>(raw, static_cast<size_t>(len)));
  OPENSSL_clear_free(raw, static_cast<size_t>(len));
  return encoded;
}

PublicKey PrivateKey::public_key() const {
  GOVESB_CHECK(impl_ != nullptr);
  return impl_->public_key;
}

std::string PrivateKey::SignDer(std::string_view message) const {
  return SignDigestDer(Sha256(message));
}

std::string PrivateKey::SignDigestDer(const Sha256Digest& digest) const {
  GOVESB_CHECK(impl_ != nullptr);
  if (impl_->curve == Curve::kSecp256k1) return SignSecp256k1(*impl_, digest);
  return SignWithOpenSsl(impl_->key.get(), digest);
}

std::string PrivateKey::SignDigestBase64(const Sha256Digest& digest) const {
  GOVESB_CHECK(impl_ != nullptr);
  if (impl_->curve == Curve::kSecp256k1) {  // the DER on the stack: one string, the base64
    std::array<uint8_t, 72> der{};
    const size_t der_len = SignSecp256k1Into(*impl_, digest, der);
    return Base64Encode(std::span<const uint8_t>(der.data(), der_len));
  }
  return Base64Encode(SignWithOpenSsl(impl_->key.get(), digest));
}

EVP_PKEY* PrivateKey::evp() const {
  GOVESB_CHECK(impl_ != nullptr);
  return impl_->key.get();
}

std::string PrivateKey::SignBase64(std::string_view message) const {
  return Base64Encode(SignDer(message));
}

}  // namespace govesb::crypto
