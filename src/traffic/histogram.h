#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace govesb::traffic {

// A latency histogram in microseconds with fixed log-scale buckets, so that histograms of
// different minutes, keys and processes merge by adding counts, and quantiles of the merged
// histogram are as exact as those of one.
//
// Buckets: values 0..15 µs each have their own bucket (exact). Above, every power of two is
// split into 8 equal buckets: [2^e, 2^(e+1)) in steps of 2^(e-3). The last bucket starts at
// 2^26 + 7 * 2^23 µs (126 s) and takes every larger value. A bucket is reported by its midpoint, so
// a quantile is off by at most half a bucket width, which is at most 1/16 of its lower bound: a
// relative error of at most 6.25% (exact below 16 µs; values over 126 s are reported as the last
// bucket's midpoint).
//
// Quantiles use the nearest rank: Quantile(q) is the value of the ceil(q * count)-th smallest
// observation (the smallest for q = 0), up to the error above.
//
// Not thread-safe; a plain value (2.4 KB) copied and merged by its owners.
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 200;

  // The bucket of a value (negative values count as 0).
  static int BucketOf(int64_t us);
  // The smallest value of a bucket, and the value it is reported as.
  static int64_t LowerBound(int bucket);
  static int64_t Midpoint(int bucket);

  void Add(int64_t us) { ++counts_[BucketOf(us)]; }
  void AddToBucket(int bucket, uint64_t n) { counts_[bucket] += n; }
  void Merge(const LatencyHistogram& other);
  void Clear() { counts_.fill(0); }

  uint64_t count() const;
  uint64_t bucket_count(int bucket) const { return counts_[bucket]; }
  // 0 when empty. q in [0, 1].
  int64_t Quantile(double q) const;

  // A compact, versioned encoding of the non-empty buckets (for the database).
  std::string Encode() const;
  // Adds an encoded histogram's counts to this one. Fails on damaged input (changing
  // nothing).
  Status MergeEncoded(std::string_view encoded);

 private:
  std::array<uint64_t, kBuckets> counts_{};
};

}  // namespace govesb::traffic
