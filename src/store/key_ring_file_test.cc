#include "store/key_ring_file.h"

#include <gtest/gtest.h>

#include <string>

namespace govesb::store {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

crypto::KeyRing TwoKeys() {
  crypto::KeyRing one =
      crypto::KeyRing::Single(*crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1), kT0, kT0);
  crypto::KeyRing staged =
      *one.Stage(*crypto::PrivateKey::Generate(crypto::Curve::kP521), kT0 + 5, 3600'000);
  return *staged.Activate(kT0 + 10, kT0 + 20);
}

TEST(KeyRingFile, RoundTripsEveryKeyAndTime) {
  const crypto::KeyRing ring = TwoKeys();
  const std::string text = KeyRingText(ring);
  auto parsed = ParseKeyRingText(text, "the ring");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->keys().size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const crypto::RingKey& a = ring.keys()[i];
    const crypto::RingKey& b = parsed->keys()[i];
    EXPECT_EQ(a.id(), b.id());
    EXPECT_EQ(a.private_key().Pkcs8Base64(), b.private_key().Pkcs8Base64());
    EXPECT_EQ(a.created_at_ms, b.created_at_ms);
    EXPECT_EQ(a.valid_from_ms, b.valid_from_ms);
    EXPECT_EQ(a.not_after_ms, b.not_after_ms);
    EXPECT_EQ(a.overlap_ms, b.overlap_ms);
  }
  EXPECT_EQ(parsed->keys()[0].not_after_ms, kT0 + 20 + 3600'000);
  EXPECT_EQ(KeyRingText(*parsed), text);
  EXPECT_NE(text.find("\"curve\":\"secp521r1\""), std::string::npos);
}

TEST(KeyRingFile, RefusesWhatIsNotARingNamingWhere) {
  const std::string good = KeyRingText(TwoKeys());
  auto refused = [](const std::string& text) {
    auto parsed = ParseKeyRingText(text, "keys/esb-keys.json");
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kFailedPrecondition);
      EXPECT_NE(parsed.status().message().find("keys/esb-keys.json"), std::string::npos);
    }
  };
  refused("");
  refused("[]");
  refused("{\"format\":\"other\",\"version\":1,\"keys\":[]}");
  refused("{\"format\":\"govesb-esb-keys\",\"version\":1,\"keys\":[]}");  // no key
  // A key whose id is not its own (a key swapped under another's record).
  std::string swapped = good;
  const size_t id = swapped.find("\"id\":\"") + 6;
  swapped[id] = swapped[id] == 'a' ? 'b' : 'a';
  refused(swapped);
  // A broken private key; a time of the wrong kind.
  std::string broken = good;
  broken.replace(broken.find("\"private_key\":\"") + 15, 4, "AAAA");
  refused(broken);
  std::string text_time = good;
  text_time.replace(text_time.find("\"created_at\":") + 13, 0, "\"");
  refused(text_time);
  // A newer version says so.
  std::string newer = good;
  newer.replace(newer.find("\"version\":1"), 11, "\"version\":9");
  auto parsed = ParseKeyRingText(newer, "the ring");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("newer than this govesb"), std::string::npos);
}

TEST(KeyRingFile, AKeyWithoutItsPrivatePartIsVersion2AndRoundTrips) {
  const crypto::KeyRing ring = TwoKeys();
  // Every key holds its private part: version 1, as before (an older govesb reads it).
  EXPECT_NE(KeyRingText(ring).find("\"version\":1"), std::string::npos);
  const int64_t later = kT0 + 20 + 3600'000;  // the first key retired
  const crypto::KeyRing erased = ring.EraseRetiredPrivateKeys(later);
  const std::string text = KeyRingText(erased);
  EXPECT_NE(text.find("\"version\":2"), std::string::npos);
  EXPECT_NE(text.find("\"private_key\":null"), std::string::npos);
  EXPECT_EQ(text.find(ring.keys()[0].private_key().Pkcs8Base64()), std::string::npos);
  auto parsed = ParseKeyRingText(text, "the ring");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_FALSE(parsed->keys()[0].has_private_key());
  EXPECT_EQ(parsed->keys()[0].id(), ring.keys()[0].id());
  EXPECT_EQ(parsed->keys()[0].not_after_ms, later);
  EXPECT_EQ(parsed->keys()[1].private_key().Pkcs8Base64(),
            ring.keys()[1].private_key().Pkcs8Base64());
  EXPECT_EQ(KeyRingText(*parsed), text);

  auto refused = [](const std::string& bad, const std::string& why) {
    auto r = ParseKeyRingText(bad, "keys/esb-keys.json");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  // A null private key in a version 1 ring (which has none): refused.
  std::string v1 = text;
  v1.replace(v1.find("\"version\":2"), 11, "\"version\":1");
  refused(v1, "has no private key");
  // An erased key's public key swapped for another's (its id no longer matches it).
  std::string swapped = text;
  const size_t first_public = swapped.find("\"public_key\":\"") + 14;
  const size_t second_public = swapped.find("\"public_key\":\"", first_public) + 14;
  const size_t end = swapped.find('"', second_public);
  swapped.replace(first_public, swapped.find('"', first_public) - first_public,
                  swapped.substr(second_public, end - second_public));
  refused(swapped, "does not belong to its public key");
  // The key that signs cannot lose its private part.
  std::string current = text;
  const size_t second_private = current.find("\"private_key\":\"");
  current.replace(second_private + 14, current.find('"', second_private + 15) - second_private - 13,
                  "null");
  refused(current, "no private part");
}

}  // namespace
}  // namespace govesb::store
