#include "limits/keyed_rate_limiter.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace govesb::limits {
namespace {

using std::chrono::milliseconds;

TEST(KeyedRateLimiter, KeysHaveTheirOwnBuckets) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock, {.shards = 1});
  const Rate rate{1, 2};
  EXPECT_TRUE(limiter.Admit("10.0.0.1", rate).allowed);
  EXPECT_TRUE(limiter.Admit("10.0.0.1", rate).allowed);
  const Decision refused = limiter.Admit("10.0.0.1", rate);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(1000));
  EXPECT_TRUE(limiter.Admit("10.0.0.2", rate).allowed);
  EXPECT_EQ(limiter.Stats().keys, 2u);
  clock.Advance(milliseconds(1000));  // 10.0.0.2 is full again: it can be forgotten
  EXPECT_TRUE(limiter.Admit("10.0.0.1", rate).allowed);
  EXPECT_FALSE(limiter.Admit("10.0.0.1", rate).allowed);

  const LimiterStats stats = limiter.Stats();
  EXPECT_EQ(stats.admitted, 4u);
  EXPECT_EQ(stats.refused, 2u);
  EXPECT_EQ(stats.keys, 1u);
}

TEST(KeyedRateLimiter, IntegerKeysAndPairsAreDistinct) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock);
  const Rate rate{1, 1};
  EXPECT_TRUE(limiter.Admit(int64_t{7}, rate).allowed);
  EXPECT_FALSE(limiter.Admit(int64_t{7}, rate).allowed);
  EXPECT_TRUE(limiter.Admit(int64_t{8}, rate).allowed);
  EXPECT_TRUE(limiter.Admit(7, 1, rate).allowed);
  EXPECT_TRUE(limiter.Admit(7, 2, rate).allowed);
  EXPECT_FALSE(limiter.Admit(7, 1, rate).allowed);
  EXPECT_TRUE(limiter.Admit(1, 7, rate).allowed);
}

TEST(KeyedRateLimiter, UnlimitedTracksNothing) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Admit(int64_t{1}, Rate{}).allowed);
  EXPECT_EQ(limiter.Stats().keys, 0u);
  EXPECT_EQ(limiter.Stats().admitted, 1000u);
}

TEST(KeyedRateLimiter, FullBucketsAreForgottenFirstAndWithoutCounting) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock, {.max_keys = 3, .shards = 1});
  const Rate rate{1, 2};
  ASSERT_TRUE(limiter.Admit("b", rate).allowed);
  ASSERT_TRUE(limiter.Admit("c", rate).allowed);
  ASSERT_TRUE(limiter.Admit("a", rate).allowed);
  clock.Advance(milliseconds(1000));                 // b, c and a are full again
  ASSERT_TRUE(limiter.Admit("a", rate, 2).allowed);  // a is empty now
  ASSERT_TRUE(limiter.Admit("d", rate).allowed);     // room made from the full ones
  EXPECT_EQ(limiter.Stats().evictions, 0u);
  EXPECT_LE(limiter.Stats().keys, 3u);
  EXPECT_FALSE(limiter.Admit("a", rate).allowed);  // a kept its state
}

TEST(KeyedRateLimiter, WhenAllAreBusyTheLeastRecentlyUsedIsEvicted) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock, {.max_keys = 3, .shards = 1});
  const Rate rate{1, 2};
  for (const char* key : {"a", "b", "c"}) ASSERT_TRUE(limiter.Admit(key, rate, 2).allowed);
  ASSERT_FALSE(limiter.Admit("a", rate).allowed);    // a is now the most recently used
  ASSERT_TRUE(limiter.Admit("d", rate, 2).allowed);  // evicts b, the least recently used
  EXPECT_EQ(limiter.Stats().evictions, 1u);
  EXPECT_EQ(limiter.Stats().keys, 3u);
  EXPECT_FALSE(limiter.Admit("c", rate).allowed);  // c kept; evicts nothing (c is tracked)
  EXPECT_FALSE(limiter.Admit("a", rate).allowed);
  EXPECT_TRUE(limiter.Admit("b", rate, 2).allowed);  // b starts over: it had been evicted
  EXPECT_EQ(limiter.Stats().evictions, 2u);
}

TEST(KeyedRateLimiter, MemoryStaysBoundedUnderAMillionKeys) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock, {.max_keys = 10'000, .shards = 16});
  const Rate rate{1, 5};
  const size_t bound = 16 * ((10'000 + 15) / 16);
  size_t heap_after_warmup = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    const std::string key = "client-address-" + std::to_string(i) + "-padding-past-sso";
    ASSERT_TRUE(limiter.Admit(key, rate).allowed);
    if (i == 100'000) heap_after_warmup = mallinfo2().uordblks;
  }
  const LimiterStats stats = limiter.Stats();
  EXPECT_LE(stats.keys, bound);
  EXPECT_GE(stats.keys, 9'000u);
  EXPECT_EQ(stats.evictions, 1'000'000 - stats.keys);
  // The heap in use does not grow with the keys seen once the table is full.
  EXPECT_LT(mallinfo2().uordblks, heap_after_warmup + (1u << 20));
}

TEST(KeyedRateLimiter, ConcurrentCallersLoseNoUpdate) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock, {.max_keys = 1000, .shards = 4});
  // The clock does not move: exactly `burst` calls on the shared key can pass.
  const Rate rate{1, 100'000};
  constexpr int kThreads = 4;
  constexpr int kCalls = 50'000;
  std::latch start(kThreads);
  std::vector<int> allowed(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kCalls; ++i) {
        if (limiter.Admit("shared", rate).allowed) ++allowed[t];
        (void)limiter.Admit(int64_t{t * kCalls + i % 50}, rate);  // and keys of its own
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int total = 0;
  for (int n : allowed) total += n;
  EXPECT_EQ(total, 100'000);
  const LimiterStats stats = limiter.Stats();
  EXPECT_EQ(stats.admitted + stats.refused, 2u * kThreads * kCalls);
  EXPECT_EQ(stats.refused, 100'000u);
  EXPECT_EQ(stats.keys, 1u + kThreads * 50);
}

TEST(LimiterStats, RendersPrometheusText) {
  SimulatedClock clock;
  KeyedRateLimiter limiter(clock);
  (void)limiter.Admit("x", Rate{1, 1});
  (void)limiter.Admit("x", Rate{1, 1});
  std::string out;
  const NamedLimiterStats limiters[] = {{"system", limiter.Stats()}, {"address", {}}};
  AppendPrometheus(out, limiters);
  EXPECT_NE(out.find("# TYPE govesb_rate_limited_total counter\n"
                     "govesb_rate_limited_total{limiter=\"system\"} 1\n"
                     "govesb_rate_limited_total{limiter=\"address\"} 0\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("govesb_rate_limit_keys{limiter=\"system\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("govesb_rate_limit_admitted_total{limiter=\"system\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace govesb::limits
