#include "traffic/counters.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <unordered_map>

namespace govesb::traffic {

namespace {

constexpr int64_t kMinuteMs = 60'000;

int64_t MinuteOf(int64_t at_ms) {
  return at_ms >= 0 ? at_ms / kMinuteMs : -((-at_ms + kMinuteMs - 1) / kMinuteMs);
}

struct KeyView {
  int64_t minute;
  Kind kind;
  std::string_view code;
  std::string_view consumer;
  std::string_view provider;
};

struct Key {
  int64_t minute;
  Kind kind;
  std::string code;
  std::string consumer;
  std::string provider;

  KeyView view() const { return {minute, kind, code, consumer, provider}; }
};

struct KeyHash {
  using is_transparent = void;
  size_t operator()(const KeyView& k) const {
    std::hash<std::string_view> h;
    size_t x = h(k.code);
    x = x * 31 + h(k.consumer);
    x = x * 31 + h(k.provider);
    x ^= static_cast<size_t>(k.minute) * 0x9e3779b97f4a7c15ULL + static_cast<size_t>(k.kind);
    return x;
  }
  size_t operator()(const Key& k) const { return (*this)(k.view()); }
};

struct KeyEq {
  using is_transparent = void;
  static bool Same(const KeyView& a, const KeyView& b) {
    return a.minute == b.minute && a.kind == b.kind && a.code == b.code &&
           a.consumer == b.consumer && a.provider == b.provider;
  }
  bool operator()(const Key& a, const Key& b) const { return Same(a.view(), b.view()); }
  bool operator()(const KeyView& a, const Key& b) const { return Same(a, b.view()); }
  bool operator()(const Key& a, const KeyView& b) const { return Same(a.view(), b); }
};

using Map = std::unordered_map<Key, Counts, KeyHash, KeyEq>;

// Each thread that records is given a shard once, round robin, so that the I/O threads
// (fewer than kShards on most machines) each count into their own.
std::atomic<size_t> g_next_thread_slot{0};

}  // namespace

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kPull:
      return "pull";
    case Kind::kIdentity:
      return "identity";
    case Kind::kPush:
      return "push";
    case Kind::kAsyncAnswer:
      return "async-answer";
  }
  return "?";
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kProviderDeclined:
      return "provider_declined";
    case Outcome::kRefusedAuth:
      return "refused_auth";
    case Outcome::kRefusedLimit:
      return "refused_limit";
    case Outcome::kRefusedInvalid:
      return "refused_invalid";
    case Outcome::kRefusedOther:
      return "refused_other";
    case Outcome::kProviderFailure:
      return "provider_failure";
    case Outcome::kProviderTimeout:
      return "provider_timeout";
    case Outcome::kBusFailure:
      return "bus_failure";
  }
  return "?";
}

bool IsError(Outcome o) { return o != Outcome::kSuccess && o != Outcome::kProviderDeclined; }

Outcome OutcomeOf(StatusCode code, Phase phase) {
  if (code == StatusCode::kOk) return Outcome::kSuccess;
  if (code == StatusCode::kInternal) return Outcome::kBusFailure;
  switch (phase) {
    case Phase::kProvider:
      if (code == StatusCode::kFailedPrecondition) return Outcome::kProviderDeclined;
      if (code == StatusCode::kDeadlineExceeded) return Outcome::kProviderTimeout;
      return Outcome::kProviderFailure;
    case Phase::kStoring:
      if (code == StatusCode::kUnavailable || code == StatusCode::kResourceExhausted) {
        return Outcome::kBusFailure;
      }
      break;
    case Phase::kChecks:
      break;
  }
  switch (code) {
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
    case StatusCode::kBadSignature:
      return Outcome::kRefusedAuth;
    case StatusCode::kResourceExhausted:
      return Outcome::kRefusedLimit;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
      return Outcome::kRefusedInvalid;
    default:
      return Outcome::kRefusedOther;
  }
}

int SizeBucketOf(int64_t bytes) {
  if (bytes <= 256) return 0;
  // (256, 1024] -> 1, (1024, 4096] -> 2 ...: from the bit width of bytes - 1 (9 or 10 -> 1).
  const int b = (std::bit_width(static_cast<uint64_t>(bytes - 1)) - 7) / 2;
  return std::min(b, kSizeBuckets - 1);
}

uint64_t Counts::requests() const {
  uint64_t n = 0;
  for (uint64_t c : by_outcome) n += c;
  return n;
}

uint64_t Counts::errors() const {
  uint64_t n = 0;
  for (int i = 0; i < kOutcomeCount; ++i) {
    if (IsError(static_cast<Outcome>(i))) n += by_outcome[i];
  }
  return n;
}

void Counts::Add(const Observation& o) {
  ++by_outcome[static_cast<size_t>(o.outcome)];
  const int64_t bus_us = o.bus_us > 0 ? o.bus_us : 0;
  const int64_t provider_us = o.provider_us > 0 ? o.provider_us : 0;
  request_bytes += static_cast<uint64_t>(o.request_bytes > 0 ? o.request_bytes : 0);
  response_bytes += static_cast<uint64_t>(o.response_bytes > 0 ? o.response_bytes : 0);
  bus_us_sum += static_cast<uint64_t>(bus_us);
  provider_us_sum += static_cast<uint64_t>(provider_us);
  latency.Add(bus_us + provider_us);
  bus.Add(bus_us);
  if (provider_us > 0) provider.Add(provider_us);
  ++request_sizes[static_cast<size_t>(SizeBucketOf(o.request_bytes))];
  ++response_sizes[static_cast<size_t>(SizeBucketOf(o.response_bytes))];
}

void Counts::Merge(const Counts& other) {
  for (int i = 0; i < kOutcomeCount; ++i) by_outcome[i] += other.by_outcome[i];
  request_bytes += other.request_bytes;
  response_bytes += other.response_bytes;
  bus_us_sum += other.bus_us_sum;
  provider_us_sum += other.provider_us_sum;
  latency.Merge(other.latency);
  bus.Merge(other.bus);
  provider.Merge(other.provider);
  for (int i = 0; i < kSizeBuckets; ++i) {
    request_sizes[i] += other.request_sizes[i];
    response_sizes[i] += other.response_sizes[i];
  }
}

struct alignas(64) TrafficCounters::Shard {  // a cache line of its own per thread
  std::mutex mu;
  Map map;
  size_t last_size = 0;  // to reserve the next table outside the lock
};

TrafficCounters::TrafficCounters(const Clock& clock, TrafficOptions options)
    : clock_(clock), options_(options) {
  for (auto& s : shards_) s = std::make_unique<Shard>();
}

TrafficCounters::~TrafficCounters() = default;

TrafficCounters::Shard& TrafficCounters::ShardOfThisThread() {
  thread_local const size_t slot = g_next_thread_slot.fetch_add(1, std::memory_order_relaxed);
  return *shards_[slot % kShards];
}

void TrafficCounters::AddToShard(Shard& shard, int64_t minute, Kind kind, std::string_view code,
                                 std::string_view consumer, std::string_view provider,
                                 const Observation* o, const Counts* counts) {
  auto add = [&](Counts& c) {
    if (o != nullptr) c.Add(*o);
    if (counts != nullptr) c.Merge(*counts);
  };
  std::lock_guard lock(shard.mu);
  KeyView key{minute, kind, code, consumer, provider};
  if (auto it = shard.map.find(key); it != shard.map.end()) {
    add(it->second);
    return;
  }
  if (keys_.fetch_add(1, std::memory_order_relaxed) >= options_.max_keys) {
    keys_.fetch_sub(1, std::memory_order_relaxed);
    overflowed_.fetch_add(counts != nullptr ? counts->requests() : 1, std::memory_order_relaxed);
    // The overflow key itself is allowed over the cap: one per shard, minute and kind. It is
    // counted in keys_ too, since Take subtracts every key it takes.
    KeyView other{minute, kind, kOverflowCode, {}, {}};
    auto it = shard.map.find(other);
    if (it == shard.map.end()) {
      keys_.fetch_add(1, std::memory_order_relaxed);
      it = shard.map.try_emplace(Key{minute, kind, std::string(kOverflowCode), {}, {}}).first;
    }
    add(it->second);
    return;
  }
  auto it = shard.map
                .try_emplace(Key{minute, kind, std::string(code), std::string(consumer),
                                 std::string(provider)})
                .first;
  add(it->second);
}

void TrafficCounters::Record(const Observation& o) {
  AddToShard(ShardOfThisThread(), MinuteOf(o.at_ms), o.kind, o.code, o.consumer, o.provider, &o,
             nullptr);
}

std::vector<MinuteRow> TrafficCounters::Take() {
  Map merged;
  for (auto& shard : shards_) {
    Map taken;
    size_t expected = 0;
    {
      std::lock_guard lock(shard->mu);
      expected = shard->last_size;
    }
    Map fresh;
    fresh.reserve(expected);  // allocated outside the lock
    {
      std::lock_guard lock(shard->mu);
      taken.swap(shard->map);
      shard->map.swap(fresh);
      shard->last_size = taken.size();
    }
    keys_.fetch_sub(taken.size(), std::memory_order_relaxed);
    while (!taken.empty()) {
      auto node = taken.extract(taken.begin());
      auto [it, inserted, rest] = merged.insert(std::move(node));
      if (!inserted) it->second.Merge(rest.mapped());
    }
  }
  std::vector<MinuteRow> rows;
  rows.reserve(merged.size());
  while (!merged.empty()) {
    auto node = merged.extract(merged.begin());
    Key& k = node.key();
    rows.push_back(MinuteRow{k.minute, k.kind, std::move(k.code), std::move(k.consumer),
                             std::move(k.provider), std::move(node.mapped())});
  }
  return rows;
}

std::vector<KeyTotals> TrafficCounters::Totals() const {
  std::map<TotalsKey, Counts> all;
  {
    std::lock_guard lock(totals_mutex_);
    all = totals_;
    for (const MinuteRow& r : in_flight_) {
      all[TotalsKey{r.kind, r.code, r.consumer, r.provider}].Merge(r.counts);
    }
    for (const auto& shard : shards_) {
      std::lock_guard shard_lock(shard->mu);
      for (const auto& [k, c] : shard->map) {
        all[TotalsKey{k.kind, k.code, k.consumer, k.provider}].Merge(c);
      }
    }
  }
  std::vector<KeyTotals> out;
  out.reserve(all.size());
  for (auto& [k, c] : all) {
    out.push_back(KeyTotals{k.kind, k.code, k.consumer, k.provider, std::move(c)});
  }
  return out;
}

void TrafficCounters::Restore(std::vector<MinuteRow> rows) {
  Shard& shard = ShardOfThisThread();
  for (const MinuteRow& r : rows) {
    AddToShard(shard, r.minute, r.kind, r.code, r.consumer, r.provider, nullptr, &r.counts);
  }
}

}  // namespace govesb::traffic
