#include "crypto/payload_encryption.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "base/encoding.h"
#include "crypto/aead.h"
#include "crypto/openssl_handles.h"
#include "crypto/primitives.h"

namespace govesb::crypto {

using internal::ClearOpenSslErrorsOnExit;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;
using internal::FreeWith;
using internal::OpenSslPtr;

namespace {

using EvpKdfPtr = std::unique_ptr<EVP_KDF, FreeWith<EVP_KDF_free>>;
using EvpKdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, FreeWith<EVP_KDF_CTX_free>>;

constexpr size_t kIvBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kAesKeyBytes = 32;
constexpr size_t kHkdfSaltBytes = 32;
constexpr std::string_view kHkdfInfo = "aes-encryption";
// The x coordinate of a P-521 point, the largest shared secret of the supported curves.
constexpr size_t kMaxSharedSecretBytes = 66;
// An ephemeral key is a few hundred bytes of PEM; anything far larger is not a key.
constexpr size_t kMaxEphemeralKeyBase64Bytes = 16 * 1024;
constexpr std::string_view kDoesNotDecrypt = "payload does not decrypt: wrong key or tampered data";

constexpr std::string_view kEphemeralKeyMember = "ephemeralKey";
constexpr std::string_view kIvMember = "iv";
constexpr std::string_view kEncryptedDataMember = "encryptedData";

// Key material with a fixed maximum size, wiped when dropped.
template <size_t kCapacity>
struct SecretBytes {
  std::array<uint8_t, kCapacity> bytes{};
  size_t size = 0;
  SecretBytes() = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  std::span<const uint8_t> view() const { return {bytes.data(), size}; }
};
using SharedSecret = SecretBytes<kMaxSharedSecretBytes>;
using AesKey = SecretBytes<kAesKeyBytes>;

const unsigned char* AsUnsigned(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// --- The tiny JSON of section 6 ---------------------------------------------------------
//
// Exactly one object whose members are all strings, in any order, with JSON whitespace
// anywhere between tokens. Unknown members are ignored, duplicates of ours refused. The
// values are base64, so escapes are rare: the simple ones are decoded (`\/` from some
// encoders, `\r\n` from MIME-style base64), `\uXXXX` only for ASCII (Gson writes '=' as
// `\u003d`).

struct EncryptedPayloadFields {
  std::optional<std::string> ephemeral_key;
  std::optional<std::string> iv;
  std::optional<std::string> encrypted_data;
};

class PayloadJsonReader {
 public:
  explicit PayloadJsonReader(std::string_view json) : json_(json) {}

  Result<EncryptedPayloadFields> Read() {
    EncryptedPayloadFields fields;
    SkipWhitespace();
    if (!Consume('{')) return Malformed("expected '{'");
    SkipWhitespace();
    if (!Consume('}')) {
      while (true) {
        SkipWhitespace();
        GOVESB_ASSIGN_OR_RETURN(std::string name, ReadString("a member name"));
        SkipWhitespace();
        if (!Consume(':')) return Malformed("expected ':' after member \"" + name + "\"");
        SkipWhitespace();
        GOVESB_ASSIGN_OR_RETURN(std::string value, ReadString("a string value for \"" + name +
                                                              "\" (members must be strings)"));
        std::optional<std::string>* slot = nullptr;
        if (name == kEphemeralKeyMember) slot = &fields.ephemeral_key;
        if (name == kIvMember) slot = &fields.iv;
        if (name == kEncryptedDataMember) slot = &fields.encrypted_data;
        if (slot != nullptr) {
          if (slot->has_value()) return Malformed("duplicate member \"" + name + "\"");
          *slot = std::move(value);
        }
        SkipWhitespace();
        if (Consume('}')) break;
        if (!Consume(',')) return Malformed("expected ',' or '}'");
      }
    }
    SkipWhitespace();
    if (pos_ != json_.size()) return Malformed("unexpected data after the object");
    return fields;
  }

 private:
  Status Malformed(const std::string& what) const {
    return InvalidArgument("encrypted payload is not the JSON of GOVESB-WIRE section 6: " + what +
                           " at offset " + std::to_string(pos_));
  }

  void SkipWhitespace() {
    while (pos_ < json_.size() && (json_[pos_] == ' ' || json_[pos_] == '\t' ||
                                   json_[pos_] == '\n' || json_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    if (pos_ < json_.size() && json_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  static std::optional<unsigned> HexDigit(char c) {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
    return std::nullopt;
  }

  Result<std::string> ReadString(const std::string& what) {
    if (!Consume('"')) return Malformed("expected " + what);
    std::string out;
    while (true) {
      // Copy the run up to the next quote, backslash or control character in one go.
      size_t end = pos_;
      while (end < json_.size() && json_[end] != '"' && json_[end] != '\\' &&
             static_cast<unsigned char>(json_[end]) >= 0x20) {
        ++end;
      }
      out.append(json_.substr(pos_, end - pos_));
      pos_ = end;
      if (pos_ == json_.size()) return Malformed("unterminated string");
      const char c = json_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c != '\\') return Malformed("control character in a string");
      if (pos_ + 1 == json_.size()) return Malformed("unterminated string");
      const char escaped = json_[pos_ + 1];
      pos_ += 2;
      switch (escaped) {
        case '"':
        case '\\':
        case '/':
          out.push_back(escaped);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          unsigned code = 0;
          for (size_t i = 0; i < 4; ++i) {
            std::optional<unsigned> digit =
                pos_ + i < json_.size() ? HexDigit(json_[pos_ + i]) : std::nullopt;
            if (!digit.has_value()) return Malformed("bad \\u escape");
            code = code * 16 + *digit;
          }
          if (code >= 0x80) return Malformed("non-ASCII \\u escape (values are base64)");
          pos_ += 4;
          out.push_back(static_cast<char>(code));
          break;
        }
        default:
          pos_ -= 1;
          return Malformed("bad escape");
      }
    }
  }

  std::string_view json_;
  size_t pos_ = 0;
};

Result<std::string> DecodeMember(const std::optional<std::string>& value, std::string_view name) {
  if (!value.has_value()) {
    return InvalidArgument("encrypted payload has no \"" + std::string(name) + "\" member");
  }
  std::optional<std::string> decoded = Base64Decode(*value);
  if (!decoded.has_value()) {
    return InvalidArgument("encrypted payload member \"" + std::string(name) +
                           "\" is not valid base64");
  }
  return std::move(*decoded);
}

// --- Key agreement and key derivation -----------------------------------------------------

EvpPkeyPtr GenerateEphemeralKey(Curve curve) {
  const std::string group(CurveName(curve));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), group.c_str()) != 1) {
    return nullptr;
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) return nullptr;
  return EvpPkeyPtr(raw);
}

// ECDH: the x coordinate of own * peer, left-padded to the field size (as OpenSSL and Node
// produce it). OpenSSL checks that the peer's point is a valid point of the group.
bool DeriveSharedSecret(EVP_PKEY* own, EVP_PKEY* peer, SharedSecret& out) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1) {
    return false;
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len == 0 || len > out.bytes.size()) {
    return false;
  }
  if (EVP_PKEY_derive(ctx.get(), out.bytes.data(), &len) != 1) return false;
  out.size = len;
  return true;
}

// HKDF-SHA256(ikm = shared secret, salt = 32 zero bytes, info = "aes-encryption"), 32 bytes.
bool DeriveAesKey(SharedSecret& secret, AesKey& out) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (kdf == nullptr) return false;
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (ctx == nullptr) return false;
  std::array<char, 7> digest = {'S', 'H', 'A', '2', '5', '6', '\0'};
  std::array<uint8_t, kHkdfSaltBytes> salt{};
  std::string info(kHkdfInfo);
  const std::array<OSSL_PARAM, 5> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret.bytes.data(), secret.size),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  if (EVP_KDF_derive(ctx.get(), out.bytes.data(), kAesKeyBytes, params.data()) != 1) return false;
  out.size = kAesKeyBytes;
  return true;
}

// The key of one payload, from our key and the other side's public key.
Result<std::unique_ptr<AesKey>> AgreeOnAesKey(EVP_PKEY* own, EVP_PKEY* peer) {
  SharedSecret secret;
  if (!DeriveSharedSecret(own, peer, secret)) {
    return InvalidArgument("ECDH key agreement failed: the other key is not a valid point");
  }
  auto key = std::make_unique<AesKey>();
  if (!DeriveAesKey(secret, *key)) return Internal("HKDF-SHA256 is not available in OpenSSL");
  return key;
}

// "-----BEGIN PUBLIC KEY-----\n<base64 in 64-character lines>\n-----END PUBLIC KEY-----\n",
// byte for byte what OpenSSL's PEM writer (and so Node's KeyObject.export) produces.
std::string SpkiPem(const EVP_PKEY* key) {
  unsigned char* raw = nullptr;
  const int len = i2d_PUBKEY(key, &raw);
  OpenSslPtr<unsigned char> owned(raw);
  GOVESB_CHECK(len > 0);
  const std::string body = Base64Encode(std::span<const uint8_t>(raw, static_cast<size_t>(len)));
  constexpr size_t kLine = 64;
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < body.size(); i += kLine) {
    pem.append(body, i, kLine);
    pem.push_back('\n');
  }
  pem.append("-----END PUBLIC KEY-----\n");
  return pem;
}

Result<PublicKey> ParseEphemeralKey(const std::optional<std::string>& member) {
  if (member.has_value() && member->size() > kMaxEphemeralKeyBase64Bytes) {
    return InvalidArgument("encrypted payload member \"ephemeralKey\" is too long for a key");
  }
  GOVESB_ASSIGN_OR_RETURN(std::string decoded, DecodeMember(member, kEphemeralKeyMember));
  // What the JS helper and EncryptPayload send is PEM text; DER is accepted too.
  Result<PublicKey> key =
      decoded.find("-----BEGIN") != std::string::npos
          ? PublicKey::FromText(decoded)
          : PublicKey::FromSpkiDer(std::span<const uint8_t>(AsUnsigned(decoded), decoded.size()));
  if (!key.ok()) {
    return InvalidArgument("encrypted payload member \"ephemeralKey\": " + key.status().message());
  }
  return key;
}

}  // namespace

Result<std::string> EncryptPayload(std::string_view plaintext, const PublicKey& recipient) {
  ClearOpenSslErrorsOnExit clear_errors;
  if (plaintext.size() > kMaxPayloadPlaintextBytes) {
    return ResourceExhausted("payload of " + std::to_string(plaintext.size()) +
                             " bytes is too large to encrypt (at most " +
                             std::to_string(kMaxPayloadPlaintextBytes) + ")");
  }
  EvpPkeyPtr ephemeral = GenerateEphemeralKey(recipient.curve());
  if (ephemeral == nullptr) {
    return Internal("cannot generate an ephemeral " + std::string(CurveName(recipient.curve())) +
                    " key");
  }
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<AesKey> key,
                          AgreeOnAesKey(ephemeral.get(), recipient.evp()));

  std::array<uint8_t, kIvBytes> iv{};
  RandomBytes(iv);
  // tag || ciphertext; GCM's ciphertext is as long as the plaintext. No AAD (section 6).
  GOVESB_ASSIGN_OR_RETURN(
      std::string sealed,
      GcmSeal(std::string_view(reinterpret_cast<const char*>(key->bytes.data()), key->bytes.size()),
              std::string_view(reinterpret_cast<const char*>(iv.data()), iv.size()), plaintext,
              {}));

  // Base64 never needs JSON escaping.
  std::string json = "{\"ephemeralKey\":\"";
  json.append(Base64Encode(SpkiPem(ephemeral.get())));
  json.append("\",\"iv\":\"");
  json.append(Base64Encode(iv));
  json.append("\",\"encryptedData\":\"");
  json.append(Base64Encode(sealed));
  json.append("\"}");
  return json;
}

Result<std::string> DecryptPayload(std::string_view encrypted_json, const PrivateKey& recipient) {
  ClearOpenSslErrorsOnExit clear_errors;
  if (encrypted_json.size() > kMaxEncryptedPayloadBytes) {
    return ResourceExhausted("encrypted payload of " + std::to_string(encrypted_json.size()) +
                             " bytes is too large (at most " +
                             std::to_string(kMaxEncryptedPayloadBytes) + ")");
  }
  GOVESB_ASSIGN_OR_RETURN(EncryptedPayloadFields fields, PayloadJsonReader(encrypted_json).Read());
  GOVESB_ASSIGN_OR_RETURN(PublicKey ephemeral, ParseEphemeralKey(fields.ephemeral_key));
  GOVESB_ASSIGN_OR_RETURN(std::string iv, DecodeMember(fields.iv, kIvMember));
  GOVESB_ASSIGN_OR_RETURN(std::string sealed,
                          DecodeMember(fields.encrypted_data, kEncryptedDataMember));
  if (ephemeral.curve() != recipient.curve()) {
    return InvalidArgument("the ephemeral key is on " + std::string(CurveName(ephemeral.curve())) +
                           " but the recipient key is on " +
                           std::string(CurveName(recipient.curve())));
  }
  if (iv.size() != kIvBytes) {
    return InvalidArgument("encrypted payload IV is " + std::to_string(iv.size()) +
                           " bytes; section 6 requires " + std::to_string(kIvBytes));
  }
  if (sealed.size() < kTagBytes) {
    return InvalidArgument("encrypted payload \"encryptedData\" is shorter than the " +
                           std::to_string(kTagBytes) + "-byte GCM tag");
  }
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<AesKey> key,
                          AgreeOnAesKey(recipient.evp(), ephemeral.evp()));

  auto opened =
      GcmOpen(std::string_view(reinterpret_cast<const char*>(key->bytes.data()), key->bytes.size()),
              iv, sealed, {});
  if (!opened.ok() && opened.status().code() == StatusCode::kBadSignature) {
    return BadSignature(std::string(kDoesNotDecrypt));
  }
  return opened;
}

}  // namespace govesb::crypto
