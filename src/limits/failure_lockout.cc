#include "limits/failure_lockout.h"

#include <algorithm>

namespace govesb::limits {

FailureLockout::FailureLockout(const Clock& clock, LockoutPolicy policy)
    : clock_(clock), policy_(policy), table_(policy.max_keys, policy.shards) {}

bool FailureLockout::Forgotten(const Entry& entry, int64_t now_ms) const {
  return now_ms >= std::max(entry.last_failure_ms, entry.locked_until_ms) + policy_.window.count();
}

Decision FailureLockout::Check(std::string_view key) {
  const int64_t now = clock_.NowMillis();
  const Decision decision = table_.Find(key, [&](const Entry* entry) -> Decision {
    if (entry == nullptr || entry->locked_until_ms <= now) return {};
    return {false, std::chrono::milliseconds(entry->locked_until_ms - now)};
  });
  (decision.allowed ? admitted_ : refused_).fetch_add(1, std::memory_order_relaxed);
  return decision;
}

void FailureLockout::RecordFailure(std::string_view key) {
  const int64_t now = clock_.NowMillis();
  failures_.fetch_add(1, std::memory_order_relaxed);
  const bool locked = table_.Upsert(
      key,
      [&](Entry& entry) {
        if (entry.failures != 0 && Forgotten(entry, now)) entry = Entry{};
        entry.failures += entry.failures < UINT32_MAX ? 1 : 0;
        entry.last_failure_ms = now;
        if (entry.failures <= policy_.free_failures) return false;
        // base doubled once per failure past the first locking one, capped at max_lock.
        const int64_t cap = std::max<int64_t>(1, policy_.max_lock.count());
        int64_t lock = std::clamp<int64_t>(policy_.base_lock.count(), 1, cap);
        for (uint32_t n = entry.failures - policy_.free_failures - 1; n > 0 && lock < cap; --n) {
          lock = std::min(cap, lock * 2);
        }
        entry.locked_until_ms = std::max(entry.locked_until_ms, now + lock);
        return true;
      },
      [&](const Entry& entry) { return Forgotten(entry, now); });
  if (locked) lockouts_.fetch_add(1, std::memory_order_relaxed);
}

void FailureLockout::RecordSuccess(std::string_view key) { table_.Erase(key); }

LimiterStats FailureLockout::Stats() const {
  LimiterStats stats;
  stats.admitted = admitted_.load(std::memory_order_relaxed);
  stats.refused = refused_.load(std::memory_order_relaxed);
  stats.evictions = table_.evictions();
  stats.keys = table_.size();
  stats.failures = failures_.load(std::memory_order_relaxed);
  stats.lockouts = lockouts_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace govesb::limits
