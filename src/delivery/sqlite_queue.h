#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "delivery/operations.h"
#include "delivery/queue.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::delivery {

// Creates or updates the delivery tables (component "delivery" in schema_versions).
Status MigrateDeliveryStore(store::Database& db);

// The embedded DeliveryQueue: messages, deliveries, attempts and awaited answers in the data
// directory's SQLite file. Writes go through the shared GroupCommitWriter (one fsync for many
// requests); reads use a connection of its own, guarded by a mutex.
class SqliteDeliveryQueue final : public DeliveryQueue {
 public:
  // `writer` must outlive the queue. Opens a read connection to `path`.
  static Result<std::unique_ptr<SqliteDeliveryQueue>> Open(const std::string& path,
                                                           store::GroupCommitWriter& writer);

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

 private:
  SqliteDeliveryQueue(std::unique_ptr<store::Database> reader, store::GroupCommitWriter& writer)
      : reader_(std::move(reader)), writer_(writer) {}
  void Settle(int64_t delivery_id, Attempt attempt, std::string_view state,
              int64_t next_attempt_at_ms);

  std::mutex reader_mutex_;
  std::unique_ptr<store::Database> reader_;
  store::GroupCommitWriter& writer_;
};

// The embedded DeliveryOperations, on `db` (any connection to the file; the caller's
// transactions include what it does). `db` must outlive it.
class SqliteDeliveryOperations final : public DeliveryOperations {
 public:
  explicit SqliteDeliveryOperations(store::Database& db) : db_(db) {}

  Result<std::vector<DeliveryInfo>> List(const DeliveryFilter& filter) override;
  Result<std::vector<Attempt>> Attempts(int64_t delivery_id) override;
  Status Redeliver(int64_t delivery_id, int64_t now_ms) override;
  Result<int64_t> RedeliverAllDead(std::string_view code, int64_t now_ms) override;
  Result<QueueCounts> Count() override;
  Result<QueueCounts> CountOpen(std::string_view recipient_institution = {}) override;

 private:
  store::Database& db_;
};

}  // namespace govesb::delivery
