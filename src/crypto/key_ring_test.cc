#include "crypto/key_ring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "crypto/primitives.h"

namespace govesb::crypto {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kDay = 86'400'000;

PrivateKey NewKey(Curve curve = Curve::kSecp256k1) { return *PrivateKey::Generate(curve); }

TEST(KeyIdTest, IsTheSha256OfTheSpkiDer) {
  PrivateKey key = NewKey();
  const std::string der = *Base64Decode(key.public_key().SpkiBase64());
  const Sha256Digest digest = Sha256(der);
  EXPECT_EQ(KeyId(key.public_key()),
            HexEncode(std::span<const uint8_t>(digest.data(), digest.size())));
  EXPECT_EQ(KeyId(key.public_key()).size(), 64u);
  EXPECT_NE(KeyId(key.public_key()), KeyId(NewKey().public_key()));
}

TEST(KeySetTest, VerifiesWithTheNamedKeyOnlyOrWithAny) {
  PrivateKey a = NewKey();
  PrivateKey b = NewKey(Curve::kP256);
  KeySet set({a.public_key(), b.public_key()});
  const std::string by_b = b.SignBase64("text");
  ASSERT_NE(set.VerifyBase64("text", by_b), nullptr);
  EXPECT_EQ(KeyId(*set.VerifyBase64("text", by_b)), KeyId(b.public_key()));
  EXPECT_NE(set.VerifyBase64("text", by_b, KeyId(b.public_key())), nullptr);
  // Named a's id: b's signature does not count.
  EXPECT_EQ(set.VerifyBase64("text", by_b, KeyId(a.public_key())), nullptr);
  EXPECT_EQ(set.VerifyBase64("other", by_b), nullptr);
  EXPECT_EQ(set.VerifyBase64("text", by_b, "unknown"), nullptr);
  KeySet one(a.public_key());
  EXPECT_EQ(one.VerifyBase64("text", by_b), nullptr);
}

// A key made at kT0, staged a day later with a 30-day overlap, activated on day 2.
class KeyRingTest : public ::testing::Test {
 protected:
  PrivateKey first_ = NewKey();
  PrivateKey second_ = NewKey(Curve::kP256);
  KeyRing ring_ = KeyRing::Single(first_, kT0, kT0);
};

TEST_F(KeyRingTest, OneKeySignsFromItsStart) {
  EXPECT_EQ(ring_.Signing(kT0).id(), KeyId(first_.public_key()));
  EXPECT_EQ(ring_.StatusOf(ring_.keys()[0], kT0 + kDay), KeyStatus::kCurrent);
  EXPECT_EQ(ring_.Staged(kT0), nullptr);
  // A clock set back before the first key's start: it still signs.
  EXPECT_EQ(ring_.Signing(kT0 - kDay).id(), KeyId(first_.public_key()));
}

TEST_F(KeyRingTest, StagedKeyIsPublishedButDoesNotSignUntilActivated) {
  KeyRing staged = *ring_.Stage(second_, kT0 + kDay, 30 * kDay);
  ASSERT_EQ(staged.keys().size(), 2u);
  const RingKey& next = staged.keys()[1];
  EXPECT_EQ(staged.StatusOf(next, kT0 + kDay), KeyStatus::kStaged);
  EXPECT_EQ(staged.Signing(kT0 + 100 * kDay).id(), KeyId(first_.public_key()));
  EXPECT_EQ(staged.Staged(kT0 + kDay), &staged.keys()[1]);
  // A second staged key is refused.
  auto again = staged.Stage(NewKey(), kT0 + kDay, 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("staged already"));

  KeyRing active = *staged.Activate(kT0 + 2 * kDay, kT0 + 2 * kDay);
  const RingKey& old_key = active.keys()[0];
  const RingKey& new_key = active.keys()[1];
  EXPECT_EQ(active.Signing(kT0 + 2 * kDay).id(), new_key.id());
  EXPECT_EQ(old_key.not_after_ms, kT0 + 32 * kDay);
  EXPECT_EQ(active.StatusOf(old_key, kT0 + 2 * kDay), KeyStatus::kOverlap);
  EXPECT_EQ(active.StatusOf(old_key, kT0 + 32 * kDay - 1), KeyStatus::kOverlap);
  EXPECT_EQ(active.StatusOf(old_key, kT0 + 32 * kDay), KeyStatus::kRetired);
  EXPECT_EQ(active.StatusOf(new_key, kT0 + 40 * kDay), KeyStatus::kCurrent);
  // Both keys verify, the signing one first.
  KeySet verifying = active.VerifyingKeys(kT0 + 40 * kDay);
  ASSERT_EQ(verifying.keys().size(), 2u);
  EXPECT_EQ(verifying.ids()[0], new_key.id());
  EXPECT_NE(verifying.VerifyBase64("x", first_.SignBase64("x")), nullptr);
}

TEST_F(KeyRingTest, ScheduledActivationSwitchesAtItsTime) {
  KeyRing staged = *ring_.Stage(second_, kT0 + kDay, 7 * kDay);
  KeyRing scheduled = *staged.Activate(kT0 + kDay, kT0 + 5 * kDay, 10 * kDay);
  EXPECT_EQ(scheduled.Signing(kT0 + 5 * kDay - 1).id(), KeyId(first_.public_key()));
  EXPECT_EQ(scheduled.StatusOf(scheduled.keys()[1], kT0 + 4 * kDay), KeyStatus::kStaged);
  EXPECT_EQ(scheduled.Signing(kT0 + 5 * kDay).id(), KeyId(second_.public_key()));
  EXPECT_EQ(scheduled.keys()[0].not_after_ms, kT0 + 15 * kDay);  // the overlap given last
  // Still to come: it may be moved, or discarded (the old key then has no end again).
  KeyRing moved = *scheduled.Activate(kT0 + 2 * kDay, kT0 + 3 * kDay);
  EXPECT_EQ(moved.keys()[1].valid_from_ms, kT0 + 3 * kDay);
  KeyRing discarded = *scheduled.Discard(kT0 + 2 * kDay);
  ASSERT_EQ(discarded.keys().size(), 1u);
  EXPECT_FALSE(discarded.keys()[0].not_after_ms.has_value());
  // Once it signs it is no longer staged: nothing to activate or discard.
  EXPECT_EQ(scheduled.Activate(kT0 + 6 * kDay, kT0 + 6 * kDay).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(scheduled.Discard(kT0 + 6 * kDay).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(KeyRingTest, RefusesActivationInThePastAndWithoutAStagedKey) {
  EXPECT_EQ(ring_.Activate(kT0, kT0).status().code(), StatusCode::kFailedPrecondition);
  KeyRing staged = *ring_.Stage(second_, kT0 + kDay, 0);
  EXPECT_EQ(staged.Activate(kT0 + kDay, kT0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(staged.Activate(kT0 + kDay, kT0 + kDay, -1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ring_.Stage(second_, kT0, -5).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyRingTest, ZeroOverlapRetiresTheOldKeyAtOnce) {
  KeyRing now = *ring_.Stage(second_, kT0 + kDay, 0)->Activate(kT0 + kDay, kT0 + kDay);
  EXPECT_EQ(now.StatusOf(now.keys()[0], kT0 + kDay), KeyStatus::kRetired);
  // Retired, it still verifies what it signed.
  EXPECT_EQ(now.VerifyingKeys(kT0 + kDay).keys().size(), 2u);
}

TEST_F(KeyRingTest, FromKeysRefusesBrokenOrders) {
  RingKey a(first_, kT0);
  RingKey b(second_, kT0);
  // No keys; the oldest without a start; a key without a start that is not the newest.
  EXPECT_FALSE(KeyRing::FromKeys({}).ok());
  EXPECT_FALSE(KeyRing::FromKeys({a, b}).ok());
  a.valid_from_ms = kT0 + 10;
  EXPECT_THAT(KeyRing::FromKeys({a, b, RingKey(NewKey(), kT0)}).status().message(),
              HasSubstr("not the newest"));
  // Starts going back; the same key twice.
  b.valid_from_ms = kT0 + 10;
  EXPECT_THAT(KeyRing::FromKeys({a, b}).status().message(), HasSubstr("order"));
  EXPECT_THAT(KeyRing::FromKeys({a, a}).status().message(), HasSubstr("twice"));
  b.valid_from_ms = kT0 + 11;
  EXPECT_TRUE(KeyRing::FromKeys({a, b}).ok());
}

TEST_F(KeyRingTest, ErasesThePrivatePartOfRetiredKeysOnly) {
  // The first key signs until day 2, then stays published for 10 days; a third key is staged.
  KeyRing active =
      *ring_.Stage(second_, kT0 + kDay, 10 * kDay)->Activate(kT0 + kDay, kT0 + 2 * kDay);
  PrivateKey third = NewKey();
  KeyRing three = *active.Stage(third, kT0 + 3 * kDay, kDay);
  // In its overlap the first key is not retired: nothing to erase, the same keys.
  EXPECT_TRUE(three.RetiredWithPrivateKeys(kT0 + 11 * kDay).empty());
  KeyRing same = three.EraseRetiredPrivateKeys(kT0 + 11 * kDay);
  for (const RingKey& k : same.keys()) EXPECT_TRUE(k.has_private_key());

  const int64_t later = kT0 + 12 * kDay;  // the first key retired
  EXPECT_EQ(three.RetiredWithPrivateKeys(later),
            std::vector<std::string>{KeyId(first_.public_key())});
  KeyRing erased = three.EraseRetiredPrivateKeys(later);
  ASSERT_EQ(erased.keys().size(), 3u);
  const RingKey& gone = erased.keys()[0];
  EXPECT_FALSE(gone.has_private_key());
  EXPECT_EQ(gone.id(), KeyId(first_.public_key()));
  EXPECT_EQ(gone.valid_from_ms, kT0);  // its times are kept
  EXPECT_EQ(gone.not_after_ms, kT0 + 12 * kDay);
  EXPECT_TRUE(erased.keys()[1].has_private_key());  // current
  EXPECT_TRUE(erased.keys()[2].has_private_key());  // staged
  EXPECT_TRUE(erased.RetiredWithPrivateKeys(later).empty());
  EXPECT_EQ(erased.StatusOf(gone, later), KeyStatus::kRetired);
  // What it signed still verifies; the signing key is unchanged.
  EXPECT_NE(erased.VerifyingKeys(later).VerifyBase64("old", first_.SignBase64("old")), nullptr);
  EXPECT_EQ(erased.Signing(later).id(), KeyId(second_.public_key()));
  // A clock set back to the first key's time: it cannot sign any more, the oldest key that can
  // does.
  EXPECT_EQ(erased.Signing(kT0 + 1).id(), KeyId(second_.public_key()));
  EXPECT_EQ(erased.Signing(kT0 - kDay).id(), KeyId(second_.public_key()));
  RingSigner signer(erased, kT0 + 1);
  EXPECT_TRUE(second_.public_key().VerifyBase64("m", signer.SignBase64("m")));
  // The staged key activates and the ring goes on as before.
  KeyRing next = *erased.Activate(later, later);
  EXPECT_EQ(next.Signing(later).id(), KeyId(third.public_key()));
}

TEST_F(KeyRingTest, OnlyAReplacedKeyMayLackItsPrivatePart) {
  RingKey a(first_, kT0);
  a.valid_from_ms = kT0;
  RingKey b(second_, kT0);
  b.valid_from_ms = kT0 + 10;
  // The newest key (no later key replaced it), or one without an end: refused.
  EXPECT_THAT(KeyRing::FromKeys({a, b.WithoutPrivateKey()}).status().message(),
              HasSubstr("no private part"));
  EXPECT_THAT(KeyRing::FromKeys({a.WithoutPrivateKey(), b}).status().message(),
              HasSubstr("no private part"));
  a.not_after_ms = kT0 + 20;
  KeyRing ok = *KeyRing::FromKeys({a.WithoutPrivateKey(), b});
  EXPECT_FALSE(ok.keys()[0].has_private_key());
  EXPECT_EQ(ok.keys()[0].public_key().SpkiBase64(), first_.public_key().SpkiBase64());
}

TEST_F(KeyRingTest, SignerSwitchesKeysOnUpdateAndAtAScheduledTime) {
  KeyRing staged = *ring_.Stage(second_, kT0 + kDay, kDay);
  RingSigner signer(staged, kT0 + kDay);
  EXPECT_EQ(KeyId(signer.public_key()), KeyId(first_.public_key()));
  EXPECT_TRUE(first_.public_key().VerifyBase64("m", signer.SignBase64("m")));
  // Scheduled for day 3: Refresh before it changes nothing, at it switches.
  EXPECT_FALSE(signer.Update(*staged.Activate(kT0 + kDay, kT0 + 3 * kDay), kT0 + 2 * kDay));
  std::shared_ptr<const Signer> pinned = signer.Pinned();
  EXPECT_TRUE(signer.Refresh(kT0 + 3 * kDay));
  EXPECT_EQ(KeyId(signer.public_key()), KeyId(second_.public_key()));
  EXPECT_TRUE(second_.public_key().VerifyBase64("m", signer.SignBase64("m")));
  const Sha256Digest digest = Sha256("m");
  EXPECT_TRUE(second_.public_key().VerifyDigestBase64(digest, signer.SignDigestBase64(digest)));
  // A pinned signer keeps the key it had.
  EXPECT_TRUE(first_.public_key().VerifyBase64("m", pinned->SignBase64("m")));
  EXPECT_EQ(signer.verifying_keys().keys().size(), 2u);
  EXPECT_EQ(signer.verifying_keys().ids()[0], KeyId(second_.public_key()));
  EXPECT_FALSE(signer.Refresh(kT0 + 4 * kDay));
}

TEST_F(KeyRingTest, SigningThreadsSeeOneKeyOrTheOtherWhileItChanges) {
  KeyRing active = *ring_.Stage(second_, kT0, kDay)->Activate(kT0, kT0 + 1000);
  RingSigner signer(active, kT0);
  KeySet both = active.VerifyingKeys(kT0);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        if (both.VerifyBase64("m", signer.SignBase64("m")) == nullptr) ++bad;
      }
    });
  }
  for (int i = 0; i < 200; ++i) signer.Refresh(kT0 + (i % 2 == 0 ? 0 : 2000));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace govesb::crypto
