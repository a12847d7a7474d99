#pragma once

// How busy this process keeps the CPUs it may run on: its CPU time (all threads) over a window
// of wall time, divided by the number of CPUs in its affinity mask. A pinned process that
// uses 0.85 s of CPU a second has a share of 0.85; the same on two allowed CPUs, 0.425.

#include <chrono>

namespace govesb {

class ProcessCpuShare {
 public:
  using Clock = std::chrono::steady_clock;
  // Counts the CPUs the calling thread may run on (at least 1; at most `max_cpus` when that is
  // positive: a process whose work runs on fewer threads than it has CPUs is busy when those
  // threads are) and starts the first window.
  explicit ProcessCpuShare(Clock::duration window = std::chrono::milliseconds(100),
                           int max_cpus = 0);

  // The share over the last window that ended (0 until one has), measured anew once `window`
  // has passed since the last measurement: one clock read per call, one more per window. One
  // caller at a time.
  double At(Clock::time_point now);

  int cpus() const { return cpus_; }

 private:
  Clock::duration window_;
  int cpus_ = 1;
  Clock::time_point since_;
  double cpu_seconds_since_ = 0;
  double share_ = 0;
};

// This process's user + system time so far, in seconds (CLOCK_PROCESS_CPUTIME_ID).
double ProcessCpuSeconds();

}  // namespace govesb
