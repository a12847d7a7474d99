// Envelope parsing (src/wire/envelope.h): JSON and XML envelopes, their copies and moves (the
// views into owned bytes must follow), and signature verification with a fixed key.

#include <optional>
#include <string>
#include <utility>

#include "crypto/keys.h"
#include "fuzz_common.h"
#include "wire/envelope.h"

namespace wire = govesb::wire;
namespace crypto = govesb::crypto;
using govesb::fuzz::AsText;

namespace {

const crypto::PublicKey& Key(bool p256) {
  static const crypto::PublicKey k1 =
      crypto::PrivateKey::FromText(govesb::fuzz::kSecp256k1PrivateKey)->public_key();
  static const crypto::PublicKey p =
      crypto::PrivateKey::FromText(govesb::fuzz::kP256PrivateKey)->public_key();
  return p256 ? p : k1;
}

// Reads every view of the envelope, so that a dangling one shows under ASan.
size_t Touch(const wire::IncomingEnvelope& e) {
  size_t n = e.data_raw.size() + e.data_raw_original.size() + e.signature.size();
  for (const wire::JsonMember& m : e.data) {
    for (char c : m.raw) n += static_cast<unsigned char>(c);
    n += m.key.size();
  }
  for (char c : e.data_raw) n += static_cast<unsigned char>(c);
  for (char c : e.data_raw_original) n += static_cast<unsigned char>(c);
  return n;
}

void Exercise(wire::IncomingEnvelope envelope) {
  size_t before = Touch(envelope);
  // Copies and moves re-point the views: each must read the same bytes after the original dies.
  std::optional<wire::IncomingEnvelope> original(std::move(envelope));
  wire::IncomingEnvelope copy = *original;
  wire::IncomingEnvelope assigned;
  assigned = copy;
  original.reset();
  GOVESB_FUZZ_CHECK(Touch(copy) == before);
  wire::IncomingEnvelope moved(std::move(copy));
  GOVESB_FUZZ_CHECK(Touch(moved) == before);
  GOVESB_FUZZ_CHECK(Touch(assigned) == before);
  GOVESB_FUZZ_CHECK(moved.Find("apiCode") == nullptr || moved.Find("apiCode")->key == "apiCode");

  for (bool p256 : {false, true}) {
    crypto::Sha256Digest digest{};
    auto variant = wire::VerifyEnvelope(moved, Key(p256), &digest);
    GOVESB_FUZZ_CHECK(digest == crypto::Sha256(moved.data_raw));
    if (variant.ok() && *variant == wire::SignatureVariant::kRaw) {
      GOVESB_FUZZ_CHECK(Key(p256).VerifyBase64(moved.data_raw, moved.signature));
    }
  }
  // The callback form tries each candidate once and reports the one accepted.
  int calls = 0;
  auto none = wire::VerifyEnvelope(moved, [&](std::string_view) {
    ++calls;
    return false;
  });
  GOVESB_FUZZ_CHECK(!none.ok());
  GOVESB_FUZZ_CHECK(calls >= 1 && calls <= 4);
  auto raw = wire::VerifyEnvelope(
      moved, [&](std::string_view text) { return text == moved.data_raw_original; });
  GOVESB_FUZZ_CHECK(raw.ok() && *raw == wire::SignatureVariant::kRaw);

  if (!moved.is_xml) {
    auto xml = wire::DataJsonToXml(moved.data_raw);
    GOVESB_FUZZ_CHECK(xml.ok());
    // The bus's own XML form of a data object parses back.
    auto back = wire::ParseXmlEnvelope(wire::SealXmlEnvelope(*xml, "c2ln", "esbrequest"));
    (void)back;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(AsText(data, size));
  if (auto json = wire::ParseEnvelope(body); json.ok()) {
    GOVESB_FUZZ_CHECK(!json->is_xml);
    Exercise(std::move(*json));
  }
  if (auto xml = wire::ParseXmlEnvelope(body); xml.ok()) {
    GOVESB_FUZZ_CHECK(xml->is_xml);
    Exercise(std::move(*xml));
  }
  return 0;
}
