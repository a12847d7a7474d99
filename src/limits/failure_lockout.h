#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/clock.h"
#include "limits/keyed_table.h"
#include "limits/rate.h"
#include "limits/stats.h"

namespace govesb::limits {

struct LockoutPolicy {
  // Failures allowed before a lock; they are forgiven after `window` with no failure and no
  // lock (so a slow guesser is locked too, it just takes longer to get there).
  uint32_t free_failures = 5;
  std::chrono::milliseconds window = std::chrono::seconds(60);
  // The failure after the free ones locks for base_lock; each further one doubles it, up to
  // max_lock.
  std::chrono::milliseconds base_lock = std::chrono::seconds(1);
  std::chrono::milliseconds max_lock = std::chrono::minutes(15);
  size_t max_keys = 100'000;  // memory bound (~130 bytes a key, plus keys over 15 bytes)
  size_t shards = 16;
};

// Exponential lock-out of failed credential attempts, keyed by client id or by client
// address. The token endpoint calls Check before the expensive secret hash and answers 429
// with Retry-After when it refuses; then RecordFailure or RecordSuccess with the outcome.
// RecordSuccess clears the key: call it for client-id keys, not for address keys (one
// client's success behind a shared address must not forgive a guesser behind the same one).
//
// Thread-safe, sharded like KeyedRateLimiter; no I/O. Entries idle for window after their
// last failure and lock are dropped; memory is bounded by max_keys (locked keys are evicted
// only when every tracked key is locked or recent, and each such eviction is counted).
class FailureLockout {
 public:
  explicit FailureLockout(const Clock& clock, LockoutPolicy policy = {});

  // Refused while the key is locked, with the time left. Does not add the key.
  Decision Check(std::string_view key);
  void RecordFailure(std::string_view key);
  void RecordSuccess(std::string_view key);

  LimiterStats Stats() const;

 private:
  struct Entry {
    uint32_t failures = 0;
    int64_t last_failure_ms = 0;
    int64_t locked_until_ms = 0;
  };
  bool Forgotten(const Entry& entry, int64_t now_ms) const;

  const Clock& clock_;
  const LockoutPolicy policy_;
  internal::KeyedTable<Entry> table_;
  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> lockouts_{0};
};

}  // namespace govesb::limits
