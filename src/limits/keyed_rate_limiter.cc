#include "limits/keyed_rate_limiter.h"

#include <cstring>

namespace govesb::limits {

KeyedRateLimiter::KeyedRateLimiter(const Clock& clock, KeyedRateLimiterOptions options)
    : clock_(clock), table_(options.max_keys, options.shards) {}

Decision KeyedRateLimiter::Admit(std::string_view key, const Rate& rate, double cost) {
  Decision decision;
  if (!rate.unlimited()) {
    const int64_t now = clock_.NowMillis();
    decision = table_.Upsert(
        key,
        [&](Entry& entry) {
          entry.rate = rate;
          return entry.bucket.Take(rate, cost, now);
        },
        [now](const Entry& entry) { return entry.bucket.IsFull(entry.rate, now); });
  }
  (decision.allowed ? admitted_ : refused_).fetch_add(1, std::memory_order_relaxed);
  return decision;
}

Decision KeyedRateLimiter::Admit(int64_t key, const Rate& rate, double cost) {
  char bytes[sizeof key];
  std::memcpy(bytes, &key, sizeof key);
  return Admit(std::string_view(bytes, sizeof bytes), rate, cost);
}

Decision KeyedRateLimiter::Admit(int64_t key, int64_t subkey, const Rate& rate, double cost) {
  char bytes[sizeof key + sizeof subkey];
  std::memcpy(bytes, &key, sizeof key);
  std::memcpy(bytes + sizeof key, &subkey, sizeof subkey);
  return Admit(std::string_view(bytes, sizeof bytes), rate, cost);
}

LimiterStats KeyedRateLimiter::Stats() const {
  LimiterStats stats;
  stats.admitted = admitted_.load(std::memory_order_relaxed);
  stats.refused = refused_.load(std::memory_order_relaxed);
  stats.evictions = table_.evictions();
  stats.keys = table_.size();
  return stats;
}

}  // namespace govesb::limits
