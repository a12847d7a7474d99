#include "replay/replay_window.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>

namespace govesb::replay {
namespace {

// A request id in 18 bytes: a 32-digit lowercase hex requestId (what the bus makes) packed to
// 16 bytes, else up to 16 bytes as they are, a longer one cut and marked.
struct PackedRequestId {
  enum Kind : uint8_t { kRaw = 0, kHex32 = 1, kCut = 2 };
  uint8_t kind = kRaw;
  uint8_t length = 0;
  uint8_t bytes[16] = {};

  static PackedRequestId From(std::string_view id) {
    PackedRequestId p;
    const auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    bool hex = id.size() == 32;
    for (size_t i = 0; hex && i < 32; i += 2) {
      const int hi = nibble(id[i]), lo = nibble(id[i + 1]);
      hex = hi >= 0 && lo >= 0;
      if (hex) p.bytes[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
    }
    if (hex) {
      p.kind = kHex32;
      p.length = 16;
      return p;
    }
    p.kind = id.size() > 16 ? kCut : kRaw;
    p.length = static_cast<uint8_t>(std::min<size_t>(id.size(), 16));
    std::memset(p.bytes, 0, sizeof p.bytes);
    std::memcpy(p.bytes, id.data(), p.length);
    return p;
  }

  std::string ToString() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    if (kind == kHex32) {
      for (uint8_t b : bytes) {
        s += kHex[b >> 4];
        s += kHex[b & 0xF];
      }
      return s;
    }
    s.assign(reinterpret_cast<const char*>(bytes), length);
    if (kind == kCut) s += "...";
    return s;
  }

  bool operator==(const PackedRequestId&) const = default;
};

struct Entry {
  uint64_t digest[2];  // the first 16 bytes of the SHA-256
  int64_t system_id;
  int64_t at_ms;
  uint32_t times_seen;  // 0: dead (forgotten), waiting to leave the ring
  PackedRequestId request_id;
};
static_assert(sizeof(Entry) <= 64);

constexpr uint32_t kEmpty = UINT32_MAX;

struct Key {
  uint64_t digest[2];
  int64_t system_id;

  static Key Of(int64_t system_id, const crypto::Sha256Digest& d) {
    Key k;
    std::memcpy(k.digest, d.data(), sizeof k.digest);
    k.system_id = system_id;
    return k;
  }
  static Key Of(const Entry& e) { return Key{{e.digest[0], e.digest[1]}, e.system_id}; }
  bool Matches(const Entry& e) const {
    return e.digest[0] == digest[0] && e.digest[1] == digest[1] && e.system_id == system_id;
  }
  uint64_t Hash(const limits::SipKey& key) const {
    char bytes[24];
    std::memcpy(bytes, digest, 16);
    std::memcpy(bytes + 16, &system_id, 8);
    return limits::SipHash24(key, std::string_view(bytes, sizeof bytes));
  }
};

}  // namespace

// One shard: entries in a ring in the order they were recorded (so the oldest is at `head`),
// and a linear-probing index from key to ring slot kept at most half full.
struct ReplayWindow::Shard {
  std::mutex mutex;
  std::vector<Entry> ring;  // grows by doubling up to `capacity`
  size_t head = 0;
  size_t count = 0;  // slots in use, dead ones included
  size_t capacity = 1;
  std::vector<uint32_t> index;

  size_t Mask() const { return index.size() - 1; }
  Entry& At(size_t nth) { return ring[(head + nth) % ring.size()]; }

  // The index bucket that holds `key`, or the empty bucket where it would go.
  size_t Find(const Key& key, uint64_t hash, bool& found) {
    for (size_t b = hash & Mask();; b = (b + 1) & Mask()) {
      if (index[b] == kEmpty) {
        found = false;
        return b;
      }
      if (key.Matches(ring[index[b]])) {
        found = true;
        return b;
      }
    }
  }

  // Backward-shift deletion: no tombstones, so probe lengths stay short.
  void EraseBucket(size_t b, const limits::SipKey& hash_key) {
    size_t hole = b;
    index[hole] = kEmpty;
    for (size_t j = (hole + 1) & Mask(); index[j] != kEmpty; j = (j + 1) & Mask()) {
      const size_t home = Key::Of(ring[index[j]]).Hash(hash_key) & Mask();
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      index[hole] = index[j];
      index[j] = kEmpty;
      hole = j;
    }
  }

  void EraseEntry(const Entry& e, const limits::SipKey& hash_key) {
    const Key key = Key::Of(e);
    bool found = false;
    const size_t b = Find(key, key.Hash(hash_key), found);
    if (found) EraseBucket(b, hash_key);
  }

  void Grow(const limits::SipKey& hash_key) {
    const size_t size = std::min(capacity, std::max<size_t>(64, ring.size() * 2));
    std::vector<Entry> grown(size);
    for (size_t i = 0; i < count; ++i) grown[i] = At(i);
    ring = std::move(grown);
    head = 0;
    index.assign(std::bit_ceil(size * 2), kEmpty);
    for (size_t i = 0; i < count; ++i) {
      if (ring[i].times_seen == 0) continue;
      const Key key = Key::Of(ring[i]);
      bool found = false;
      index[Find(key, key.Hash(hash_key), found)] = static_cast<uint32_t>(i);
    }
  }
};

ReplayWindow::ReplayWindow(const Clock& clock, ReplayWindowOptions options)
    : clock_(clock), window_(options.window), hash_key_(limits::RandomSipKey()) {
  const size_t shards = std::max<size_t>(1, options.shards);
  const size_t per_shard = std::max<size_t>(1, (options.max_entries + shards - 1) / shards);
  for (size_t i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->capacity = std::min<size_t>(per_shard, UINT32_MAX / 4);
    shards_.push_back(std::move(shard));
  }
}

ReplayWindow::~ReplayWindow() = default;

ReplayWindow::Shard& ReplayWindow::ShardFor(uint64_t hash) {
  return *shards_[(hash >> 40) % shards_.size()];
}

void ReplayWindow::NoteEviction(int64_t at_ms) {
  evictions_.fetch_add(1, std::memory_order_relaxed);
  int64_t seen = newest_evicted_at_ms_.load(std::memory_order_relaxed);
  while (at_ms > seen && !newest_evicted_at_ms_.compare_exchange_weak(seen, at_ms)) {
  }
}

std::optional<Sighting> ReplayWindow::Record(int64_t system_id, const crypto::Sha256Digest& digest,
                                             std::string_view request_id) {
  const int64_t now = clock_.NowMillis();
  const Key key = Key::Of(system_id, digest);
  const uint64_t hash = key.Hash(hash_key_);
  Shard& shard = ShardFor(hash);
  std::lock_guard lock(shard.mutex);

  // Expire from the old end: the ring is in recording order.
  while (shard.count > 0) {
    Entry& oldest = shard.At(0);
    if (oldest.times_seen != 0) {
      if (oldest.at_ms + window_.count() > now) break;
      shard.EraseEntry(oldest, hash_key_);
      entries_.fetch_sub(1, std::memory_order_relaxed);
    }
    shard.head = (shard.head + 1) % shard.ring.size();
    --shard.count;
  }

  if (!shard.ring.empty()) {
    bool found = false;
    const size_t b = shard.Find(key, hash, found);
    if (found) {
      Entry& first = shard.ring[shard.index[b]];
      if (first.at_ms + window_.count() > now) {
        ++first.times_seen;
        replays_.fetch_add(1, std::memory_order_relaxed);
        return Sighting{first.request_id.ToString(), first.at_ms, first.times_seen};
      }
      // Out of the window but not yet at the old end (the clock stepped back): drop it.
      first.times_seen = 0;
      shard.EraseBucket(b, hash_key_);
      entries_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // Make room: grow the ring while it may, else drop the oldest slot.
  while (shard.count == shard.ring.size()) {
    if (shard.ring.size() < shard.capacity) {
      shard.Grow(hash_key_);
      break;
    }
    Entry& oldest = shard.At(0);
    if (oldest.times_seen != 0) {
      NoteEviction(oldest.at_ms);
      shard.EraseEntry(oldest, hash_key_);
      entries_.fetch_sub(1, std::memory_order_relaxed);
    }
    shard.head = (shard.head + 1) % shard.ring.size();
    --shard.count;
  }

  const size_t slot = (shard.head + shard.count) % shard.ring.size();
  shard.ring[slot] =
      Entry{{key.digest[0], key.digest[1]}, system_id, now, 1, PackedRequestId::From(request_id)};
  ++shard.count;
  bool found = false;
  shard.index[shard.Find(key, hash, found)] = static_cast<uint32_t>(slot);
  entries_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void ReplayWindow::Forget(int64_t system_id, const crypto::Sha256Digest& digest,
                          std::string_view request_id) {
  const Key key = Key::Of(system_id, digest);
  const uint64_t hash = key.Hash(hash_key_);
  Shard& shard = ShardFor(hash);
  std::lock_guard lock(shard.mutex);
  if (shard.ring.empty()) return;
  bool found = false;
  const size_t b = shard.Find(key, hash, found);
  if (!found) return;
  Entry& entry = shard.ring[shard.index[b]];
  if (!(entry.request_id == PackedRequestId::From(request_id))) return;
  entry.times_seen = 0;  // leaves the ring when it reaches the old end
  shard.EraseBucket(b, hash_key_);
  entries_.fetch_sub(1, std::memory_order_relaxed);
  forgotten_.fetch_add(1, std::memory_order_relaxed);
}

std::chrono::milliseconds ReplayWindow::EffectiveWindow() const {
  const int64_t evicted = newest_evicted_at_ms_.load(std::memory_order_relaxed);
  if (evicted == INT64_MIN) return window_;
  const int64_t since = clock_.NowMillis() - evicted;
  return std::chrono::milliseconds(std::clamp<int64_t>(since, 0, window_.count()));
}

ReplayStats ReplayWindow::Stats() const {
  ReplayStats stats;
  stats.replays = replays_.load(std::memory_order_relaxed);
  stats.evictions = evictions_.load(std::memory_order_relaxed);
  stats.forgotten = forgotten_.load(std::memory_order_relaxed);
  stats.entries = entries_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace govesb::replay
