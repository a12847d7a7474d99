#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "crypto/primitives.h"
#include "limits/sip_hash.h"

namespace govesb::replay {

// The first time a signed message was seen, as Record reports it on a replay.
struct Sighting {
  std::string first_request_id;  // up to 16 bytes kept, or a 32-hex-digit requestId in full
  int64_t first_at_ms = 0;
  uint64_t times_seen = 0;  // including the first and this one
};

struct ReplayWindowOptions {
  std::chrono::milliseconds window = std::chrono::minutes(10);
  size_t max_entries = 1'000'000;  // ~64 bytes each at most, allocated as they come
  size_t shards = 16;
};

struct ReplayStats {
  uint64_t replays = 0;    // Record calls that found an earlier sighting
  uint64_t evictions = 0;  // entries dropped before their window ended (the table was full)
  uint64_t forgotten = 0;  // entries removed by Forget
  uint64_t entries = 0;    // entries remembered now
};

// Remembers, for a window, which signed messages each system sent: the key is the system id
// and the SHA-256 of the signed bytes (the digest signature verification computed; its first
// 16 bytes are kept). The engine records each verified envelope and decides what a replay
// means for it (refused for pushes and async answers, counted for pulls).
//
// Memory: at most max_entries entries, in per-shard rings in time order (so expiry is O(1)
// a call) with an open-addressing index keyed by SipHash under a random key; about 56 bytes
// an entry plus 4-8 bytes of index. When a shard is full its oldest entry is evicted, which
// shortens the window for that shard: EffectiveWindow() says how far back replays are still
// certain to be caught.
//
// Thread-safe: any thread may call; each call takes one shard mutex for a lookup (and, when a
// shard's ring grows, a copy of it: a handful of times over its life). No I/O.
class ReplayWindow {
 public:
  explicit ReplayWindow(const Clock& clock, ReplayWindowOptions options = {});
  ~ReplayWindow();
  ReplayWindow(const ReplayWindow&) = delete;
  ReplayWindow& operator=(const ReplayWindow&) = delete;

  // If this system sent the same signed bytes within the window, counts one more sighting and
  // returns the first one; otherwise remembers this one (under request_id) and returns nullopt.
  std::optional<Sighting> Record(int64_t system_id, const crypto::Sha256Digest& digest,
                                 std::string_view request_id);

  // Removes the entry if `request_id` recorded it: for a message that was not stored after
  // all, so that the client's retry is not taken for a replay. Otherwise does nothing.
  void Forget(int64_t system_id, const crypto::Sha256Digest& digest, std::string_view request_id);

  // The window within which every replay is still caught: the configured window, or less if
  // entries younger than it were evicted. Lock-free.
  std::chrono::milliseconds EffectiveWindow() const;
  std::chrono::milliseconds window() const { return window_; }

  ReplayStats Stats() const;

 private:
  struct Shard;

  Shard& ShardFor(uint64_t hash);
  void NoteEviction(int64_t at_ms);

  const Clock& clock_;
  const std::chrono::milliseconds window_;
  const limits::SipKey hash_key_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<int64_t> newest_evicted_at_ms_{INT64_MIN};
  std::atomic<uint64_t> replays_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> forgotten_{0};
  std::atomic<uint64_t> entries_{0};
};

}  // namespace govesb::replay
