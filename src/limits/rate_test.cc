#include "limits/rate.h"

#include <gtest/gtest.h>

namespace govesb::limits {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kT0 = 1'700'000'000'000;

TEST(TokenBucket, StartsFullAndAllowsTheBurst) {
  TokenBucket bucket;
  const Rate rate{10, 5};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.Take(rate, 1, kT0).allowed) << i;
  const Decision refused = bucket.Take(rate, 1, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(100));
}

TEST(TokenBucket, RetryAfterIsExactToTheMillisecond) {
  TokenBucket bucket;
  const Rate rate{3, 1};  // one token every 333.33 ms
  EXPECT_TRUE(bucket.Take(rate, 1, kT0).allowed);
  EXPECT_EQ(bucket.Take(rate, 1, kT0).retry_after, milliseconds(334));
  const Decision early = bucket.Take(rate, 1, kT0 + 333);
  EXPECT_FALSE(early.allowed);
  EXPECT_EQ(early.retry_after, milliseconds(1));
  EXPECT_TRUE(bucket.Take(rate, 1, kT0 + 334).allowed);
}

TEST(TokenBucket, RefillsLazilyUpToTheBurst) {
  TokenBucket bucket;
  const Rate rate{2, 4};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(bucket.Take(rate, 1, kT0).allowed);
  EXPECT_FALSE(bucket.Take(rate, 1, kT0).allowed);
  EXPECT_NEAR(bucket.tokens(rate, kT0 + 1000), 2.0, 1e-9);
  EXPECT_FALSE(bucket.IsFull(rate, kT0 + 1999));
  EXPECT_TRUE(bucket.IsFull(rate, kT0 + 2000));
  // An hour idle still gives only the burst.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(bucket.Take(rate, 1, kT0 + 3'600'000).allowed) << i;
  EXPECT_FALSE(bucket.Take(rate, 1, kT0 + 3'600'000).allowed);
}

TEST(TokenBucket, FractionalCostsAddUp) {
  TokenBucket bucket;
  const Rate rate{1, 1};
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.Take(rate, 0.1, kT0).allowed) << i;
  EXPECT_FALSE(bucket.Take(rate, 0.1, kT0).allowed);
}

TEST(TokenBucket, CostAboveTheBurstPassesOnlyWhenFull) {
  TokenBucket bucket;
  const Rate rate{1, 2};
  EXPECT_TRUE(bucket.Take(rate, 10, kT0).allowed);
  const Decision refused = bucket.Take(rate, 10, kT0 + 1000);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(1000));
  EXPECT_TRUE(bucket.Take(rate, 10, kT0 + 2000).allowed);
}

TEST(TokenBucket, UnlimitedAndZeroBurst) {
  TokenBucket bucket;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.Take(Rate{}, 1, kT0).allowed);
  // burst 0 means one second's worth.
  const Rate rate{3, 0};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.Take(rate, 1, kT0).allowed);
  EXPECT_FALSE(bucket.Take(rate, 1, kT0).allowed);
}

TEST(TokenBucket, ClockSteppedBackRefillsNothing) {
  TokenBucket bucket;
  const Rate rate{1, 1};
  EXPECT_TRUE(bucket.Take(rate, 1, kT0).allowed);
  EXPECT_FALSE(bucket.Take(rate, 1, kT0 - 60'000).allowed);
  EXPECT_TRUE(bucket.Take(rate, 1, kT0 - 59'000).allowed);
}

TEST(RetryAfter, WholeSecondsRoundedUpAtLeastOne) {
  EXPECT_EQ(RetryAfterSeconds(milliseconds(0)), 1);
  EXPECT_EQ(RetryAfterSeconds(milliseconds(1)), 1);
  EXPECT_EQ(RetryAfterSeconds(milliseconds(1000)), 1);
  EXPECT_EQ(RetryAfterSeconds(milliseconds(1001)), 2);
  EXPECT_EQ(RetryAfterSeconds(milliseconds(2000)), 2);
  EXPECT_EQ(RetryAfterHeader(milliseconds(900'001)), "901");
}

}  // namespace
}  // namespace govesb::limits
