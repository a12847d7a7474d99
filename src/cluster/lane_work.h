#pragma once

// How the nodes of a cluster share delivery work (docs/cluster.md, decisions 2 and 3).
//
// PostgreSQL holds the deliveries; a JetStream work-queue stream carries *wake-ups*: "lane L has
// work". A node that fetches a wake-up takes the lane's lease in PostgreSQL and, if it got it,
// hands the lane's pending deliveries to its Dispatcher, which delivers them in order. When the
// lane runs dry the node reloads it (work that arrived meanwhile), and lets go of the lease only
// when nothing is left; after letting go it looks once more, so that work whose wake-up it
// dropped while it held the lane is never stranded. One lane is delivered by one node at a time
// (order per subscriber, cluster-wide); different lanes run on different nodes (a slow
// subscriber delays only its own lane).
//
// Faults:
// - A node that dies stops renewing its leases; they expire (`lease`) and every node's sweeper,
//   which looks for lanes with pending work and no valid lease every `sweep_every`, publishes
//   wake-ups for them, so the others take them over within lease + sweep_every.
// - A wake-up fetched by a node that dies before it took the lease is not acknowledged: JetStream
//   delivers it again after `ack_wait`. One that cannot be handled now (PostgreSQL away) is
//   negatively acknowledged with a growing delay, and after `max_deliver` tries terminated (the
//   sweeper makes a new one once PostgreSQL is back).
// - A node that cannot renew its leases for `lease` drops its lanes (another node may hold them
//   now) and delivers nothing more of them.
// - A wake-up that could not be published (NATS away) is found by the sweepers.
// - On stop (SIGTERM), HandBack lets go of every lease after the lanes' outcomes are durable and
//   publishes wake-ups for them, so another node goes on at once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/result.h"
#include "delivery/dispatcher.h"
#include "delivery/lanes.h"
#include "delivery/queue.h"
#include "nats/connection.h"

namespace govesb::cluster {

using std::chrono::milliseconds;

struct LaneWorkOptions {
  std::string node_id;  // cluster::ValidateNodeId
  std::string stream = "GOVESB_WORK";
  std::string subject = "govesb.work";
  std::string durable = "govesb-lanes";
  int replicas = 3;  // of the work stream
  milliseconds lease{6'000};
  milliseconds renew_every{2'000};
  milliseconds sweep_every{2'000};
  milliseconds ack_wait{10'000};
  int64_t max_deliver = 20;
  size_t lane_batch = 1'000;  // deliveries loaded per lane at a time
  // Wake-ups one fetch takes at most: small, so that the lanes spread over the nodes rather
  // than going to whichever node asked first.
  int fetch_batch = 8;
  // Lanes one sweep wakes at most (those with the oldest work first).
  size_t sweep_limit = 10'000;
  // How long Create keeps asking for the work stream and its consumer while JetStream does not
  // answer (leader elections): a node does not fail its start on a passing timeout.
  milliseconds setup_timeout{120'000};
};

class LaneWork final : public delivery::LaneCoordinator {
 public:
  // Ensures the work stream and its consumer (idempotent; every node does it). Fetches nothing
  // until Start. `nats`, `lanes` and `queue` must outlive it.
  static Result<std::unique_ptr<LaneWork>> Create(nats::Connection& nats,
                                                  delivery::LaneStore& lanes,
                                                  delivery::DeliveryQueue& queue,
                                                  LaneWorkOptions options);
  ~LaneWork() override;
  LaneWork(const LaneWork&) = delete;
  LaneWork& operator=(const LaneWork&) = delete;

  // Starts fetching wake-ups and handing lanes to `dispatcher` (started already, with this as
  // its coordinator; it must outlive this object or HandBack).
  Status Start(delivery::Dispatcher& dispatcher);
  // Stops taking lanes (no more fetching). Then stop the dispatcher, then HandBack.
  void StopTaking();
  // After the dispatcher stopped: waits for the outcomes written so far, lets go of every lease
  // this node holds and wakes their lanes for the other nodes. Idempotent.
  void HandBack();

  // delivery::LaneCoordinator
  void Wake(std::vector<std::pair<std::string, int64_t>> lanes) override;
  void LaneDrained(const std::string& lane) override;
  void RedeliveriesMade() override;

  struct Stats {
    int64_t lanes_held = 0;
    int64_t lanes_taken = 0;        // leases taken since start
    int64_t wakeups_published = 0;  // acknowledged by the stream
    int64_t wakeups_fetched = 0;
    int64_t publish_failures = 0;
    int64_t lanes_lost = 0;       // dropped because the leases could not be renewed
    int64_t wakeups_skipped = 0;  // new work on lanes this node held: no wake-up needed
  };
  Stats stats() const;

 private:
  LaneWork(nats::Connection& nats, delivery::LaneStore& lanes, delivery::DeliveryQueue& queue,
           LaneWorkOptions options);
  void FetchLoop();
  void HandleWakeUp(nats::Message& message);
  void WorkLoop();
  void PublishLoop();
  void Drain(const std::string& lane);
  void Renew();
  void Sweep();
  void Enqueue(std::function<void()> task);
  void Publish(std::string lane, std::string msg_id);
  Status SyncQueue();
  int64_t Now() const;

  nats::Connection& nats_;
  delivery::LaneStore& lanes_;
  delivery::DeliveryQueue& queue_;
  LaneWorkOptions options_;
  delivery::Dispatcher* dispatcher_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;   // no more fetching
  bool shut_down_ = false;  // threads end
  std::unordered_set<std::string> held_;
  std::unordered_set<std::string> retry_drain_;  // lanes whose reload failed
  int64_t renewed_at_ms_ = 0;                    // the last successful renewal (or take)
  std::deque<std::function<void()>> tasks_;
  std::deque<std::pair<std::string, std::string>> to_publish_;  // lane, msg id
  std::unordered_set<std::string> queued_lanes_;
  std::condition_variable publish_wake_;
  bool publish_failing_ = false;
  bool sweep_failing_ = false;

  std::atomic<int64_t> lanes_taken_{0};
  std::atomic<int64_t> published_{0};
  std::atomic<int64_t> fetched_{0};
  std::atomic<int64_t> publish_failures_{0};
  std::atomic<int64_t> lanes_lost_{0};
  std::atomic<int64_t> wakeups_skipped_{0};

  std::thread fetch_thread_;
  std::thread work_thread_;
  std::thread publish_thread_;
};

}  // namespace govesb::cluster
