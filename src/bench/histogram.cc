#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace govesb::bench {

namespace {

constexpr uint64_t kSubBuckets = uint64_t{1} << Histogram::kSubBucketBits;

}  // namespace

// Values below kSubBuckets map one to one onto the first kSubBuckets buckets. For a larger
// value, `shift` is how many low bits are dropped to keep its top kSubBucketBits+1 bits (a
// number in [kSubBuckets, 2*kSubBuckets)); shift s owns buckets [(s+1)*kSubBuckets,
// (s+2)*kSubBuckets), one per value of those top bits.
size_t Histogram::BucketIndex(uint64_t value) {
  if (value < kSubBuckets) return static_cast<size_t>(value);
  int shift = std::bit_width(value) - (kSubBucketBits + 1);  // >= 0
  uint64_t sub = value >> shift;                             // in [kSubBuckets, 2*kSubBuckets)
  return static_cast<size_t>((static_cast<uint64_t>(shift) + 1) * kSubBuckets +
                             (sub - kSubBuckets));
}

uint64_t Histogram::BucketLowest(size_t index) {
  if (index < kSubBuckets) return index;
  uint64_t shift = index / kSubBuckets - 1;
  uint64_t sub = index % kSubBuckets + kSubBuckets;
  return sub << shift;
}

uint64_t Histogram::BucketHighest(size_t index) {
  if (index < kSubBuckets) return index;
  uint64_t shift = index / kSubBuckets - 1;
  return BucketLowest(index) + (uint64_t{1} << shift) - 1;
}

size_t Histogram::BucketCount() { return BucketIndex(kMaxValue) + 1; }

Histogram::Histogram() : buckets_(BucketCount(), 0) {}

void Histogram::Record(uint64_t value) {
  if (value > kMaxValue) {
    value = kMaxValue;
    ++clamped_;
  }
  ++buckets_[BucketIndex(value)];
  if (count_ == 0 || value < min_) min_ = value;
  max_ = std::max(max_, value);
  ++count_;
  sum_ += static_cast<long double>(value);
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  if (other.count_ != 0 && (count_ == 0 || other.min_ < min_)) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  clamped_ += other.clamped_;
  sum_ += other.sum_;
}

void Histogram::Reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  min_ = 0;
  max_ = 0;
  clamped_ = 0;
  sum_ = 0;
}

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

uint64_t Histogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(BucketHighest(i), min_, max_);
  }
  return max_;
}

}  // namespace govesb::bench
