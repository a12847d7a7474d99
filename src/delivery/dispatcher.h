#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "base/clock.h"
#include "base/result.h"
#include "crypto/keys.h"
#include "delivery/lanes.h"
#include "delivery/queue.h"
#include "delivery/retry.h"
#include "http/resolver.h"
#include "registry/snapshot.h"

namespace boost::asio::ssl {
class context;
}

namespace govesb::http {
class IoThreads;
class PooledUpstreamClient;
}  // namespace govesb::http

namespace govesb::delivery {

struct DispatcherOptions {
  // Tries per delivery before it is dead-lettered (waiting on an open circuit does not count).
  int max_attempts = 30;
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{600'000};
  // One delivery: connect, send, the recipient's answer.
  std::chrono::milliseconds timeout{30'000};
  // Deliveries in flight to one endpoint (scheme://host:port) at once, over all its lanes.
  size_t max_in_flight_per_endpoint = 16;
  // Circuit breaker per endpoint.
  int breaker_threshold = 5;
  std::chrono::milliseconds breaker_cooldown{2000};
  std::chrono::milliseconds breaker_cooldown_max{60'000};
  // How long a provider of an asynchronous API may take to answer.
  std::chrono::milliseconds answer_window{std::chrono::hours(24)};
  // Signed envelopes kept in memory for pending deliveries; beyond this they are re-read.
  size_t envelope_cache_bytes = 64u << 20;
  // How often redeliveries made by other processes (the admin CLI) are looked for.
  std::chrono::milliseconds poll_interval{500};
  // Delivered deliveries (and their attempts) are kept this long for operators, then pruned.
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds prune_interval{std::chrono::minutes(1)};
  size_t max_response_bytes = 1u << 20;
  // Record every attempt (the delivery sent, the receipt answered) in the evidence log, in the
  // same write as its outcome. Needs the evidence tables (evidence::MigrateEvidenceStore).
  bool record_evidence = true;
  // For https:// recipients; null: the system trust store.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

struct DispatcherDeps {
  DeliveryQueue* queue = nullptr;
  std::function<std::shared_ptr<const registry::Snapshot>()> snapshot;
  const Clock* clock = nullptr;  // timestamps of records; nullptr: the system clock
  // Cluster mode (lanes.h): lanes are handed to this dispatcher (TakeLane) by the cluster layer
  // instead of all being its own; new work is announced to it (Wake) instead of scheduled here.
  // nullptr: the embedded default, every lane is this dispatcher's.
  LaneCoordinator* coordinator = nullptr;
  // Signs a delivery again for a recipient that verifies the ECMAScript form of data
  // (registry::System::serialisation "node": wire::JsonStyle); messages are stored in the
  // Jackson form. nullptr: every delivery goes out as stored.
  const crypto::Signer* signer = nullptr;
};

// Counters for /metrics. Thread-safe reads.
struct DeliveryMetrics {
  int64_t pending = 0;              // queue depth (deliveries not yet acknowledged or dead)
  double oldest_pending_age_s = 0;  // of the oldest pending delivery
  int64_t accepted_messages = 0;    // pushes and async answers accepted since start
  int64_t delivered = 0;            // acknowledged since start
  int64_t dead_lettered = 0;        // since start
  std::map<std::string, int64_t> attempts_by_outcome;
  // Delivery latency histogram (seconds): cumulative counts per upper bound, sum, count.
  std::vector<std::pair<double, int64_t>> latency_buckets;
  double latency_sum_s = 0;
  int64_t latency_count = 0;
  int64_t open_circuits = 0;
};

// The metrics in Prometheus text exposition format (govesb_delivery_* families).
std::string PrometheusText(const DeliveryMetrics& m);

// Guaranteed delivery: accepts messages into the DeliveryQueue (durably, before the publisher
// hears "accepted") and hands each delivery to its recipient with retries, exponential
// backoff with jitter, dead letters, per-lane ordering, per-endpoint concurrency limits and
// circuit breakers. Deliveries run as coroutines on a delivery thread of their own, so a slow
// or dead recipient costs nothing on the request path and only its own lane elsewhere.
//
// A delivery is acknowledged when the recipient answers with an envelope signed by the
// recipient system's registered key carrying success:true (contract 4.4). Anything else is
// retried. At least once: a recipient may see a delivery again (same requestId) after a crash
// or a lost acknowledgement.
class Dispatcher {
 public:
  Dispatcher(DispatcherDeps deps, DispatcherOptions options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Loads every pending delivery (resuming after a restart) and starts the delivery thread.
  Status Start();
  // Stops taking up new deliveries, lets those in flight finish for up to `grace`, then stops.
  // Whatever was not acknowledged stays pending in the queue for the next start.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  // Stores the message durably, then schedules its deliveries. Call from a coroutine; resumes
  // on the caller's executor once the store answered. `delivery_count` gets the number of
  // deliveries created.
  boost::asio::awaitable<Status> Accept(NewMessage message, size_t* delivery_count);
  // Records (durably) that a provider owes an answer to a request of an asynchronous API.
  boost::asio::awaitable<Status> Await(AwaitedAnswer answer);
  void CancelAwait(std::string request_id);

  // Cluster mode: this node now holds `lane`: deliver these of its pending deliveries (ids it
  // already has are ignored), then call the coordinator's LaneDrained. Thread-safe.
  void TakeLane(std::string lane, std::vector<PendingDelivery> deliveries);
  // Cluster mode: this node lost `lane` (its lease ran out): deliver nothing more of it after the
  // attempt in flight, if any; no LaneDrained follows. Thread-safe.
  void DropLane(std::string lane);

  std::chrono::milliseconds answer_window() const { return options_.answer_window; }
  DeliveryMetrics Metrics() const;
  // The delivery client's name resolver (AppendResolverMetrics). Thread-safe; zeros once
  // stopped.
  http::HostResolver::Stats NameStats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  DispatcherOptions options_;
};

}  // namespace govesb::delivery
