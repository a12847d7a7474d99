#pragma once

#include <memory>
#include <mutex>
#include <string>

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

 private:
  SqliteDeliveryQueue(std::unique_ptr<store::Database> reader, store::GroupCommitWriter& writer)
      : reader_(std::move(reader)), writer_(writer) {}
  void Settle(int64_t delivery_id, Attempt attempt, std::string_view state,
              int64_t next_attempt_at_ms);

  std::mutex reader_mutex_;
  std::unique_ptr<store::Database> reader_;
  store::GroupCommitWriter& writer_;
};

// ---- operations (admin CLI), on any connection to the file ----

struct DeliveryFilter {
  std::optional<DeliveryState> state = std::nullopt;
  std::string code = std::string();  // pushCode / apiCode; "" = any
  int64_t id = 0;                    // only this delivery; 0 = any
  // Only deliveries to systems of this institution (its code); "" = any.
  std::string recipient_institution = std::string();
  size_t limit = 1000;
};
Result<std::vector<DeliveryInfo>> ListDeliveries(store::Database& db, const DeliveryFilter& filter);

// Puts a dead (or delivered) delivery back to pending with a fresh attempt budget. kNotFound
// for an unknown id, kFailedPrecondition when it is pending already.
Status Redeliver(store::Database& db, int64_t delivery_id, int64_t now_ms);
// Every dead delivery (of `code` when not empty); returns how many.
Result<int64_t> RedeliverAllDead(store::Database& db, std::string_view code, int64_t now_ms);

// The attempts of one delivery, oldest first.
Result<std::vector<Attempt>> ListAttempts(store::Database& db, int64_t delivery_id);

struct QueueCounts {
  int64_t pending = 0;
  int64_t dead = 0;
  int64_t delivered = 0;
  int64_t oldest_pending_created_at_ms = 0;  // 0 when nothing is pending
};
Result<QueueCounts> CountDeliveries(store::Database& db);
// Pending and dead only (`delivered` stays 0), read from the index of open deliveries, so it
// costs the size of the queue, not of the history; of one institution's systems when
// `recipient_institution` is not empty.
Result<QueueCounts> CountOpenDeliveries(store::Database& db,
                                        std::string_view recipient_institution = {});

}  // namespace govesb::delivery
