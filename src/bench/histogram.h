#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace govesb::bench {

// A latency histogram in the manner of HdrHistogram: log-linear buckets, each power of two
// split into 128 linear sub-buckets, so a recorded value is kept within 1/128 (< 0.8 %) of
// itself from 1 ns up to kMaxValue (about 68.7 s; larger values are clamped and flagged). Memory
// is fixed (about 30 KiB) whatever the number of samples, and recording is a few instructions,
// so the generator can record every response.
//
// Values are plain integers; the load generator records nanoseconds. Not thread-safe: one
// histogram per thread, then Merge.
class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;  // 128 sub-buckets per power of two
  static constexpr uint64_t kMaxValue = (uint64_t{1} << 36) - 1;  // ~68.7 s in ns

  Histogram();

  void Record(uint64_t value);
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }  // exact, not bucketed
  double mean() const;
  // How many values were larger than kMaxValue (recorded as kMaxValue).
  uint64_t clamped() const { return clamped_; }

  // The value at `percentile` (0..100): the highest value equivalent to the bucket that holds
  // the ceil(percentile% * count)-th smallest sample, never above max(). 0 when empty.
  uint64_t ValueAtPercentile(double percentile) const;

  // Bucket arithmetic, exposed for tests.
  static size_t BucketIndex(uint64_t value);
  static uint64_t BucketLowest(size_t index);
  static uint64_t BucketHighest(size_t index);
  static size_t BucketCount();

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_ = 0;
  uint64_t max_ = 0;
  uint64_t clamped_ = 0;
  long double sum_ = 0;
};

}  // namespace govesb::bench
