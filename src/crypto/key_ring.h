#pragma once

// The bus's signing keys over time (docs/key-rotation.md): the key it signs with, a key staged
// to sign next, the keys it signed with before (published during their overlap, then retired
// but kept to verify what they signed). Pure values and rules: where a ring is stored is the
// business of store (the data directory's file) and cluster (PostgreSQL).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/keys.h"

namespace govesb::crypto {

// A key's id: the SHA-256 of its SubjectPublicKeyInfo DER, lowercase hex (64 characters).
std::string KeyId(const PublicKey& key);

// The public keys a signature of the bus may have been made with, the preferred (current) one
// first. Immutable; cheap to copy.
class KeySet {
 public:
  // One key. Implicit on purpose: every caller from before rotation passes the one bus key.
  KeySet(PublicKey key);  // NOLINT(google-explicit-constructor)
  // `keys` must not be empty.
  explicit KeySet(std::vector<PublicKey> keys);

  const std::vector<PublicKey>& keys() const { return keys_; }
  const PublicKey& first() const { return keys_.front(); }
  const std::vector<std::string>& ids() const { return ids_; }
  // The key with id `id`, or nullptr.
  const PublicKey* Find(std::string_view id) const;
  // The key whose signature `signature_base64` over `message` is: the one named `id` when an id
  // is given (and no other), else the first one that verifies. nullptr when none does.
  const PublicKey* VerifyBase64(std::string_view message, std::string_view signature_base64,
                                std::string_view id = {}) const;

 private:
  std::vector<PublicKey> keys_;
  std::vector<std::string> ids_;
};

// Where a key of the ring stands at a given time.
enum class KeyStatus {
  kStaged,   // made, not signing yet (no activation time, or one still to come); published
  kCurrent,  // the key the bus signs with
  kOverlap,  // signed before; still published, until its not-after
  kRetired,  // signed before; no longer published, kept to verify what it signed (its private
             // part may be erased: EraseRetiredPrivateKeys)
};
// "staged", "current", "overlap", "retired".
std::string_view KeyStatusName(KeyStatus status);

// One key of a ring and its times (milliseconds since the epoch).
class RingKey {
 public:
  RingKey(PrivateKey key, int64_t created_at_ms);
  // A key whose private part was erased: it verifies what it signed, and never signs again.
  RingKey(PublicKey key, int64_t created_at_ms);

  bool has_private_key() const { return private_key_.has_value(); }
  // Only where has_private_key() (the signing key of a ring always has it).
  const PrivateKey& private_key() const;
  // The same key, times and all, without its private part.
  RingKey WithoutPrivateKey() const;
  const PublicKey& public_key() const { return public_key_; }
  const std::string& id() const { return id_; }

  int64_t created_at_ms = 0;
  // From when it signs: unset while staged without a time.
  std::optional<int64_t> valid_from_ms;
  // Until when it is published once a later key signs (that key's valid-from + overlap); unset
  // while nothing is scheduled to replace it.
  std::optional<int64_t> not_after_ms;
  // A staged key's overlap: how long the key it replaces stays published after it starts
  // signing (kept after, for the record).
  int64_t overlap_ms = 0;

 private:
  std::optional<PrivateKey> private_key_;
  PublicKey public_key_;
  std::string id_;
};

// The keys, oldest first. Invariants (FromKeys checks them): at least one key; ids unique; the
// valid-from times, where set, strictly increasing; only the newest key may have none, and the
// oldest has one; a key without its private part was replaced (a later key, and a not-after
// time), so the newest key always has its private part. So at any time at most one key is
// staged (the newest), and one signs: the newest with its private part whose valid-from has
// come (the oldest with its private part, if none has: a clock set back).
// An immutable value; the changes return a new ring.
class KeyRing {
 public:
  // A ring of one key, signing from `valid_from_ms`.
  static KeyRing Single(PrivateKey key, int64_t created_at_ms, int64_t valid_from_ms);
  // kInvalidArgument naming the broken rule.
  static Result<KeyRing> FromKeys(std::vector<RingKey> keys);

  const std::vector<RingKey>& keys() const { return keys_; }
  const RingKey* Find(std::string_view id) const;

  const RingKey& Signing(int64_t now_ms) const;
  KeyStatus StatusOf(const RingKey& key, int64_t now_ms) const;
  // The newest key when it does not sign yet at `now_ms`, else nullptr.
  const RingKey* Staged(int64_t now_ms) const;
  // Every key, the signing one first, then newest to oldest: what verifies the bus's signatures.
  KeySet VerifyingKeys(int64_t now_ms) const;

  // Adds `key` as staged (created now). kFailedPrecondition when a key is staged already.
  Result<KeyRing> Stage(PrivateKey key, int64_t now_ms, int64_t overlap_ms) const;
  // The staged key signs from `at_ms` (now or later; a staged key scheduled already may be given
  // another time while that time is still to come); the key it replaces is published until
  // `at_ms` + the overlap (`overlap_ms` when given, else the one given at staging).
  // kFailedPrecondition without a staged key, kInvalidArgument for a time in the past.
  Result<KeyRing> Activate(int64_t now_ms, int64_t at_ms,
                           std::optional<int64_t> overlap_ms = std::nullopt) const;
  // Removes the staged key (it never signed); the current key is no longer scheduled to end.
  Result<KeyRing> Discard(int64_t now_ms) const;
  // The ids of the retired keys at `now_ms` that still hold their private part.
  std::vector<std::string> RetiredWithPrivateKeys(int64_t now_ms) const;
  // Erases the private part of every retired key (RetiredWithPrivateKeys): what they signed
  // still verifies, and nobody who later reads the ring can sign as them. The same ring when
  // there is none.
  KeyRing EraseRetiredPrivateKeys(int64_t now_ms) const;

 private:
  explicit KeyRing(std::vector<RingKey> keys) : keys_(std::move(keys)) {}
  // Retired at `now_ms`, and still holding its private part: what erase-retired erases.
  bool RetiredWithPrivateKey(const RingKey& key, int64_t now_ms) const;
  std::vector<RingKey> keys_;
};

// The bus's Signer over a key ring: signs with the ring's signing key as of the last Update
// (the server calls it every second and when the ring changed, so that a rotation and a
// scheduled activation take effect within a second, without a restart). Thread-safe: signing
// threads read a snapshot while Update replaces it.
class RingSigner final : public Signer {
 public:
  RingSigner(KeyRing ring, int64_t now_ms);

  // Takes `ring` (read again) as of `now_ms`; returns true when the signing key changed.
  bool Update(KeyRing ring, int64_t now_ms);
  // The same ring, at `now_ms` (a scheduled activation).
  bool Refresh(int64_t now_ms);

  std::string SignBase64(std::string_view message) const override;
  std::string SignDigestBase64(const Sha256Digest& digest) const override;
  PublicKey public_key() const override;
  std::shared_ptr<const Signer> Pinned() const override;

  // The ring and the time of the last Update/Refresh.
  std::shared_ptr<const KeyRing> ring() const;
  int64_t as_of_ms() const;
  KeySet verifying_keys() const;

 private:
  struct State {
    std::shared_ptr<const KeyRing> ring;
    int64_t as_of_ms = 0;
    std::shared_ptr<const LocalSigner> signer;
  };
  std::shared_ptr<const State> Current() const;
  bool Set(std::shared_ptr<const KeyRing> ring, int64_t now_ms);

  mutable std::mutex mutex_;
  std::shared_ptr<const State> state_;
};

}  // namespace govesb::crypto
