#include "crypto/key_ring.h"

#include <algorithm>
#include <set>
#include <utility>

#include "base/encoding.h"
#include "crypto/primitives.h"

namespace govesb::crypto {

std::string KeyId(const PublicKey& key) {
  std::optional<std::string> der = Base64Decode(key.SpkiBase64());
  GOVESB_CHECK(der.has_value());
  const Sha256Digest digest = Sha256(*der);
  return HexEncode(std::span<const uint8_t>(digest.data(), digest.size()));
}

KeySet::KeySet(PublicKey key) : KeySet(std::vector<PublicKey>{std::move(key)}) {}

KeySet::KeySet(std::vector<PublicKey> keys) : keys_(std::move(keys)) {
  GOVESB_CHECK(!keys_.empty());
  ids_.reserve(keys_.size());
  for (const PublicKey& k : keys_) ids_.push_back(KeyId(k));
}

const PublicKey* KeySet::Find(std::string_view id) const {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (ids_[i] == id) return &keys_[i];
  }
  return nullptr;
}

const PublicKey* KeySet::VerifyBase64(std::string_view message, std::string_view signature_base64,
                                      std::string_view id) const {
  if (!id.empty()) {
    const PublicKey* named = Find(id);
    return named != nullptr && named->VerifyBase64(message, signature_base64) ? named : nullptr;
  }
  for (const PublicKey& k : keys_) {
    if (k.VerifyBase64(message, signature_base64)) return &k;
  }
  return nullptr;
}

std::string_view KeyStatusName(KeyStatus status) {
  switch (status) {
    case KeyStatus::kStaged:
      return "staged";
    case KeyStatus::kCurrent:
      return "current";
    case KeyStatus::kOverlap:
      return "overlap";
    case KeyStatus::kRetired:
      return "retired";
  }
  return "retired";
}

RingKey::RingKey(PrivateKey key, int64_t created_at)
    : created_at_ms(created_at),
      private_key_(std::move(key)),
      public_key_(private_key_->public_key()),
      id_(KeyId(public_key_)) {}

RingKey::RingKey(PublicKey key, int64_t created_at)
    : created_at_ms(created_at), public_key_(std::move(key)), id_(KeyId(public_key_)) {}

const PrivateKey& RingKey::private_key() const {
  GOVESB_CHECK(private_key_.has_value());
  return *private_key_;
}

RingKey RingKey::WithoutPrivateKey() const {
  RingKey erased(public_key_, created_at_ms);
  erased.valid_from_ms = valid_from_ms;
  erased.not_after_ms = not_after_ms;
  erased.overlap_ms = overlap_ms;
  return erased;
}

KeyRing KeyRing::Single(PrivateKey key, int64_t created_at_ms, int64_t valid_from_ms) {
  RingKey only(std::move(key), created_at_ms);
  only.valid_from_ms = valid_from_ms;
  std::vector<RingKey> keys;
  keys.push_back(std::move(only));
  return KeyRing(std::move(keys));
}

Result<KeyRing> KeyRing::FromKeys(std::vector<RingKey> keys) {
  if (keys.empty()) return InvalidArgument("a key ring holds at least one key");
  if (!keys.front().valid_from_ms.has_value()) {
    return InvalidArgument("the oldest key of a ring must have a valid-from time");
  }
  std::set<std::string> ids;
  std::optional<int64_t> previous;
  for (size_t i = 0; i < keys.size(); ++i) {
    const RingKey& k = keys[i];
    if (!ids.insert(k.id()).second) return InvalidArgument("key " + k.id() + " appears twice");
    if (!k.has_private_key() && (i + 1 == keys.size() || !k.not_after_ms.has_value())) {
      return InvalidArgument("key " + k.id() +
                             " has no private part but was not replaced: only a key a later "
                             "one replaced can lose it");
    }
    if (!k.valid_from_ms.has_value()) {
      if (i + 1 != keys.size()) {
        return InvalidArgument("key " + k.id() +
                               " has no valid-from time but is not the newest key");
      }
      continue;
    }
    if (previous.has_value() && *k.valid_from_ms <= *previous) {
      return InvalidArgument("key " + k.id() +
                             " is valid from before the key made before it: keys sign in "
                             "the order they were made");
    }
    previous = k.valid_from_ms;
  }
  return KeyRing(std::move(keys));
}

const RingKey* KeyRing::Find(std::string_view id) const {
  for (const RingKey& k : keys_) {
    if (k.id() == id) return &k;
  }
  return nullptr;
}

const RingKey& KeyRing::Signing(int64_t now_ms) const {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (it->has_private_key() && it->valid_from_ms.has_value() && *it->valid_from_ms <= now_ms) {
      return *it;
    }
  }
  // A clock set back before every key that can sign: the oldest that can (the newest key can,
  // FromKeys makes sure).
  for (const RingKey& k : keys_) {
    if (k.has_private_key()) return k;
  }
  return keys_.back();
}

KeyStatus KeyRing::StatusOf(const RingKey& key, int64_t now_ms) const {
  if (Signing(now_ms).id() == key.id()) return KeyStatus::kCurrent;
  if (!key.valid_from_ms.has_value() || *key.valid_from_ms > now_ms) return KeyStatus::kStaged;
  if (key.not_after_ms.has_value() && now_ms < *key.not_after_ms) return KeyStatus::kOverlap;
  return KeyStatus::kRetired;
}

const RingKey* KeyRing::Staged(int64_t now_ms) const {
  const RingKey& newest = keys_.back();
  return StatusOf(newest, now_ms) == KeyStatus::kStaged ? &newest : nullptr;
}

KeySet KeyRing::VerifyingKeys(int64_t now_ms) const {
  const RingKey& signing = Signing(now_ms);
  std::vector<PublicKey> keys{signing.public_key()};
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (it->id() != signing.id()) keys.push_back(it->public_key());
  }
  return KeySet(std::move(keys));
}

Result<KeyRing> KeyRing::Stage(PrivateKey key, int64_t now_ms, int64_t overlap_ms) const {
  if (overlap_ms < 0) return InvalidArgument("the overlap cannot be negative");
  if (const RingKey* staged = Staged(now_ms)) {
    return FailedPrecondition("key " + staged->id() +
                              " is staged already: activate it (esb-key activate) or discard it "
                              "(esb-key discard) first");
  }
  RingKey fresh(std::move(key), now_ms);
  if (Find(fresh.id()) != nullptr) return FailedPrecondition("that key is in the ring already");
  fresh.overlap_ms = overlap_ms;
  std::vector<RingKey> keys = keys_;
  keys.push_back(std::move(fresh));
  return FromKeys(std::move(keys));
}

Result<KeyRing> KeyRing::Activate(int64_t now_ms, int64_t at_ms,
                                  std::optional<int64_t> overlap_ms) const {
  if (Staged(now_ms) == nullptr) {
    return FailedPrecondition("no key is staged: make one first (esb-key rotate)");
  }
  if (at_ms < now_ms) return InvalidArgument("a key cannot start signing in the past");
  if (overlap_ms.has_value() && *overlap_ms < 0) {
    return InvalidArgument("the overlap cannot be negative");
  }
  std::vector<RingKey> keys = keys_;
  RingKey& next = keys.back();
  RingKey& replaced = keys[keys.size() - 2];  // signs now (the oldest key always has a time)
  // Strictly after the replaced key's own start, even within the same millisecond.
  at_ms = std::max(at_ms, replaced.valid_from_ms.value_or(0) + 1);
  if (overlap_ms.has_value()) next.overlap_ms = *overlap_ms;
  next.valid_from_ms = at_ms;
  replaced.not_after_ms = at_ms + next.overlap_ms;
  return FromKeys(std::move(keys));
}

Result<KeyRing> KeyRing::Discard(int64_t now_ms) const {
  if (Staged(now_ms) == nullptr) return FailedPrecondition("no key is staged");
  std::vector<RingKey> keys = keys_;
  keys.pop_back();
  keys.back().not_after_ms.reset();
  return FromKeys(std::move(keys));
}

bool KeyRing::RetiredWithPrivateKey(const RingKey& key, int64_t now_ms) const {
  return key.has_private_key() && StatusOf(key, now_ms) == KeyStatus::kRetired;
}

std::vector<std::string> KeyRing::RetiredWithPrivateKeys(int64_t now_ms) const {
  std::vector<std::string> ids;
  for (const RingKey& k : keys_) {
    if (RetiredWithPrivateKey(k, now_ms)) ids.push_back(k.id());
  }
  return ids;
}

KeyRing KeyRing::EraseRetiredPrivateKeys(int64_t now_ms) const {
  std::vector<RingKey> keys;
  keys.reserve(keys_.size());
  for (const RingKey& k : keys_) {
    keys.push_back(RetiredWithPrivateKey(k, now_ms) ? k.WithoutPrivateKey() : k);
  }
  // A retired key was replaced (it has a later key and a not-after time): the invariants hold.
  return KeyRing(std::move(keys));
}

RingSigner::RingSigner(KeyRing ring, int64_t now_ms) {
  Set(std::make_shared<const KeyRing>(std::move(ring)), now_ms);
}

bool RingSigner::Set(std::shared_ptr<const KeyRing> ring, int64_t now_ms) {
  const RingKey& signing = ring->Signing(now_ms);
  std::lock_guard lock(mutex_);
  const bool changed = state_ == nullptr || state_->signer->public_key().SpkiBase64() !=
                                                signing.public_key().SpkiBase64();
  auto next = std::make_shared<State>();
  next->ring = std::move(ring);
  next->as_of_ms = now_ms;
  next->signer =
      changed ? std::make_shared<const LocalSigner>(signing.private_key()) : state_->signer;
  state_ = std::move(next);
  return changed;
}

bool RingSigner::Update(KeyRing ring, int64_t now_ms) {
  return Set(std::make_shared<const KeyRing>(std::move(ring)), now_ms);
}

bool RingSigner::Refresh(int64_t now_ms) { return Set(Current()->ring, now_ms); }

std::shared_ptr<const RingSigner::State> RingSigner::Current() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::string RingSigner::SignBase64(std::string_view message) const {
  return Current()->signer->SignBase64(message);
}

std::string RingSigner::SignDigestBase64(const Sha256Digest& digest) const {
  return Current()->signer->SignDigestBase64(digest);
}

PublicKey RingSigner::public_key() const { return Current()->signer->public_key(); }

std::shared_ptr<const Signer> RingSigner::Pinned() const { return Current()->signer; }

std::shared_ptr<const KeyRing> RingSigner::ring() const { return Current()->ring; }

int64_t RingSigner::as_of_ms() const { return Current()->as_of_ms; }

KeySet RingSigner::verifying_keys() const {
  auto state = Current();
  return state->ring->VerifyingKeys(state->as_of_ms);
}

}  // namespace govesb::crypto
