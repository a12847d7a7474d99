#include "limits/rate.h"

#include <algorithm>
#include <cmath>

namespace govesb::limits {
namespace {

// Float slack, so that 0.1 + 0.2 tokens count as 0.3.
constexpr double kEpsilon = 1e-9;

}  // namespace

int64_t RetryAfterSeconds(std::chrono::milliseconds retry_after) {
  const int64_t ms = retry_after.count();
  return ms <= 1000 ? 1 : (ms + 999) / 1000;
}

std::string RetryAfterHeader(std::chrono::milliseconds retry_after) {
  return std::to_string(RetryAfterSeconds(retry_after));
}

double TokenBucket::tokens(const Rate& rate, int64_t now_ms) const {
  const double burst = rate.effective_burst();
  if (tokens_ < 0) return burst;
  // A clock stepped back refills nothing (and Take restarts the count from the new time).
  const int64_t elapsed = now_ms > last_ms_ ? now_ms - last_ms_ : 0;
  return std::min(burst, tokens_ + static_cast<double>(elapsed) * rate.per_second / 1000.0);
}

bool TokenBucket::IsFull(const Rate& rate, int64_t now_ms) const {
  return rate.unlimited() || tokens(rate, now_ms) >= rate.effective_burst() - kEpsilon;
}

Decision TokenBucket::Take(const Rate& rate, double cost, int64_t now_ms) {
  if (rate.unlimited() || cost <= 0) return {};
  const double available = tokens(rate, now_ms);
  const double need = std::min(cost, rate.effective_burst());
  tokens_ = available;
  last_ms_ = now_ms;
  if (available + kEpsilon >= need) {
    tokens_ = std::max(0.0, available - need);
    return {};
  }
  const double wait_ms = std::ceil((need - available) * 1000.0 / rate.per_second - kEpsilon);
  return {false, std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(wait_ms)))};
}

}  // namespace govesb::limits
