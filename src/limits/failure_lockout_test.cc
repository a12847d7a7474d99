#include "limits/failure_lockout.h"

#include <gtest/gtest.h>

#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace govesb::limits {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(FailureLockout, FreeFailuresThenDoublingLocksUpToTheCap) {
  SimulatedClock clock;
  FailureLockout lockout(clock);  // 5 free, 1 s doubling to 15 min
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lockout.Check("client").allowed) << i;
    lockout.RecordFailure("client");
  }
  EXPECT_TRUE(lockout.Check("client").allowed);
  int64_t expected_ms = 1000;
  for (int failure = 6; failure <= 20; ++failure) {
    lockout.RecordFailure("client");
    const Decision d = lockout.Check("client");
    ASSERT_FALSE(d.allowed) << failure;
    ASSERT_EQ(d.retry_after, milliseconds(expected_ms)) << failure;
    clock.Advance(milliseconds(expected_ms - 1));
    ASSERT_FALSE(lockout.Check("client").allowed) << failure;
    clock.Advance(milliseconds(1));
    ASSERT_TRUE(lockout.Check("client").allowed) << failure;
    expected_ms = std::min<int64_t>(expected_ms * 2, 15 * 60 * 1000);
  }
  EXPECT_EQ(expected_ms, 15 * 60 * 1000);  // the cap was reached within the loop
  const LimiterStats stats = lockout.Stats();
  EXPECT_EQ(stats.failures, 20u);
  EXPECT_EQ(stats.lockouts, 15u);
}

TEST(FailureLockout, SuccessClearsTheKey) {
  SimulatedClock clock;
  FailureLockout lockout(clock, {.free_failures = 2});
  for (int i = 0; i < 3; ++i) lockout.RecordFailure("client");
  ASSERT_FALSE(lockout.Check("client").allowed);
  lockout.RecordSuccess("client");
  EXPECT_TRUE(lockout.Check("client").allowed);
  EXPECT_EQ(lockout.Stats().keys, 0u);
  // Counting starts over: two more failures are free again.
  lockout.RecordFailure("client");
  lockout.RecordFailure("client");
  EXPECT_TRUE(lockout.Check("client").allowed);
}

TEST(FailureLockout, FailuresAreForgivenAfterAQuietWindow) {
  SimulatedClock clock;
  FailureLockout lockout(clock, {.free_failures = 2, .window = seconds(60)});
  lockout.RecordFailure("addr");
  lockout.RecordFailure("addr");
  clock.Advance(seconds(59));  // not quiet long enough: the next one locks
  lockout.RecordFailure("addr");
  EXPECT_FALSE(lockout.Check("addr").allowed);
  clock.Advance(seconds(1) + seconds(60));  // lock over, then a quiet window
  lockout.RecordFailure("addr");
  lockout.RecordFailure("addr");
  EXPECT_TRUE(lockout.Check("addr").allowed);
}

TEST(FailureLockout, SlowGuessingStillLocks) {
  SimulatedClock clock;
  FailureLockout lockout(clock, {.free_failures = 5, .window = seconds(60)});
  for (int i = 0; i < 5; ++i) {
    lockout.RecordFailure("client");
    clock.Advance(seconds(50));
  }
  lockout.RecordFailure("client");
  EXPECT_FALSE(lockout.Check("client").allowed);
}

TEST(FailureLockout, OtherKeysAreNotDelayed) {
  SimulatedClock clock;
  FailureLockout lockout(clock, {.free_failures = 0});
  lockout.RecordFailure("attacker");
  EXPECT_FALSE(lockout.Check("attacker").allowed);
  EXPECT_TRUE(lockout.Check("legitimate").allowed);
  EXPECT_EQ(lockout.Stats().keys, 1u);  // Check adds nothing
}

TEST(FailureLockout, MemoryIsBoundedAndIdleEntriesGoFirst) {
  SimulatedClock clock;
  FailureLockout lockout(clock, {.free_failures = 0, .max_keys = 100, .shards = 1});
  lockout.RecordFailure("locked-long");
  lockout.RecordFailure("locked-long");
  lockout.RecordFailure("locked-long");                                            // 4 s lock
  for (int i = 0; i < 99; ++i) lockout.RecordFailure("old-" + std::to_string(i));  // 1 s locks
  clock.Advance(seconds(62));  // the 1 s locks and their windows are over, the 4 s one is not
  for (int i = 0; i < 99; ++i) lockout.RecordFailure("new-" + std::to_string(i));
  EXPECT_LE(lockout.Stats().keys, 100u);
  EXPECT_EQ(lockout.Stats().evictions, 0u);
  lockout.RecordFailure("locked-long");
  EXPECT_FALSE(lockout.Check("locked-long").allowed);
  EXPECT_EQ(lockout.Check("locked-long").retry_after, milliseconds(8000));
  // A million distinct keys: the table stays at its bound.
  for (int i = 0; i < 1'000'000; ++i) lockout.RecordFailure("k" + std::to_string(i));
  EXPECT_LE(lockout.Stats().keys, 100u);
  EXPECT_GT(lockout.Stats().evictions, 999'000u);
}

TEST(FailureLockout, ConcurrentFailuresAreAllCounted) {
  SimulatedClock clock;
  constexpr int kThreads = 4;
  constexpr int kFailures = 20'000;
  std::latch start(kThreads);
  FailureLockout lockout(clock, {.free_failures = kThreads * kFailures - 1, .shards = 4});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kFailures; ++i) {
        lockout.RecordFailure("shared");
        (void)lockout.Check("shared");
        lockout.RecordFailure("own-" + std::to_string(t));
        if (i % 100 == 0) lockout.RecordSuccess("own-" + std::to_string(t));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // Exactly kThreads * kFailures failures lock the key; one lost update would leave it open.
  EXPECT_FALSE(lockout.Check("shared").allowed);
  EXPECT_EQ(lockout.Stats().failures, 2u * kThreads * kFailures);
  EXPECT_EQ(lockout.Stats().lockouts, 1u);
}

}  // namespace
}  // namespace govesb::limits
