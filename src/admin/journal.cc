#include "admin/journal.h"

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "base/encoding.h"
#include "crypto/primitives.h"

namespace govesb::admin {
namespace {

namespace json = boost::json;

// Migration 1 of component "admin". Never edit a released migration; append.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE admin_actions (
  id                 INTEGER PRIMARY KEY,
  request_id         TEXT    NOT NULL UNIQUE,
  at_ms              INTEGER NOT NULL,
  account            TEXT    NOT NULL,
  role               TEXT    NOT NULL,
  institution        TEXT    NOT NULL,
  address            TEXT    NOT NULL,
  via                TEXT    NOT NULL,
  action             TEXT    NOT NULL,
  object             TEXT    NOT NULL,
  object_institution TEXT    NOT NULL,
  detail             TEXT    NOT NULL,
  detail_sha256      TEXT    NOT NULL,
  evidenced          INTEGER NOT NULL DEFAULT 0 CHECK (evidenced IN (0, 1))
);
CREATE INDEX admin_actions_pending ON admin_actions(id) WHERE evidenced = 0;
CREATE INDEX admin_actions_by_account ON admin_actions(account, id);
CREATE INDEX admin_actions_by_object ON admin_actions(object, id);
)sql";
constexpr std::array<std::string_view, 1> kMigrations = {kSchemaV1};

constexpr std::string_view kColumns =
    "id, request_id, at_ms, account, role, institution, address, via, action, object, "
    "object_institution, detail, detail_sha256, evidenced";

ActionRecord ReadRow(const store::Statement& st) {
  ActionRecord r;
  r.id = st.ColumnInt64(0);
  r.request_id = st.ColumnText(1);
  r.at_ms = st.ColumnInt64(2);
  r.account = st.ColumnText(3);
  r.role = st.ColumnText(4);
  r.institution = st.ColumnText(5);
  r.address = st.ColumnText(6);
  r.via = st.ColumnText(7);
  r.action = st.ColumnText(8);
  r.object = st.ColumnText(9);
  r.object_institution = st.ColumnText(10);
  r.detail = st.ColumnText(11);
  r.detail_sha256 = st.ColumnText(12);
  r.evidenced = st.ColumnInt64(13) != 0;
  return r;
}

}  // namespace

Status MigrateAdminStore(store::Database& db) { return store::Migrate(db, "admin", kMigrations); }

Result<ActionRecord> RecordAction(store::Database& db, const Actor& actor, int64_t at_ms,
                                  const Change& change) {
  ActionRecord r;
  r.request_id = crypto::NewRequestId();
  r.at_ms = at_ms;
  r.account = actor.account;
  r.role = std::string(actor.RecordedRole());
  r.institution = actor.institution;
  r.address = actor.address;
  r.via = actor.via;
  r.action = std::string(change.action);
  r.object = std::string(change.object);
  r.object_institution = std::string(change.object_institution);
  // Members in a fixed order: the text is what is hashed.
  json::object detail;
  detail["requestId"] = r.request_id;
  detail["at"] = r.at_ms;
  detail["account"] = r.account;
  detail["role"] = r.role;
  detail["institution"] = r.institution;
  detail["address"] = r.address;
  detail["via"] = r.via;
  detail["action"] = r.action;
  detail["object"] = r.object;
  detail["objectInstitution"] = r.object_institution;
  detail["before"] = change.before;
  detail["after"] = change.after;
  r.detail = json::serialize(detail);
  r.detail_sha256 = HexEncode(crypto::Sha256(r.detail));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("INSERT INTO admin_actions(request_id, at_ms, account, role, institution, "
                 "address, via, action, object, object_institution, detail, detail_sha256) "
                 "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, r.request_id));
  GOVESB_RETURN_IF_ERROR(st.Bind(2, r.at_ms));
  GOVESB_RETURN_IF_ERROR(st.Bind(3, r.account));
  GOVESB_RETURN_IF_ERROR(st.Bind(4, r.role));
  GOVESB_RETURN_IF_ERROR(st.Bind(5, r.institution));
  GOVESB_RETURN_IF_ERROR(st.Bind(6, r.address));
  GOVESB_RETURN_IF_ERROR(st.Bind(7, r.via));
  GOVESB_RETURN_IF_ERROR(st.Bind(8, r.action));
  GOVESB_RETURN_IF_ERROR(st.Bind(9, r.object));
  GOVESB_RETURN_IF_ERROR(st.Bind(10, r.object_institution));
  GOVESB_RETURN_IF_ERROR(st.Bind(11, r.detail));
  GOVESB_RETURN_IF_ERROR(st.Bind(12, r.detail_sha256));
  GOVESB_ASSIGN_OR_RETURN(bool inserted, st.Step());
  if (!inserted) return Internal("the admin action got no id");
  r.id = st.ColumnInt64(0);
  GOVESB_RETURN_IF_ERROR(st.Reset());
  return r;
}

Result<std::vector<ActionRecord>> ListActions(store::Database& db, const ActionFilter& filter) {
  if (filter.limit == 0 || filter.limit > 1000) {
    return InvalidArgument("limit must be 1 to 1000");
  }
  std::string sql = "SELECT " + std::string(kColumns) +
                    " FROM admin_actions WHERE at_ms >= ? AND at_ms < ? AND (? = 0 OR id < ?)"
                    " AND (? = '' OR account = ?) AND (? = '' OR action = ?)"
                    " AND (? = '' OR institution = ? OR object_institution = ?)";
  const bool object_prefix = !filter.object.empty() && filter.object.back() == ':';
  if (object_prefix) {
    sql += " AND substr(object, 1, length(?)) = ?";
  } else {
    sql += " AND (? = '' OR object = ?)";
  }
  sql += " ORDER BY id DESC LIMIT ?";
  GOVESB_ASSIGN_OR_RETURN(store::Statement st, db.Prepare(sql));
  int i = 0;
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.from_ms));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.to_ms));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.before_id));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.before_id));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.account));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.account));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.action));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.action));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.institution));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.institution));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.institution));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.object));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, filter.object));
  GOVESB_RETURN_IF_ERROR(st.Bind(++i, static_cast<int64_t>(filter.limit)));
  std::vector<ActionRecord> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadRow(st));
  }
  return out;
}

evidence::Record EvidenceRecordOf(const ActionRecord& action) {
  evidence::Record r;
  r.at_ms = action.at_ms;
  r.request_id = action.request_id;
  r.kind = "admin";
  r.from = action.account;
  r.to = action.object;
  r.code = action.action;
  r.outcome = "ok";
  r.size = static_cast<int64_t>(action.detail.size());
  r.body_sha256 = action.detail_sha256;
  return r;
}

Result<size_t> MoveActionsIntoEvidence(store::WriteContext& ctx, size_t limit) {
  static constexpr std::string_view kPending =
      "SELECT id, request_id, at_ms, account, role, institution, address, via, action, object, "
      "object_institution, detail, detail_sha256, evidenced FROM admin_actions "
      "WHERE evidenced = 0 ORDER BY id LIMIT ?";
  static constexpr std::string_view kMark = "UPDATE admin_actions SET evidenced = 1 WHERE id = ?";
  GOVESB_ASSIGN_OR_RETURN(store::Statement * pending, ctx.Prepared(kPending));
  GOVESB_RETURN_IF_ERROR(pending->Bind(1, static_cast<int64_t>(limit)));
  std::vector<ActionRecord> actions;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, pending->Step());
    if (!row) break;
    actions.push_back(ReadRow(*pending));
  }
  GOVESB_RETURN_IF_ERROR(pending->Reset());
  if (actions.empty()) return size_t{0};
  std::vector<evidence::Record> records;
  records.reserve(actions.size());
  for (const ActionRecord& a : actions) records.push_back(EvidenceRecordOf(a));
  GOVESB_RETURN_IF_ERROR(evidence::EvidenceLog::AppendInJob(ctx, records));
  GOVESB_ASSIGN_OR_RETURN(store::Statement * mark, ctx.Prepared(kMark));
  for (const ActionRecord& a : actions) {
    GOVESB_RETURN_IF_ERROR(mark->Bind(1, a.id));
    GOVESB_RETURN_IF_ERROR(mark->Run());
    GOVESB_RETURN_IF_ERROR(mark->Reset());
  }
  return actions.size();
}

Result<int64_t> PendingActionCount(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db.Prepare("SELECT count(*) FROM admin_actions WHERE evidenced = 0"));
  GOVESB_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt64(0) : int64_t{0};
}

}  // namespace govesb::admin
