#include "base/cpu_share.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace govesb {
namespace {

using namespace std::chrono_literals;

TEST(ProcessCpuShareTest, IsZeroUntilAWindowHasPassed) {
  ProcessCpuShare share(1h);
  EXPECT_EQ(share.At(ProcessCpuShare::Clock::now()), 0);
  EXPECT_GE(share.cpus(), 1);
}

TEST(ProcessCpuShareTest, CountsAtMostTheCpusItIsGiven) {
  EXPECT_EQ(ProcessCpuShare(1h, 1).cpus(), 1);
  EXPECT_EQ(ProcessCpuShare(1h, 1000).cpus(), ProcessCpuShare(1h).cpus());
}

TEST(ProcessCpuShareTest, ASpinningThreadShowsAndASleepingProcessDoesNot) {
  ProcessCpuShare share(50ms);
  // Asleep for a window: hardly any CPU.
  std::this_thread::sleep_for(100ms);
  EXPECT_LT(share.At(ProcessCpuShare::Clock::now()), 0.2);
  // One thread spinning for a window: one CPU's worth, of the CPUs the process may use.
  const auto until = ProcessCpuShare::Clock::now() + 150ms;
  std::atomic<uint64_t> spins{0};
  while (ProcessCpuShare::Clock::now() < until) spins.fetch_add(1, std::memory_order_relaxed);
  const double spinning = share.At(ProcessCpuShare::Clock::now());
  // On a shared machine the thread may lose some of its time to others.
  EXPECT_GT(spinning, 0.3 / share.cpus());
  EXPECT_LE(spinning, 1.1 / share.cpus() + 0.1);
  // Within the window, the last value stands.
  EXPECT_EQ(share.At(ProcessCpuShare::Clock::now()), spinning);
}

}  // namespace
}  // namespace govesb
