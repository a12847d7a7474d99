#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "limits/sip_hash.h"

namespace govesb::limits::internal {

// A bounded map from string keys to small values, split into shards that each have their own
// mutex and their own least-recently-used order. The building block of KeyedRateLimiter and
// FailureLockout; not part of their interface.
//
// Memory: at most ceil(max_keys / shards) keys per shard. When a shard is full, an insert first
// looks at its few least recently used entries for one that `idle` says can be forgotten
// without loss (a full bucket, an expired lock); if none is, it evicts the least recently used
// entry and counts an eviction. Each access also drops up to two idle entries from the cold
// end, so idle keys do not linger. Keys are hashed with SipHash under a random key.
template <typename Value>
class KeyedTable {
 public:
  KeyedTable(size_t max_keys, size_t shards)
      : hash_key_(RandomSipKey()), shards_(shards == 0 ? 1 : shards) {
    const size_t per_shard = (max_keys + shards_.size() - 1) / shards_.size();
    for (Shard& shard : shards_) {
      shard.capacity = per_shard == 0 ? 1 : per_shard;
      shard.map = Map(16, KeyHash{hash_key_}, KeyEqual{});
    }
  }

  KeyedTable(const KeyedTable&) = delete;
  KeyedTable& operator=(const KeyedTable&) = delete;

  // Calls fn(Value&) under the key's shard lock, creating the value (Value{}) if absent.
  // idle(const Value&) tells whether an entry may be dropped without loss. Returns fn's result.
  template <typename Fn, typename Idle>
  auto Upsert(std::string_view key, Fn&& fn, Idle&& idle) {
    const KeyView view{key, SipHash24(hash_key_, key)};
    Shard& shard = ShardFor(view.hash);
    std::lock_guard lock(shard.mutex);
    auto it = shard.map.find(view);
    if (it == shard.map.end()) {
      if (shard.map.size() >= shard.capacity) MakeRoom(shard, idle);
      it = shard.map.try_emplace(std::string(key)).first;
      size_.fetch_add(1, std::memory_order_relaxed);
      shard.PushFront(&*it);
    } else {
      shard.Unlink(&*it);
      shard.PushFront(&*it);
    }
    DropIdleTail(shard, idle, &*it);
    return fn(it->second.value);
  }

  // Calls fn(Value*) under the key's shard lock, with nullptr if the key is absent. Does not
  // change the order of use.
  template <typename Fn>
  auto Find(std::string_view key, Fn&& fn) {
    const KeyView view{key, SipHash24(hash_key_, key)};
    Shard& shard = ShardFor(view.hash);
    std::lock_guard lock(shard.mutex);
    auto it = shard.map.find(view);
    return fn(it == shard.map.end() ? nullptr : &it->second.value);
  }

  void Erase(std::string_view key) {
    const KeyView view{key, SipHash24(hash_key_, key)};
    Shard& shard = ShardFor(view.hash);
    std::lock_guard lock(shard.mutex);
    auto it = shard.map.find(view);
    if (it != shard.map.end()) Remove(shard, &*it);
  }

  size_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct KeyView {
    std::string_view text;
    uint64_t hash;
  };
  struct KeyHash {
    using is_transparent = void;
    SipKey key;
    size_t operator()(const KeyView& k) const { return k.hash; }
    size_t operator()(const std::string& s) const { return SipHash24(key, s); }
  };
  struct KeyEqual {
    using is_transparent = void;
    bool operator()(const std::string& a, const std::string& b) const { return a == b; }
    bool operator()(const std::string& a, const KeyView& b) const { return a == b.text; }
    bool operator()(const KeyView& a, const std::string& b) const { return a.text == b; }
  };
  struct Node;
  using Map = std::unordered_map<std::string, Node, KeyHash, KeyEqual>;
  using Entry = typename Map::value_type;
  struct Node {
    Value value{};
    Entry* newer = nullptr;
    Entry* older = nullptr;
  };
  struct Shard {
    std::mutex mutex;
    Map map;
    size_t capacity = 1;
    Entry* newest = nullptr;
    Entry* oldest = nullptr;

    void PushFront(Entry* e) {
      e->second.newer = nullptr;
      e->second.older = newest;
      if (newest != nullptr) newest->second.newer = e;
      newest = e;
      if (oldest == nullptr) oldest = e;
    }
    void Unlink(Entry* e) {
      if (e->second.newer != nullptr) e->second.newer->second.older = e->second.older;
      if (e->second.older != nullptr) e->second.older->second.newer = e->second.newer;
      if (newest == e) newest = e->second.older;
      if (oldest == e) oldest = e->second.newer;
      e->second.newer = e->second.older = nullptr;
    }
  };

  // How many of the coldest entries an insert into a full shard looks at for an idle one.
  static constexpr int kIdleScan = 8;

  Shard& ShardFor(uint64_t hash) { return shards_[(hash >> 32) % shards_.size()]; }

  void Remove(Shard& shard, Entry* e) {
    shard.Unlink(e);
    // Erase through an iterator: the key e->first lives in the node being erased.
    shard.map.erase(shard.map.find(KeyView{e->first, SipHash24(hash_key_, e->first)}));
    size_.fetch_sub(1, std::memory_order_relaxed);
  }

  template <typename Idle>
  void MakeRoom(Shard& shard, Idle& idle) {
    Entry* e = shard.oldest;
    for (int i = 0; i < kIdleScan && e != nullptr; ++i, e = e->second.newer) {
      if (idle(e->second.value)) {
        Remove(shard, e);
        return;
      }
    }
    evictions_.fetch_add(1, std::memory_order_relaxed);
    Remove(shard, shard.oldest);
  }

  template <typename Idle>
  void DropIdleTail(Shard& shard, Idle& idle, const Entry* keep) {
    for (int i = 0; i < 2; ++i) {
      Entry* e = shard.oldest;
      if (e == nullptr || e == keep || !idle(e->second.value)) return;
      Remove(shard, e);
    }
  }

  const SipKey hash_key_;
  std::vector<Shard> shards_;
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace govesb::limits::internal
