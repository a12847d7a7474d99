// Keys and signatures (src/crypto/keys.h, src/base/encoding.h): public and private keys from
// base64 DER or PEM text, SPKI DER, garbage signatures against fixed keys, base64 and hex.

#include <string>

#include "base/encoding.h"
#include "crypto/keys.h"
#include "fuzz_common.h"

namespace crypto = govesb::crypto;
using govesb::fuzz::AsText;

namespace {

const crypto::PrivateKey& Fixed(bool p256) {
  static const crypto::PrivateKey k1 =
      *crypto::PrivateKey::FromText(govesb::fuzz::kSecp256k1PrivateKey);
  static const crypto::PrivateKey p = *crypto::PrivateKey::FromText(govesb::fuzz::kP256PrivateKey);
  return p256 ? p : k1;
}

void CheckPublicKey(const crypto::PublicKey& key) {
  // Its text parses back to the same key.
  std::string spki = key.SpkiBase64();
  auto again = crypto::PublicKey::FromText(spki);
  GOVESB_FUZZ_CHECK(again.ok());
  GOVESB_FUZZ_CHECK(again->SpkiBase64() == spki);
  GOVESB_FUZZ_CHECK(again->curve() == key.curve());
  GOVESB_FUZZ_CHECK(!key.VerifyBase64("message", Fixed(false).SignBase64("message")) ||
                    spki == Fixed(false).public_key().SpkiBase64());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  std::span<const uint8_t> bytes(data, size);

  if (auto key = crypto::PublicKey::FromText(text); key.ok()) CheckPublicKey(*key);
  if (auto key = crypto::PublicKey::FromSpkiDer(bytes); key.ok()) CheckPublicKey(*key);

  if (auto key = crypto::PrivateKey::FromText(text); key.ok()) {
    // A parsed private key signs, its public key verifies, and its text parses back.
    std::string sig = key->SignBase64(text);
    GOVESB_FUZZ_CHECK(key->public_key().VerifyBase64(text, sig));
    GOVESB_FUZZ_CHECK(!key->public_key().VerifyBase64("other text", sig));
    auto again = crypto::PrivateKey::FromText(key->Pkcs8Base64());
    GOVESB_FUZZ_CHECK(again.ok() && again->Pkcs8Base64() == key->Pkcs8Base64());
    CheckPublicKey(key->public_key());
  }

  // Garbage signatures, as DER and as base64 text, against both curves' fixed keys. A valid
  // signature over "message" from the fixed key cannot be found by chance: none must verify.
  for (bool p256 : {false, true}) {
    const crypto::PublicKey& key = Fixed(p256).public_key();
    GOVESB_FUZZ_CHECK(!key.Verify("fuzz message", bytes));
    GOVESB_FUZZ_CHECK(!key.VerifyBase64("fuzz message", text));
    GOVESB_FUZZ_CHECK(!key.VerifyDigestBase64(crypto::Sha256("fuzz message"), text));
  }

  // Encodings: decoding what was encoded gives the bytes back; decoded text re-encodes.
  GOVESB_FUZZ_CHECK(govesb::Base64Decode(govesb::Base64Encode(text)) == text);
  GOVESB_FUZZ_CHECK(govesb::Base64UrlDecode(govesb::Base64UrlEncode(text)) == text);
  GOVESB_FUZZ_CHECK(govesb::HexDecode(govesb::HexEncode(text)) == text);
  if (auto decoded = govesb::Base64Decode(text)) {
    GOVESB_FUZZ_CHECK(govesb::Base64Decode(govesb::Base64Encode(*decoded)) == *decoded);
  }
  if (auto decoded = govesb::Base64UrlDecode(text)) {
    GOVESB_FUZZ_CHECK(govesb::Base64UrlDecode(govesb::Base64UrlEncode(*decoded)) == *decoded);
  }
  if (auto decoded = govesb::HexDecode(text)) {
    GOVESB_FUZZ_CHECK(govesb::HexEncode(*decoded).size() == text.size());
  }
  return 0;
}
