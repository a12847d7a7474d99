#include "base/cpu_share.h"

#include <sched.h>

#include <ctime>

namespace govesb {

double ProcessCpuSeconds() {
  timespec ts{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

ProcessCpuShare::ProcessCpuShare(Clock::duration window, int max_cpus)
    : window_(window), since_(Clock::now()), cpu_seconds_since_(ProcessCpuSeconds()) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) cpus_ = CPU_COUNT(&set);
  if (max_cpus > 0 && cpus_ > max_cpus) cpus_ = max_cpus;
  if (cpus_ < 1) cpus_ = 1;
}

double ProcessCpuShare::At(Clock::time_point now) {
  const auto elapsed = now - since_;
  if (elapsed < window_ || elapsed <= Clock::duration::zero()) return share_;
  const double cpu = ProcessCpuSeconds();
  const double wall = std::chrono::duration<double>(elapsed).count();
  share_ = (cpu - cpu_seconds_since_) / wall / cpus_;
  since_ = now;
  cpu_seconds_since_ = cpu;
  return share_;
}

}  // namespace govesb
