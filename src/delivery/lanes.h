#pragma once

// Cluster mode: the lanes of a cluster's deliveries are shared by its nodes, and each lane is
// delivered by one node at a time, so that order per subscriber holds cluster-wide while
// different lanes run on different nodes. Two seams:
//
// - LaneStore: what a shared delivery store (PostgreSQL) offers on top of DeliveryQueue: the
//   pending deliveries of one lane, the lanes with work that no node holds, and leases.
// - LaneCoordinator: what the Dispatcher tells the cluster layer (cluster/lane_work.h) instead of
//   scheduling lanes itself: which lanes have new work, and which lanes it ran dry.
//
// The embedded default uses neither: its Dispatcher holds every lane.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "delivery/queue.h"

namespace govesb::delivery {

// Thread-safe: any method from any thread (blocking: database I/O).
class LaneStore {
 public:
  virtual ~LaneStore() = default;

  // The lane's pending deliveries (due or waiting for a retry) with id > after_id, ascending by
  // id, at most `limit`.
  virtual Result<std::vector<PendingDelivery>> LoadLane(std::string_view lane, int64_t after_id,
                                                        size_t limit) = 0;
  // Lanes that have pending deliveries and no lease valid at `now_ms` (nobody delivers them):
  // at most `limit`, those with the oldest pending delivery first.
  virtual Result<std::vector<std::string>> LanesWithPendingWork(int64_t now_ms, size_t limit) = 0;
  // Takes the lane's lease for `node` until `until_ms` when it is free, expired at `now_ms`, or
  // already `node`'s (a renewal): true. False when another node holds it. Atomic.
  virtual Result<bool> TryLease(std::string_view lane, std::string_view node, int64_t now_ms,
                                int64_t until_ms) = 0;
  // Extends every lease `node` holds that is still valid at `now_ms` to `until_ms`, in one
  // statement; how many. (A lease that expired may have been taken by another node meanwhile:
  // the caller drops such lanes, see LaneWork.)
  virtual Result<int64_t> RenewLeases(std::string_view node, int64_t now_ms, int64_t until_ms) = 0;
  // Lets go of `node`'s lease of the lane (nothing when it is not `node`'s).
  virtual Status ReleaseLease(std::string_view lane, std::string_view node) = 0;
};

// Called by the Dispatcher (on its threads; implementations must not block them).
class LaneCoordinator {
 public:
  virtual ~LaneCoordinator() = default;

  // This node made deliveries durable: each lane with the id of its first new delivery.
  virtual void Wake(std::vector<std::pair<std::string, int64_t>> lanes) = 0;
  // The dispatcher has delivered, retried to the end or dead-lettered everything it was given on
  // a lane (TakeLane); their outcomes were submitted to the queue, not necessarily durable yet.
  virtual void LaneDrained(const std::string& lane) = 0;
  // Deliveries were put back to pending by an operator (RedeliverGeneration moved).
  virtual void RedeliveriesMade() = 0;
};

}  // namespace govesb::delivery
