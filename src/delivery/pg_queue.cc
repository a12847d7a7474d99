#include "delivery/pg_queue.h"

namespace govesb::delivery {
namespace {

Status CheckLeaseNames(std::string_view lane, std::string_view node) {
  if (lane.empty() || lane.size() > SqlDeliveryQueue::kMaxLaneBytes) {
    return InvalidArgument("a lane is 1 to " + std::to_string(SqlDeliveryQueue::kMaxLaneBytes) +
                           " bytes long");
  }
  if (node.empty() || node.size() > PgDeliveryQueue::kMaxNodeBytes) {
    return InvalidArgument("a node id is 1 to " + std::to_string(PgDeliveryQueue::kMaxNodeBytes) +
                           " bytes long");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<PgDeliveryQueue>> PgDeliveryQueue::Open(const std::string& conninfo,
                                                               store::GroupCommitWriter& writer) {
  GOVESB_ASSIGN_OR_RETURN(auto connection, store::Database::OpenPostgres(conninfo));
  return std::unique_ptr<PgDeliveryQueue>(new PgDeliveryQueue(std::move(connection), writer));
}

Result<bool> PgDeliveryQueue::TryLease(std::string_view lane, std::string_view node, int64_t now_ms,
                                       int64_t until_ms) {
  GOVESB_RETURN_IF_ERROR(CheckLeaseNames(lane, node));
  if (until_ms <= now_ms) return InvalidArgument("a lease must end after now");
  auto [lock, db] = Connection();
  // One statement: the row is inserted, or updated only where the condition holds (its own
  // lease, or an expired one); two nodes racing for the same lane serialize on its row.
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("INSERT INTO lane_leases(lane, node, until_ms) VALUES(?, ?, ?)"
                 " ON CONFLICT (lane) DO UPDATE SET node = excluded.node,"
                 " until_ms = excluded.until_ms"
                 " WHERE lane_leases.node = excluded.node OR lane_leases.until_ms < ?"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, lane));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, node));
  GOVESB_RETURN_IF_ERROR(s.Bind(3, until_ms));
  GOVESB_RETURN_IF_ERROR(s.Bind(4, now_ms));
  GOVESB_RETURN_IF_ERROR(s.Run());
  return db.Changes() == 1;
}

Status PgDeliveryQueue::ReleaseLease(std::string_view lane, std::string_view node) {
  GOVESB_RETURN_IF_ERROR(CheckLeaseNames(lane, node));
  auto [lock, db] = Connection();
  GOVESB_ASSIGN_OR_RETURN(store::Statement s,
                          db.Prepare("DELETE FROM lane_leases WHERE lane = ? AND node = ?"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, lane));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, node));
  return s.Run();
}

}  // namespace govesb::delivery
