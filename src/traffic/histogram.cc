#include "traffic/histogram.h"

#include <bit>
#include <cmath>

namespace govesb::traffic {

namespace {

constexpr int kSubBits = 3;                      // 8 buckets per power of two
constexpr int kExact = 2 << kSubBits;            // 16: values below have their own bucket
constexpr int kFirstLogExponent = kSubBits + 1;  // 2^4 = 16
constexpr uint8_t kEncodingVersion = 1;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

int LatencyHistogram::BucketOf(int64_t us) {
  if (us < kExact) return us < 0 ? 0 : static_cast<int>(us);
  const auto v = static_cast<uint64_t>(us);
  const int e = 63 - std::countl_zero(v);  // 2^e <= v < 2^(e+1), e >= 4
  const int sub = static_cast<int>((v >> (e - kSubBits)) & ((1 << kSubBits) - 1));
  const int bucket = kExact + ((e - kFirstLogExponent) << kSubBits) + sub;
  return bucket < kBuckets ? bucket : kBuckets - 1;
}

int64_t LatencyHistogram::LowerBound(int bucket) {
  if (bucket < kExact) return bucket;
  const int e = ((bucket - kExact) >> kSubBits) + kFirstLogExponent;
  const int sub = (bucket - kExact) & ((1 << kSubBits) - 1);
  return (int64_t{1} << e) + (static_cast<int64_t>(sub) << (e - kSubBits));
}

int64_t LatencyHistogram::Midpoint(int bucket) {
  if (bucket < kExact) return bucket;
  const int e = ((bucket - kExact) >> kSubBits) + kFirstLogExponent;
  return LowerBound(bucket) + (int64_t{1} << (e - kSubBits - 1));
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
}

uint64_t LatencyHistogram::count() const {
  uint64_t n = 0;
  for (uint64_t c : counts_) n += c;
  return n;
}

int64_t LatencyHistogram::Quantile(double q) const {
  const uint64_t n = count();
  if (n == 0) return 0;
  q = std::fmin(1.0, std::fmax(0.0, q));
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return Midpoint(i);
  }
  return Midpoint(kBuckets - 1);
}

std::string LatencyHistogram::Encode() const {
  // Version, then (gap to the previous non-empty bucket, count) pairs as varints.
  std::string out;
  out.push_back(static_cast<char>(kEncodingVersion));
  int previous = -1;
  for (int i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    PutVarint(out, static_cast<uint64_t>(i - previous));
    PutVarint(out, counts_[i]);
    previous = i;
  }
  return out;
}

Status LatencyHistogram::MergeEncoded(std::string_view in) {
  if (in.empty()) return Status::Ok();  // an empty histogram may be stored as nothing
  if (static_cast<uint8_t>(in.front()) != kEncodingVersion) {
    return InvalidArgument("a traffic histogram has an unknown encoding version");
  }
  in.remove_prefix(1);
  std::array<uint64_t, kBuckets> add{};
  int64_t bucket = -1;
  while (!in.empty()) {
    uint64_t gap = 0;
    uint64_t n = 0;
    if (!GetVarint(in, gap) || !GetVarint(in, n) || gap == 0 ||
        gap > static_cast<uint64_t>(kBuckets)) {
      return InvalidArgument("a traffic histogram is damaged");
    }
    bucket += static_cast<int64_t>(gap);
    if (bucket >= kBuckets) return InvalidArgument("a traffic histogram is damaged");
    add[bucket] = n;
  }
  for (int i = 0; i < kBuckets; ++i) counts_[i] += add[i];
  return Status::Ok();
}

}  // namespace govesb::traffic
