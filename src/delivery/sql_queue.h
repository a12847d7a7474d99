#pragma once

// The delivery store on store::Database, one code base for both engines: the embedded SQLite
// file (sqlite_queue.h) and PostgreSQL for cluster mode (pg_queue.h). The statements are the
// same text on both except where an engine needs its own (the schema; an INSERT's new id:
// SQLite reads the connection's last rowid, PostgreSQL `RETURNING id`, so that the embedded
// push path runs exactly the statements it always ran).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/operations.h"
#include "delivery/queue.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::delivery {

// Creates or updates the delivery tables (component "delivery" in schema_versions), with the
// migration list of db's engine (both lists have the same length; a version means the same
// tables on both). The PostgreSQL list adds what only a cluster uses: an index of each lane's
// pending deliveries and the table `lane_leases`.
Status MigrateDeliveryStore(store::Database& db);

// DeliveryQueue on store::Database: writes go through the shared GroupCommitWriter (many
// requests per commit; the evidence log, or any commit participant, commits with them); reads
// use a connection of the queue's own, guarded by a mutex (SqliteDeliveryQueue::Open,
// PgDeliveryQueue::Open make both). The writer must run on the same database as the
// connection.
class SqlDeliveryQueue : public DeliveryQueue {
 public:
  ~SqlDeliveryQueue() override = default;

  void Enqueue(NewMessage message, EnqueueDone done) override;
  void Await(AwaitedAnswer answer, std::function<void(Status)> done) override;
  void CancelAwait(std::string request_id) override;
  Result<std::vector<PendingDelivery>> LoadPending(int64_t after_id, size_t limit) override;
  Result<std::string> LoadEnvelope(int64_t message_id) override;
  void Ack(int64_t delivery_id, Attempt attempt) override;
  void Nack(int64_t delivery_id, Attempt attempt, int64_t next_attempt_at_ms) override;
  void DeadLetter(int64_t delivery_id, Attempt attempt) override;
  Result<int64_t> RedeliverGeneration() override;
  void Prune(int64_t before_ms) override;
  void Sync(std::function<void(Status)> done) override;

  // Pending deliveries of one lane with id > after_id, ascending by id, at most `limit`
  // (LoadPending narrowed to a lane: what a node holding the lane's lease delivers).
  // kInvalidArgument for an empty lane or one longer than kMaxLaneBytes.
  Result<std::vector<PendingDelivery>> LoadLane(std::string_view lane, int64_t after_id,
                                                size_t limit);
  // The lanes with a pending delivery due by `now_ms` (next_attempt_at <= now_ms), ascending,
  // at most `limit`. Costs a scan of the pending deliveries.
  Result<std::vector<std::string>> LanesWithPendingWork(int64_t now_ms, size_t limit);

  static constexpr size_t kMaxLaneBytes = 256;

 protected:
  SqlDeliveryQueue(std::unique_ptr<store::Database> connection, store::GroupCommitWriter& writer)
      : connection_(std::move(connection)), writer_(writer) {}

  // The queue's connection with its lock held, for statements of a subclass. On PostgreSQL a
  // connection found lost (a statement failed on it: a server restart) is opened again first;
  // when that fails too, the statement that follows reports it.
  struct LockedConnection {
    std::unique_lock<std::mutex> lock;
    store::Database& db;
  };
  LockedConnection Connection();

 private:
  void Settle(int64_t delivery_id, Attempt attempt, std::string_view state,
              int64_t next_attempt_at_ms);
  Result<std::vector<PendingDelivery>> LoadPendingWhere(std::string_view lane, int64_t after_id,
                                                        size_t limit);

  std::mutex connection_mutex_;
  std::unique_ptr<store::Database> connection_;
  store::GroupCommitWriter& writer_;
};

// DeliveryOperations on `db`, either engine (any connection to the store; the caller's
// transactions include what it does). `db` must outlive it. A redelivery bumps the
// redelivery generation in the store, so every queue on it (every node) sees it.
class SqlDeliveryOperations final : public DeliveryOperations {
 public:
  explicit SqlDeliveryOperations(store::Database& db) : db_(db) {}

  Result<std::vector<DeliveryInfo>> List(const DeliveryFilter& filter) override;
  Result<std::vector<Attempt>> Attempts(int64_t delivery_id) override;
  Status Redeliver(int64_t delivery_id, int64_t now_ms) override;
  Result<int64_t> RedeliverAllDead(std::string_view code, int64_t now_ms) override;
  Result<QueueCounts> Count() override;
  Result<QueueCounts> CountOpen(std::string_view recipient_institution = {}) override;
  Result<std::vector<std::pair<std::string, int64_t>>> CountDeadBySystem() override;

 private:
  store::Database& db_;
};

}  // namespace govesb::delivery
