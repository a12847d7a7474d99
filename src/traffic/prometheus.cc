#include "traffic/prometheus.h"

#include <map>
#include <utility>

#include "base/prometheus_text.h"

namespace govesb::traffic {

namespace {

using prometheus::Label;

constexpr size_t kTimeBuckets = kPrometheusSecondsBounds.size() + 1;

// The Prometheus bucket of each traffic histogram bucket, computed once.
const std::array<uint8_t, LatencyHistogram::kBuckets>& TimeBucketOfEach() {
  static const std::array<uint8_t, LatencyHistogram::kBuckets> map = [] {
    std::array<uint8_t, LatencyHistogram::kBuckets> m{};
    for (int b = 0; b < LatencyHistogram::kBuckets; ++b) {
      const double seconds = static_cast<double>(LatencyHistogram::Midpoint(b)) / 1e6;
      size_t i = 0;
      while (i < kPrometheusSecondsBounds.size() && seconds > kPrometheusSecondsBounds[i]) ++i;
      m[static_cast<size_t>(b)] = static_cast<uint8_t>(i);
    }
    return m;
  }();
  return map;
}

std::array<uint64_t, kTimeBuckets> TimeBuckets(const LatencyHistogram& h) {
  std::array<uint64_t, kTimeBuckets> out{};
  const auto& map = TimeBucketOfEach();
  for (int b = 0; b < LatencyHistogram::kBuckets; ++b) {
    out[map[static_cast<size_t>(b)]] += h.bucket_count(b);
  }
  return out;
}

std::array<double, kSizeBuckets - 1> SizeBounds() {
  std::array<double, kSizeBuckets - 1> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(kSizeBounds[i]);
  return out;
}

}  // namespace

void AppendPrometheus(const std::vector<KeyTotals>& totals, uint64_t overflowed, std::string& out) {
  using prometheus::Family;
  using prometheus::Sample;
  Family(out, "govesb_requests_total", "counter",
         "Exchanges answered, by kind, API (or push) code, consumer and provider system, and "
         "outcome class.");
  for (const KeyTotals& t : totals) {
    for (int i = 0; i < kOutcomeCount; ++i) {
      const uint64_t n = t.counts.by_outcome[static_cast<size_t>(i)];
      if (n == 0) continue;  // a series appears with its first count
      Sample(out, "govesb_requests_total",
             {{"kind", KindName(t.kind)},
              {"api", t.code},
              {"consumer", t.consumer},
              {"provider", t.provider},
              {"outcome", OutcomeName(static_cast<Outcome>(i))}},
             n);
    }
  }
  auto times = [&](std::string_view name, std::string_view help, bool provider_time) {
    Family(out, name, "histogram", help);
    for (const KeyTotals& t : totals) {
      const LatencyHistogram& h = provider_time ? t.counts.provider : t.counts.bus;
      if (h.count() == 0) continue;
      const std::array<Label, 4> labels = {{{"kind", KindName(t.kind)},
                                            {"api", t.code},
                                            {"consumer", t.consumer},
                                            {"provider", t.provider}}};
      const auto buckets = TimeBuckets(h);
      const uint64_t sum_us = provider_time ? t.counts.provider_us_sum : t.counts.bus_us_sum;
      prometheus::Histogram(out, name, labels, kPrometheusSecondsBounds, buckets,
                            static_cast<double>(sum_us) / 1e6);
    }
  };
  times("govesb_request_bus_seconds",
        "Time an exchange spent in the bus (its whole time less the provider's), seconds.", false);
  times("govesb_request_provider_seconds",
        "Time the bus waited for the provider, seconds (exchanges that called one).", true);
  auto bytes = [&](std::string_view name, std::string_view help, bool response) {
    Family(out, name, "counter", help);
    for (const KeyTotals& t : totals) {
      if (t.counts.requests() == 0) continue;
      Sample(out, name,
             {{"kind", KindName(t.kind)},
              {"api", t.code},
              {"consumer", t.consumer},
              {"provider", t.provider}},
             response ? t.counts.response_bytes : t.counts.request_bytes);
    }
  };
  bytes("govesb_request_bytes_total", "Bytes of the consumers' request bodies.", false);
  bytes("govesb_response_bytes_total", "Bytes of the answers' bodies to the consumers.", true);
  // Sizes per kind and code only (not per system): fewer series.
  std::map<std::pair<Kind, std::string_view>,
           std::pair<std::array<uint64_t, kSizeBuckets>, std::array<uint64_t, kSizeBuckets>>>
      sizes;
  std::map<std::pair<Kind, std::string_view>, std::pair<uint64_t, uint64_t>> size_sums;
  for (const KeyTotals& t : totals) {
    auto& [request, response] = sizes[{t.kind, t.code}];
    auto& [request_sum, response_sum] = size_sums[{t.kind, t.code}];
    for (int i = 0; i < kSizeBuckets; ++i) {
      request[static_cast<size_t>(i)] += t.counts.request_sizes[static_cast<size_t>(i)];
      response[static_cast<size_t>(i)] += t.counts.response_sizes[static_cast<size_t>(i)];
    }
    request_sum += t.counts.request_bytes;
    response_sum += t.counts.response_bytes;
  }
  const auto bounds = SizeBounds();
  auto size_family = [&](std::string_view name, std::string_view help, bool response) {
    Family(out, name, "histogram", help);
    for (const auto& [key, both] : sizes) {
      const auto& counts = response ? both.second : both.first;
      uint64_t n = 0;
      for (uint64_t c : counts) n += c;
      if (n == 0) continue;
      const auto& sums = size_sums[key];
      const std::array<Label, 2> labels = {{{"kind", KindName(key.first)}, {"api", key.second}}};
      prometheus::Histogram(out, name, labels, bounds, counts,
                            static_cast<double>(response ? sums.second : sums.first));
    }
  };
  size_family("govesb_request_size_bytes", "Sizes of the consumers' request bodies, bytes.", false);
  size_family("govesb_response_size_bytes", "Sizes of the answers' bodies, bytes.", true);
  Family(out, "govesb_traffic_keys_overflowed_total", "counter",
         "Exchanges counted under api=\"*other*\" because the traffic counters held their most "
         "keys.");
  Sample(out, "govesb_traffic_keys_overflowed_total", overflowed);
}

}  // namespace govesb::traffic
