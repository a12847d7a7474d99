#include "bench/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace govesb::bench {
namespace {

// Within the histogram's precision (1/128 of the value) of `expected`.
void ExpectNear(uint64_t actual, uint64_t expected) {
  double tolerance = std::max(1.0, static_cast<double>(expected) / 128.0);
  EXPECT_NEAR(static_cast<double>(actual), static_cast<double>(expected), tolerance)
      << "actual " << actual << " expected " << expected;
}

TEST(HistogramTest, BucketsCoverEveryValueOnceWithinOnePercent) {
  for (size_t i = 0; i + 1 < Histogram::BucketCount(); ++i) {
    ASSERT_EQ(Histogram::BucketHighest(i) + 1, Histogram::BucketLowest(i + 1)) << i;
  }
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{1000},
                     uint64_t{123456789}, Histogram::kMaxValue}) {
    size_t i = Histogram::BucketIndex(v);
    EXPECT_LE(Histogram::BucketLowest(i), v);
    EXPECT_GE(Histogram::BucketHighest(i), v);
    EXPECT_LE(static_cast<double>(Histogram::BucketHighest(i) - Histogram::BucketLowest(i)),
              std::max(1.0, static_cast<double>(v) / 128.0));
  }
}

TEST(HistogramTest, UniformDistributionPercentiles) {
  Histogram h;
  // 1 µs .. 100 ms in ns, each value once.
  for (uint64_t us = 1; us <= 100'000; ++us) h.Record(us * 1000);
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100'000'000u);
  ExpectNear(h.ValueAtPercentile(50), 50'000'000);
  ExpectNear(h.ValueAtPercentile(90), 90'000'000);
  ExpectNear(h.ValueAtPercentile(99), 99'000'000);
  ExpectNear(h.ValueAtPercentile(99.9), 99'900'000);
  EXPECT_EQ(h.ValueAtPercentile(100), 100'000'000u);
  EXPECT_NEAR(h.mean(), 50'000'500.0, 1.0);
}

TEST(HistogramTest, SkewedDistributionMatchesExactPercentiles) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(std::log(2e6), 0.8);  // ~2 ms median, long tail
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 200'000; ++i) {
    auto v = static_cast<uint64_t>(latency(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    ExpectNear(h.ValueAtPercentile(p), values[rank - 1]);
  }
  EXPECT_EQ(h.max(), values.back());
}

TEST(HistogramTest, MergeAddsAndClampsHugeValues) {
  Histogram a;
  Histogram b;
  a.Record(10);
  b.Record(20);
  b.Record(Histogram::kMaxValue + 5);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), Histogram::kMaxValue);
  EXPECT_EQ(a.clamped(), 1u);
  EXPECT_EQ(a.ValueAtPercentile(50), 20u);
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.ValueAtPercentile(99), 0u);
}

}  // namespace
}  // namespace govesb::bench
