#pragma once

// The traffic counters as Prometheus metrics (docs/monitoring.md): requests by outcome, bus
// and provider time histograms, request and response bytes, per kind, API or push code,
// consumer and provider; size histograms per kind and code.

#include <array>
#include <string>
#include <vector>

#include "traffic/counters.h"

namespace govesb::traffic {

// The buckets of the time histograms, seconds. A traffic histogram bucket (1/8 of a power of
// two wide) is counted in the first of these at or above its midpoint, so a bound is exact to
// within 6.25%.
inline constexpr std::array<double, 14> kPrometheusSecondsBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// Appends the families govesb_requests_total, govesb_request_bus_seconds,
// govesb_request_provider_seconds, govesb_request_bytes_total, govesb_response_bytes_total,
// govesb_request_size_bytes, govesb_response_size_bytes and govesb_traffic_keys_overflowed_total.
// Labels come from the keys only: registry codes and client ids (TrafficCounters never keys on
// anything else), "" when unknown, kOverflowCode over the key cap.
void AppendPrometheus(const std::vector<KeyTotals>& totals, uint64_t overflowed, std::string& out);

}  // namespace govesb::traffic
