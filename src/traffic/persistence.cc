#include "traffic/persistence.h"

#include <array>
#include <iterator>
#include <string>

namespace govesb::traffic {
namespace {

// "success = excluded.success, ..." for every column of internal::kSelectColumns past the key (the
// first five): an upsert that runs on SQLite and PostgreSQL alike (INSERT OR REPLACE does not).
std::string UpdateFromExcluded() {
  std::string out;
  std::string_view columns = internal::kSelectColumns;
  int index = 0;
  while (!columns.empty()) {
    size_t comma = columns.find(',');
    std::string_view column = columns.substr(0, comma);
    while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
    if (index++ >= 5) {
      if (!out.empty()) out += ", ";
      out += std::string(column) + " = excluded." + std::string(column);
    }
    columns = comma == std::string_view::npos ? std::string_view() : columns.substr(comma + 1);
  }
  return out;
}

}  // namespace

namespace {

constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE traffic_minutes (
  minute INTEGER NOT NULL,     -- minutes since the Unix epoch
  kind INTEGER NOT NULL,       -- 0 pull, 1 identity, 2 push, 3 async-answer
  code TEXT NOT NULL,          -- API or push code; '' unknown; '*other*' over the key cap
  consumer TEXT NOT NULL,      -- client_id; '' unknown
  provider TEXT NOT NULL,      -- client_id; '' unknown or none
  success INTEGER NOT NULL,
  provider_declined INTEGER NOT NULL,
  refused_auth INTEGER NOT NULL,
  refused_limit INTEGER NOT NULL,
  refused_invalid INTEGER NOT NULL,
  refused_other INTEGER NOT NULL,
  provider_failure INTEGER NOT NULL,
  provider_timeout INTEGER NOT NULL,
  bus_failure INTEGER NOT NULL,
  request_bytes INTEGER NOT NULL,
  response_bytes INTEGER NOT NULL,
  bus_us_sum INTEGER NOT NULL,
  provider_us_sum INTEGER NOT NULL,
  latency BLOB NOT NULL,       -- LatencyHistogram::Encode of the total time
  bus_time BLOB NOT NULL,
  provider_time BLOB NOT NULL,
  PRIMARY KEY (minute, kind, code, consumer, provider)
) WITHOUT ROWID;
)sql",
};

// The same version on PostgreSQL (cluster mode), with one more key column: the node that
// flushed the row. Several nodes flush the same minute and key; each adds to its own row (its
// flushes run one at a time), so none can overwrite another's counts, and the queries sum the
// rows of a key over nodes as they sum minutes. BIGINT counts, BYTEA histograms, no WITHOUT
// ROWID; key texts COLLATE "C" (byte order, as on SQLite).
constexpr std::string_view kPostgresMigrations[] = {
    R"sql(
CREATE TABLE traffic_minutes (
  minute BIGINT NOT NULL,
  kind BIGINT NOT NULL,
  code TEXT COLLATE "C" NOT NULL,
  consumer TEXT COLLATE "C" NOT NULL,
  provider TEXT COLLATE "C" NOT NULL,
  success BIGINT NOT NULL,
  provider_declined BIGINT NOT NULL,
  refused_auth BIGINT NOT NULL,
  refused_limit BIGINT NOT NULL,
  refused_invalid BIGINT NOT NULL,
  refused_other BIGINT NOT NULL,
  provider_failure BIGINT NOT NULL,
  provider_timeout BIGINT NOT NULL,
  bus_failure BIGINT NOT NULL,
  request_bytes BIGINT NOT NULL,
  response_bytes BIGINT NOT NULL,
  bus_us_sum BIGINT NOT NULL,
  provider_us_sum BIGINT NOT NULL,
  latency BYTEA NOT NULL,
  bus_time BYTEA NOT NULL,
  provider_time BYTEA NOT NULL,
  node TEXT COLLATE "C" NOT NULL DEFAULT '',  -- the node that flushed it (TrafficOptions::node)
  PRIMARY KEY (minute, kind, code, consumer, provider, node)
);
)sql",
};
static_assert(std::size(kMigrations) == std::size(kPostgresMigrations));

constexpr int64_t kMinuteMs = 60'000;

}  // namespace

Status MigrateTrafficStore(store::Database& db) {
  if (db.backend() == store::Backend::kPostgres) {
    return store::Migrate(db, "traffic", kPostgresMigrations);
  }
  return store::Migrate(db, "traffic", kMigrations);
}

namespace internal {

Result<MinuteRow> ReadRow(const store::Statement& s, bool histograms) {
  MinuteRow r;
  r.minute = s.ColumnInt64(0);
  const int64_t kind = s.ColumnInt64(1);
  if (kind < 0 || kind >= kKindCount) {
    return Internal("traffic_minutes holds a row of unknown kind " + std::to_string(kind));
  }
  r.kind = static_cast<Kind>(kind);
  r.code = s.ColumnText(2);
  r.consumer = s.ColumnText(3);
  r.provider = s.ColumnText(4);
  for (int i = 0; i < kOutcomeCount; ++i) {
    r.counts.by_outcome[i] = static_cast<uint64_t>(s.ColumnInt64(5 + i));
  }
  int c = 5 + kOutcomeCount;
  r.counts.request_bytes = static_cast<uint64_t>(s.ColumnInt64(c++));
  r.counts.response_bytes = static_cast<uint64_t>(s.ColumnInt64(c++));
  r.counts.bus_us_sum = static_cast<uint64_t>(s.ColumnInt64(c++));
  r.counts.provider_us_sum = static_cast<uint64_t>(s.ColumnInt64(c++));
  Status read = r.counts.latency.MergeEncoded(s.ColumnView(c++));
  if (read.ok() && histograms) read = r.counts.bus.MergeEncoded(s.ColumnView(c++));
  if (read.ok() && histograms) read = r.counts.provider.MergeEncoded(s.ColumnView(c++));
  if (!read.ok()) {
    return Internal("traffic_minutes: the row of minute " + std::to_string(r.minute) +
                    " and code '" + r.code + "' is damaged: " + read.message());
  }
  return r;
}

Status AddRows(store::Database& db, const std::vector<MinuteRow>& rows,
               int64_t delete_before_minute, std::string_view node) {
  // PostgreSQL: the node is the key's last column (bound after the others); SQLite: no node.
  const bool per_node = db.backend() == store::Backend::kPostgres;
  constexpr int kColumnCount = 21;  // in kSelectColumns
  GOVESB_ASSIGN_OR_RETURN(auto tx, store::Transaction::Begin(db));
  GOVESB_ASSIGN_OR_RETURN(
      auto select, db.Prepare("SELECT " + std::string(kSelectColumns) +
                              " FROM traffic_minutes WHERE minute = ? AND kind = ? AND code = ? "
                              "AND consumer = ? AND provider = ?" +
                              (per_node ? " AND node = ?" : "")));
  GOVESB_ASSIGN_OR_RETURN(
      auto write,
      db.Prepare("INSERT INTO traffic_minutes (" + std::string(kSelectColumns) +
                 (per_node ? ", node" : "") +
                 ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" +
                 (per_node ? ", ?" : "") + ") ON CONFLICT (minute, kind, code, consumer, provider" +
                 (per_node ? ", node" : "") + ") DO UPDATE SET " + UpdateFromExcluded()));
  for (const MinuteRow& row : rows) {
    auto bind_key = [&row, per_node, node](store::Statement& s, int node_index) -> Status {
      GOVESB_RETURN_IF_ERROR(s.Bind(1, row.minute));
      GOVESB_RETURN_IF_ERROR(s.Bind(2, static_cast<int64_t>(row.kind)));
      GOVESB_RETURN_IF_ERROR(s.Bind(3, row.code));
      GOVESB_RETURN_IF_ERROR(s.Bind(4, row.consumer));
      GOVESB_RETURN_IF_ERROR(s.Bind(5, row.provider));
      return per_node ? s.Bind(node_index, node) : Status::Ok();
    };
    GOVESB_RETURN_IF_ERROR(select.Reset());
    GOVESB_RETURN_IF_ERROR(bind_key(select, 6));
    GOVESB_ASSIGN_OR_RETURN(bool found, select.Step());
    Counts sum = row.counts;
    if (found) {
      GOVESB_ASSIGN_OR_RETURN(MinuteRow stored, ReadRow(select, true));
      sum.Merge(stored.counts);
    }
    GOVESB_RETURN_IF_ERROR(select.Reset());
    GOVESB_RETURN_IF_ERROR(write.Reset());
    GOVESB_RETURN_IF_ERROR(bind_key(write, kColumnCount + 1));
    int i = 6;
    for (uint64_t n : sum.by_outcome) {
      GOVESB_RETURN_IF_ERROR(write.Bind(i++, static_cast<int64_t>(n)));
    }
    for (uint64_t n :
         {sum.request_bytes, sum.response_bytes, sum.bus_us_sum, sum.provider_us_sum}) {
      GOVESB_RETURN_IF_ERROR(write.Bind(i++, static_cast<int64_t>(n)));
    }
    GOVESB_RETURN_IF_ERROR(write.BindBlob(i++, sum.latency.Encode()));
    GOVESB_RETURN_IF_ERROR(write.BindBlob(i++, sum.bus.Encode()));
    GOVESB_RETURN_IF_ERROR(write.BindBlob(i++, sum.provider.Encode()));
    GOVESB_RETURN_IF_ERROR(write.Run());
  }
  if (delete_before_minute >= 0) {
    GOVESB_ASSIGN_OR_RETURN(auto erase, db.Prepare("DELETE FROM traffic_minutes WHERE minute < ?"));
    GOVESB_RETURN_IF_ERROR(erase.Bind(1, delete_before_minute));
    GOVESB_RETURN_IF_ERROR(erase.Run());
  }
  return tx.Commit();
}

}  // namespace internal

Status TrafficCounters::Flush(store::Database& db) {
  std::lock_guard lock(flush_mutex_);
  if (options_.node.size() > kMaxNodeLength) {  // the counts stay in memory
    return InvalidArgument("a traffic node id is at most " + std::to_string(kMaxNodeLength) +
                           " bytes");
  }
  {
    std::lock_guard totals(totals_mutex_);
    in_flight_ = Take();
  }
  const int64_t now_minute = clock_.NowMillis() / kMinuteMs;
  // Old rows are deleted once a minute at most.
  int64_t delete_before = -1;
  if (options_.retention_days > 0 && now_minute != retention_done_minute_) {
    delete_before = now_minute - int64_t{options_.retention_days} * 24 * 60;
  }
  // in_flight_ is read here without the lock: only this flush changes it (under the lock, below),
  // and Totals only reads it.
  Status added = in_flight_.empty() && delete_before < 0
                     ? Status::Ok()
                     : internal::AddRows(db, in_flight_, delete_before, options_.node);
  {
    std::lock_guard totals(totals_mutex_);
    if (added.ok()) {
      for (const MinuteRow& r : in_flight_) {
        totals_[TotalsKey{r.kind, r.code, r.consumer, r.provider}].Merge(r.counts);
      }
    } else {
      Restore(std::move(in_flight_));  // nothing was committed: counted again by the next flush
    }
    in_flight_.clear();
  }
  if (!added.ok()) return added;
  if (delete_before >= 0) retention_done_minute_ = now_minute;
  return Status::Ok();
}

}  // namespace govesb::traffic
