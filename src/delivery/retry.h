#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace govesb::delivery {

// Delay before the next try after `failures` failed tries (1, 2, ...): exponential from `base`,
// capped at `max`, with "equal jitter" so that many deliveries failing together do not come
// back together: the delay is uniformly spread over [d/2, d]. `random01` in [0, 1).
inline std::chrono::milliseconds RetryDelay(int failures, std::chrono::milliseconds base,
                                            std::chrono::milliseconds max, double random01) {
  double d = static_cast<double>(base.count());
  for (int i = 1; i < failures && d < static_cast<double>(max.count()); ++i) d *= 2;
  d = std::min(d, static_cast<double>(max.count()));
  double jittered = d / 2 + (d / 2) * std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(jittered));
}

// A circuit breaker for one endpoint. Closed: deliveries flow. After `threshold` consecutive
// transport failures it opens for a cool-down during which nothing is sent; then one probe is
// let through (half-open): success closes it, failure opens it again with twice the
// cool-down (up to `max_cooldown`). Not thread-safe: used on the delivery thread.
class CircuitBreaker {
 public:
  CircuitBreaker(int threshold, std::chrono::milliseconds cooldown,
                 std::chrono::milliseconds max_cooldown)
      : threshold_(std::max(1, threshold)),
        base_cooldown_(cooldown),
        max_cooldown_(max_cooldown),
        cooldown_(cooldown) {}

  enum class Decision { kSend, kProbe, kWait };
  // May a delivery be sent now (ms clock)? kProbe: yes, as the one half-open probe.
  Decision Check(int64_t now_ms) {
    if (!open_) return Decision::kSend;
    if (probing_ || now_ms < open_until_ms_) return Decision::kWait;
    probing_ = true;
    return Decision::kProbe;
  }
  // When a waiting delivery should look again.
  int64_t retry_at_ms() const { return open_until_ms_; }
  bool open() const { return open_; }

  // The endpoint answered (whatever it said).
  void RecordSuccess() {
    open_ = false;
    probing_ = false;
    failures_ = 0;
    cooldown_ = base_cooldown_;
  }
  // Could not connect, timed out, or answered something that is not HTTP.
  void RecordFailure(int64_t now_ms) {
    ++failures_;
    if (probing_) {
      probing_ = false;
      cooldown_ = std::min(cooldown_ * 2, max_cooldown_);
      open_until_ms_ = now_ms + cooldown_.count();
      return;
    }
    if (!open_ && failures_ >= threshold_) {
      open_ = true;
      open_until_ms_ = now_ms + cooldown_.count();
    }
  }
  // A probe that ended without a verdict (shutdown): let another one through.
  void AbandonProbe() { probing_ = false; }

 private:
  int threshold_;
  std::chrono::milliseconds base_cooldown_;
  std::chrono::milliseconds max_cooldown_;
  std::chrono::milliseconds cooldown_;
  int failures_ = 0;
  bool open_ = false;
  bool probing_ = false;
  int64_t open_until_ms_ = 0;
};

}  // namespace govesb::delivery
