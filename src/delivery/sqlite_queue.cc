#include "delivery/sqlite_queue.h"

namespace govesb::delivery {

Result<std::unique_ptr<SqliteDeliveryQueue>> SqliteDeliveryQueue::Open(
    const std::string& path, store::GroupCommitWriter& writer) {
  store::DatabaseOptions options;
  options.create = false;
  GOVESB_ASSIGN_OR_RETURN(auto reader, store::Database::Open(path, options));
  return std::unique_ptr<SqliteDeliveryQueue>(new SqliteDeliveryQueue(std::move(reader), writer));
}

}  // namespace govesb::delivery
