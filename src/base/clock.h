#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace govesb {

// Wall-clock time seam. The bus reads time only through a Clock so that token expiry and
// retry schedules can be tested with SimulatedClock. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
  int64_t NowSeconds() const { return NowMillis() / 1000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// The one system clock of the process (stateless), for components whose clock is optional.
inline const Clock& DefaultClock() {
  static const SystemClock clock;
  return clock;
}

// A clock that moves only when told to. For tests.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(std::chrono::milliseconds d) { now_ += d.count(); }
  void Set(int64_t millis) { now_ = millis; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace govesb
