#include "traffic/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace govesb::traffic {
namespace {

// The nearest-rank quantile of exact values, as Quantile documents it.
int64_t ExactQuantile(std::vector<int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  if (rank == 0) rank = 1;
  return v[rank - 1];
}

TEST(LatencyHistogram, BucketsAreContiguousAndOrdered) {
  for (int b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
    const int64_t lo = LatencyHistogram::LowerBound(b);
    const int64_t next = LatencyHistogram::LowerBound(b + 1);
    ASSERT_LT(lo, next) << b;
    EXPECT_EQ(LatencyHistogram::BucketOf(lo), b);
    EXPECT_EQ(LatencyHistogram::BucketOf(next - 1), b);
    EXPECT_GE(LatencyHistogram::Midpoint(b), lo);
    EXPECT_LT(LatencyHistogram::Midpoint(b), next);
    // At most half a width off, and the width at most an eighth of the lower bound.
    if (lo >= 16) {
      EXPECT_LE((next - lo) * 8, lo) << b;
    }
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(-5), 0);
  EXPECT_EQ(LatencyHistogram::BucketOf(int64_t{1} << 40), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::LowerBound(LatencyHistogram::kBuckets - 1),
            (int64_t{1} << 26) + 7 * (int64_t{1} << 23));
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int64_t v : {3, 3, 9, 15, 1}) h.Add(v);
  EXPECT_EQ(h.Quantile(0.0), 1);
  EXPECT_EQ(h.Quantile(0.5), 3);
  EXPECT_EQ(h.Quantile(1.0), 15);
  EXPECT_EQ(LatencyHistogram().Quantile(0.5), 0);
}

TEST(LatencyHistogram, QuantilesOfMergedHistogramsAreWithinTheDocumentedError) {
  std::mt19937_64 rng(42);
  // Log-normal latencies around 2 ms with a long tail, split over 7 "minutes".
  std::lognormal_distribution<double> dist(std::log(2000.0), 1.2);
  std::vector<int64_t> all;
  LatencyHistogram merged;
  for (int minute = 0; minute < 7; ++minute) {
    LatencyHistogram h;
    for (int i = 0; i < 3000; ++i) {
      int64_t v = static_cast<int64_t>(dist(rng));
      all.push_back(v);
      h.Add(v);
    }
    LatencyHistogram copy;
    ASSERT_TRUE(copy.MergeEncoded(h.Encode()).ok());  // through the stored form
    merged.Merge(copy);
  }
  EXPECT_EQ(merged.count(), all.size());
  for (double q : {0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const double exact = static_cast<double>(ExactQuantile(all, q));
    const double got = static_cast<double>(merged.Quantile(q));
    EXPECT_LE(std::abs(got - exact), exact * 0.0625) << "q=" << q << " exact=" << exact;
  }
}

TEST(LatencyHistogram, DamagedEncodingIsRefusedAndChangesNothing) {
  LatencyHistogram h;
  h.Add(100);
  std::string good = h.Encode();
  LatencyHistogram target;
  target.Add(5);
  EXPECT_FALSE(target.MergeEncoded(std::string("\x02", 1)).ok());           // unknown version
  EXPECT_FALSE(target.MergeEncoded(good.substr(0, good.size() - 1)).ok());  // cut short
  std::string past_end = "\x01";
  past_end += static_cast<char>(LatencyHistogram::kBuckets + 1);
  past_end += '\x01';
  EXPECT_FALSE(target.MergeEncoded(past_end).ok());
  EXPECT_EQ(target.count(), 1u);
  EXPECT_TRUE(target.MergeEncoded(good).ok());
  EXPECT_EQ(target.count(), 2u);
}

}  // namespace
}  // namespace govesb::traffic
