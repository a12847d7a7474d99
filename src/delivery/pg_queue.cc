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

Result<int64_t> PgDeliveryQueue::RenewLeases(std::string_view node, int64_t now_ms,
                                             int64_t until_ms) {
  if (node.empty() || node.size() > kMaxNodeBytes) return InvalidArgument("a node id is needed");
  if (until_ms <= now_ms) return InvalidArgument("a lease must end after now");
  auto [lock, db] = Connection();
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("UPDATE lane_leases SET until_ms = ? WHERE node = ? AND until_ms >= ?"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, until_ms));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, node));
  GOVESB_RETURN_IF_ERROR(s.Bind(3, now_ms));
  GOVESB_RETURN_IF_ERROR(s.Run());
  return db.Changes();
}

Result<std::vector<std::string>> PgDeliveryQueue::LanesWithPendingWork(int64_t now_ms,
                                                                       size_t limit) {
  auto [lock, db] = Connection();
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT d.lane FROM deliveries d WHERE d.state = 'pending'"
                 " AND d.next_attempt_at <= ?1 AND NOT EXISTS (SELECT 1 FROM lane_leases l"
                 " WHERE l.lane = d.lane AND l.until_ms >= ?1)"
                 " GROUP BY d.lane ORDER BY min(d.id) LIMIT ?2"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, now_ms));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, static_cast<int64_t>(limit)));
  std::vector<std::string> lanes;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    lanes.push_back(s.ColumnText(0));
  }
  return lanes;
}

}  // namespace govesb::delivery
