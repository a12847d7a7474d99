#include "traffic/prometheus.h"

#include <gtest/gtest.h>

#include <string>

namespace govesb::traffic {
namespace {

constexpr int64_t kT0 = 1'700'000'040'000;

Observation Obs(std::string_view code, Outcome outcome, int64_t bus_us, int64_t provider_us,
                int64_t request_bytes) {
  Observation o;
  o.at_ms = kT0;
  o.code = code;
  o.consumer = "C1";
  o.provider = "P1";
  o.outcome = outcome;
  o.bus_us = bus_us;
  o.provider_us = provider_us;
  o.request_bytes = request_bytes;
  o.response_bytes = 20;
  return o;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(TrafficPrometheus, CountersAndHistogramsPerKey) {
  SimulatedClock clock(kT0);
  TrafficCounters counters(clock);
  counters.Record(Obs("API1", Outcome::kSuccess, 300, 2000, 100));
  counters.Record(Obs("API1", Outcome::kSuccess, 3000, 40'000, 5000));
  counters.Record(Obs("API1", Outcome::kProviderTimeout, 200, 0, 100));
  std::string out;
  AppendPrometheus(counters.Totals(), 0, out);
  const std::string key = R"(kind="pull",api="API1",consumer="C1",provider="P1")";
  EXPECT_TRUE(Has(out, "govesb_requests_total{" + key + R"(,outcome="success"} 2)")) << out;
  EXPECT_TRUE(Has(out, "govesb_requests_total{" + key + R"(,outcome="provider_timeout"} 1)"));
  EXPECT_EQ(out.find(R"(outcome="refused_auth")"), std::string::npos) << "no zero series";
  // Bus time: 200 and 300 µs at or below 1 ms, 3 ms at or below 5 ms; all 3 exchanges.
  EXPECT_TRUE(Has(out, "govesb_request_bus_seconds_bucket{" + key + R"(,le="0.001"} 2)"));
  EXPECT_TRUE(Has(out, "govesb_request_bus_seconds_bucket{" + key + R"(,le="0.0025"} 2)"));
  EXPECT_TRUE(Has(out, "govesb_request_bus_seconds_bucket{" + key + R"(,le="0.005"} 3)"));
  EXPECT_TRUE(Has(out, "govesb_request_bus_seconds_bucket{" + key + R"(,le="+Inf"} 3)"));
  EXPECT_TRUE(Has(out, "govesb_request_bus_seconds_sum{" + key + "} 0.0035"));
  // Provider time: only the two exchanges that called it.
  EXPECT_TRUE(Has(out, "govesb_request_provider_seconds_bucket{" + key + R"(,le="0.0025"} 1)"));
  EXPECT_TRUE(Has(out, "govesb_request_provider_seconds_bucket{" + key + R"(,le="0.05"} 2)"));
  EXPECT_TRUE(Has(out, "govesb_request_provider_seconds_count{" + key + "} 2"));
  EXPECT_TRUE(Has(out, "govesb_request_bytes_total{" + key + "} 5200"));
  EXPECT_TRUE(Has(out, "govesb_response_bytes_total{" + key + "} 60"));
  // Sizes per kind and code: 100, 100 and 5000 bytes.
  EXPECT_TRUE(Has(out, R"(govesb_request_size_bytes_bucket{kind="pull",api="API1",le="256"} 2)"));
  EXPECT_TRUE(Has(out, R"(govesb_request_size_bytes_bucket{kind="pull",api="API1",le="4096"} 2)"));
  EXPECT_TRUE(Has(out, R"(govesb_request_size_bytes_bucket{kind="pull",api="API1",le="16384"} 3)"));
  EXPECT_TRUE(Has(out, R"(govesb_request_size_bytes_sum{kind="pull",api="API1"} 5200)"));
  EXPECT_TRUE(Has(out, "govesb_traffic_keys_overflowed_total 0"));
  EXPECT_NE(out.find("# TYPE govesb_request_bus_seconds histogram\n"), std::string::npos);
}

TEST(TrafficPrometheus, SizeBuckets) {
  EXPECT_EQ(SizeBucketOf(0), 0);
  EXPECT_EQ(SizeBucketOf(256), 0);
  EXPECT_EQ(SizeBucketOf(257), 1);
  EXPECT_EQ(SizeBucketOf(1024), 1);
  EXPECT_EQ(SizeBucketOf(1025), 2);
  EXPECT_EQ(SizeBucketOf(16 << 20), kSizeBuckets - 2);
  EXPECT_EQ(SizeBucketOf((16 << 20) + 1), kSizeBuckets - 1);
  EXPECT_EQ(SizeBucketOf(int64_t{1} << 40), kSizeBuckets - 1);
}

}  // namespace
}  // namespace govesb::traffic
