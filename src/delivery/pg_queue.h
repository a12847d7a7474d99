#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "delivery/lanes.h"
#include "delivery/sql_queue.h"
#include "store/group_commit.h"

namespace govesb::delivery {

// The cluster's DeliveryQueue: the delivery store in PostgreSQL (schema component `delivery`,
// MigrateDeliveryStore on a PostgreSQL connection), shared by every node. The statements and
// logic are SqlDeliveryQueue's, the same as the embedded adapter's; the operators' view is
// SqlDeliveryOperations (alias PgDeliveryOperations) on any connection to the database.
//
// What a node of a cluster uses beyond DeliveryQueue:
// - LoadLane (SqlDeliveryQueue): the pending deliveries of one lane, for the node that holds
//   its lease. Ids are given at INSERT, not at COMMIT: with several nodes writing, a delivery
//   with a lower id can become visible after one with a higher id. A node that takes a lane
//   reads it from after_id = 0 (only the lane's pending rows, through an index) and pages
//   with after_id only within one pass.
// - LanesWithPendingWork (SqlDeliveryQueue): the lanes with due pending work, for a node's
//   sweeper to publish wake-ups for (after a crash between commit and publish, after a
//   redelivery, after a backoff).
// - Lane leases (table lane_leases): one node at a time delivers a lane, so order per
//   subscriber holds across the cluster. A lease is taken, renewed and released by one
//   autocommitted statement each, on the queue's connection (not through the group-commit
//   writer: a lease must not wait for a batch). Times are the callers' clock in ms since the
//   epoch; the nodes' clocks must agree to well within a lease's length.
// - Redelivery (DeliveryOperations::Redeliver / RedeliverAllDead on any node) bumps the
//   redelivery generation in the database, so RedeliverGeneration on every node sees it; the
//   redelivered deliveries are pending again and LanesWithPendingWork lists their lanes.
//
// Thread-safety: as DeliveryQueue (any thread); the connection's statements run one at a time.
class PgDeliveryQueue final : public SqlDeliveryQueue, public LaneStore {
 public:
  // Opens the queue's own connection to `conninfo` (a libpq connection string or URI); the
  // database must be migrated (MigrateDeliveryStore). `writer` must write to the same database
  // (GroupCommitWriter::Start on a PostgreSQL connection) and outlive the queue.
  static Result<std::unique_ptr<PgDeliveryQueue>> Open(const std::string& conninfo,
                                                       store::GroupCommitWriter& writer);

  // Takes the lease of `lane` for `node` until `until_ms`, when it is free, expired
  // (its until_ms < now_ms) or already `node`'s (a renewal, which also sets until_ms). True:
  // `node` holds it now; false: another node holds it (nothing changed). Atomic across
  // nodes (one INSERT … ON CONFLICT DO UPDATE … WHERE). kInvalidArgument (nothing changed) for
  // an empty or over-long lane or node, or until_ms <= now_ms.
  Result<bool> TryLease(std::string_view lane, std::string_view node, int64_t now_ms,
                        int64_t until_ms) override;
  // Gives the lease of `lane` back when `node` holds it (a no-op otherwise), so that another
  // node may take it at once.
  Status ReleaseLease(std::string_view lane, std::string_view node) override;
  // One UPDATE of every lease of `node` still valid at now_ms.
  Result<int64_t> RenewLeases(std::string_view node, int64_t now_ms, int64_t until_ms) override;

  // LaneStore: LoadLane is SqlDeliveryQueue's. LanesWithPendingWork here leaves out the lanes
  // with a lease valid at now_ms (some node delivers them), oldest pending work first.
  Result<std::vector<PendingDelivery>> LoadLane(std::string_view lane, int64_t after_id,
                                                size_t limit) override {
    return SqlDeliveryQueue::LoadLane(lane, after_id, limit);
  }
  Result<std::vector<std::string>> LanesWithPendingWork(int64_t now_ms, size_t limit) override;

  static constexpr size_t kMaxNodeBytes = 256;

 private:
  using SqlDeliveryQueue::SqlDeliveryQueue;
};

using PgDeliveryOperations = SqlDeliveryOperations;

}  // namespace govesb::delivery
