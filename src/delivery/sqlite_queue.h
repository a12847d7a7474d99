#pragma once

#include <memory>
#include <string>

#include "delivery/sql_queue.h"
#include "store/group_commit.h"

namespace govesb::delivery {

// The embedded DeliveryQueue: messages, deliveries, attempts and awaited answers in the data
// directory's SQLite file. Writes go through the shared GroupCommitWriter (one fsync for many
// requests); reads use a connection of its own, guarded by a mutex. The statements and logic
// are SqlDeliveryQueue's (sql_queue.h), shared with the PostgreSQL adapter.
class SqliteDeliveryQueue final : public SqlDeliveryQueue {
 public:
  // `writer` (on the same file) must outlive the queue. Opens a read connection to `path`.
  static Result<std::unique_ptr<SqliteDeliveryQueue>> Open(const std::string& path,
                                                           store::GroupCommitWriter& writer);

 private:
  using SqlDeliveryQueue::SqlDeliveryQueue;
};

// The embedded DeliveryOperations, on `db` (any connection to the file; the caller's
// transactions include what it does). `db` must outlive it.
using SqliteDeliveryOperations = SqlDeliveryOperations;

}  // namespace govesb::delivery
