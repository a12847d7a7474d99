#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace govesb::bench {

// One reading of the govesb_delivery_* families of a bus's GET /metrics.
struct DeliverySample {
  double t_s = 0;             // seconds since the watch started
  int64_t queue_depth = 0;    // govesb_delivery_queue_depth
  int64_t delivered = 0;      // govesb_delivery_delivered_total
  int64_t dead_lettered = 0;  // govesb_delivery_dead_lettered_total
  int64_t accepted = 0;       // govesb_delivery_messages_accepted_total
};

// The value of the unlabelled sample `name` (a line "name value") in Prometheus text
// exposition format; nullopt when there is none.
std::optional<double> PrometheusValue(std::string_view text, std::string_view name);
// The delivery figures of a /metrics body; kFailedPrecondition when the bus shows none (push
// not enabled).
Result<DeliverySample> ParseDeliverySample(std::string_view metrics, double t_s);

// Delivery throughput from a series of samples taken while a queue drained.
struct DrainReport {
  int64_t start_depth = 0;  // pending at the first sample
  int64_t end_depth = 0;    // at the end of the span
  bool drained = false;     // the queue was empty at the end of the span
  // The span runs from the last sample before the first acknowledgement to the first sample
  // with an empty queue (the last sample when it never emptied), so the time the deliveries
  // took to get going (recipients not yet up, a retry's backoff) is left out: `wait_s`.
  double wait_s = 0;
  double elapsed_s = 0;
  int64_t delivered = 0;      // acknowledged in the span
  int64_t dead_lettered = 0;  // dead-lettered in the span (should be 0)
  double deliveries_per_s = 0;
  size_t samples = 0;
  double interval_s = 0;  // between samples: the span is exact to within two of them
};
DrainReport SummarizeDrain(const std::vector<DeliverySample>& samples, double interval_s);

struct DrainOptions {
  // The base URL of the bus's metrics listener (serve --metrics-listen, plain HTTP): reads
  // <url>/metrics. The exchange port serves no /metrics.
  std::string url;
  std::chrono::milliseconds interval{20};
  // Gives up after this long (the report then says drained:false).
  std::chrono::milliseconds timeout{600'000};
  // After the first sample, before waiting for deliveries (a script may now start the
  // recipients); then about once a second. On the calling thread.
  std::function<void(const DeliverySample&)> on_first_sample;
  std::function<void(const DeliverySample&)> on_progress;
};

// `govesb bench drain`: samples <url>/metrics every `interval` until the delivery queue is
// empty (or the timeout), then summarises. Blocking; one connection, kept alive. Fails when
// the first sample cannot be taken; later failed reads are retried until the timeout.
Result<DrainReport> WatchDrain(const DrainOptions& options);

// {"start_depth","end_depth","drained","wait_s","elapsed_s","delivered","dead_lettered",
//  "deliveries_per_s","samples","interval_s"}
std::string DrainReportJson(const DrainReport& report);
std::string DrainReportTable(const DrainReport& report);

}  // namespace govesb::bench
