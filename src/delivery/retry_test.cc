#include "delivery/retry.h"

#include <gtest/gtest.h>

namespace govesb::delivery {
namespace {

using std::chrono::milliseconds;

TEST(RetryDelay, GrowsExponentiallyWithinJitterAndCaps) {
  milliseconds base(100), max(1000);
  // random 1.0: the full delay; 0.0: half of it.
  EXPECT_EQ(RetryDelay(1, base, max, 1.0), milliseconds(100));
  EXPECT_EQ(RetryDelay(2, base, max, 1.0), milliseconds(200));
  EXPECT_EQ(RetryDelay(3, base, max, 1.0), milliseconds(400));
  EXPECT_EQ(RetryDelay(3, base, max, 0.0), milliseconds(200));
  EXPECT_EQ(RetryDelay(5, base, max, 1.0), milliseconds(1000));
  EXPECT_EQ(RetryDelay(60, base, max, 1.0), milliseconds(1000)) << "no overflow";
  EXPECT_EQ(RetryDelay(60, base, max, 0.5), milliseconds(750));
}

TEST(CircuitBreaker, OpensAfterThresholdAndProbesAfterCooldown) {
  CircuitBreaker b(3, milliseconds(100), milliseconds(250));
  EXPECT_EQ(b.Check(0), CircuitBreaker::Decision::kSend);
  b.RecordFailure(0);
  b.RecordFailure(0);
  EXPECT_FALSE(b.open());
  b.RecordFailure(10);
  EXPECT_TRUE(b.open());
  EXPECT_EQ(b.Check(50), CircuitBreaker::Decision::kWait);
  EXPECT_EQ(b.retry_at_ms(), 110);
  EXPECT_EQ(b.Check(110), CircuitBreaker::Decision::kProbe);
  EXPECT_EQ(b.Check(111), CircuitBreaker::Decision::kWait) << "one probe at a time";
  b.RecordFailure(120);  // probe failed: twice the cool-down
  EXPECT_EQ(b.retry_at_ms(), 320);
  EXPECT_EQ(b.Check(320), CircuitBreaker::Decision::kProbe);
  b.RecordFailure(320);  // capped at 250
  EXPECT_EQ(b.retry_at_ms(), 570);
  EXPECT_EQ(b.Check(570), CircuitBreaker::Decision::kProbe);
  b.RecordSuccess();
  EXPECT_FALSE(b.open());
  EXPECT_EQ(b.Check(571), CircuitBreaker::Decision::kSend);
  b.RecordFailure(600);
  EXPECT_FALSE(b.open()) << "the failure count starts again after a success";
}

TEST(CircuitBreaker, AnAbandonedProbeLetsAnotherThrough) {
  CircuitBreaker b(1, milliseconds(10), milliseconds(10));
  b.RecordFailure(0);
  EXPECT_EQ(b.Check(10), CircuitBreaker::Decision::kProbe);
  b.AbandonProbe();
  EXPECT_EQ(b.Check(10), CircuitBreaker::Decision::kProbe);
}

}  // namespace
}  // namespace govesb::delivery
