#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace govesb::limits {

// A sustained rate with a burst. per_second <= 0 means unlimited. burst <= 0 means "one
// second's worth" (per_second, at least 1).
struct Rate {
  double per_second = 0;
  double burst = 0;

  bool unlimited() const { return per_second <= 0; }
  double effective_burst() const {
    if (burst > 0) return burst;
    return per_second > 1 ? per_second : 1;
  }
};

// The answer of a limiter: allowed, or refused with the time after which the same request
// would be allowed (retry_after > 0 exactly when refused).
struct Decision {
  bool allowed = true;
  std::chrono::milliseconds retry_after{0};
};

// The Retry-After header value (RFC 9110: delay-seconds): whole seconds rounded up, at least 1.
int64_t RetryAfterSeconds(std::chrono::milliseconds retry_after);
std::string RetryAfterHeader(std::chrono::milliseconds retry_after);

// One token bucket, refilled lazily from the time it is given. A plain value, not thread-safe:
// KeyedRateLimiter keeps many of them under its shard locks. A new bucket starts full.
class TokenBucket {
 public:
  // Takes `cost` tokens if there are enough. A cost above the burst is taken as the burst (so
  // an oversized request passes when the bucket is full instead of never). A cost <= 0 passes.
  Decision Take(const Rate& rate, double cost, int64_t now_ms);
  // True when the bucket would be full at now_ms: forgetting it then loses nothing.
  bool IsFull(const Rate& rate, int64_t now_ms) const;
  double tokens(const Rate& rate, int64_t now_ms) const;

 private:
  double tokens_ = -1;  // < 0: never used, full
  int64_t last_ms_ = 0;
};

}  // namespace govesb::limits
