#include "evidence/sqlite_store.h"

#include <spdlog/spdlog.h>

#include <future>
#include <utility>

#include "evidence/archive.h"
#include "evidence/chain.h"
#include "evidence/proof.h"
#include "evidence/query.h"
#include "evidence/records.h"
#include "evidence/search.h"

namespace govesb::evidence {

namespace {

Result<std::unique_ptr<store::Database>> OpenConnection(const std::string& path) {
  store::DatabaseOptions own;
  own.create = false;
  own.synchronous = store::Synchronous::kFull;
  own.busy_timeout_ms = 5000;
  return store::Database::Open(path, own);
}

}  // namespace

SqliteEvidenceStore::SqliteEvidenceStore(SqliteEvidenceOptions options)
    : options_(std::move(options)) {}

SqliteEvidenceStore::~SqliteEvidenceStore() = default;

Result<std::unique_ptr<SqliteEvidenceStore>> SqliteEvidenceStore::Open(
    const std::string& database_path, store::GroupCommitWriter& writer,
    const crypto::Signer& signer, SqliteEvidenceOptions options) {
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteEvidenceStore> s,
                          OpenForReading(database_path, std::move(options)));
  GOVESB_ASSIGN_OR_RETURN(s->upkeep_own_.owned, OpenConnection(database_path));
  s->upkeep_own_.db = s->upkeep_own_.owned.get();
  s->upkeep_ = &s->upkeep_own_;
  s->writer_ = &writer;
  GOVESB_ASSIGN_OR_RETURN(
      s->log_, EvidenceLog::Open(*s->upkeep_->db, writer, signer, s->options_.max_segment_bytes));
  s->RefreshProgress(*s->upkeep_->db);
  return s;
}

Result<std::unique_ptr<SqliteEvidenceStore>> SqliteEvidenceStore::OpenForReading(
    const std::string& database_path, SqliteEvidenceOptions options) {
  std::unique_ptr<SqliteEvidenceStore> s(new SqliteEvidenceStore(std::move(options)));
  GOVESB_ASSIGN_OR_RETURN(s->reading_.owned, OpenConnection(database_path));
  s->reading_.db = s->reading_.owned.get();
  s->upkeep_ = &s->reading_;
  return s;
}

std::unique_ptr<SqliteEvidenceStore> SqliteEvidenceStore::OverConnection(
    store::Database& db, SqliteEvidenceOptions options) {
  std::unique_ptr<SqliteEvidenceStore> s(new SqliteEvidenceStore(std::move(options)));
  s->reading_.db = &db;
  s->upkeep_ = &s->reading_;
  return s;
}

Status SqliteEvidenceStore::RequireLog() const {
  if (log_ == nullptr) return FailedPrecondition("this evidence store is open for reading only");
  return Status::Ok();
}

std::optional<int64_t> SqliteEvidenceStore::CommittedThrough() const {
  if (log_ == nullptr) return std::nullopt;
  return log_->durable_seq();
}

void SqliteEvidenceStore::Append(PreparedRecords records, std::function<void(Status)> done) {
  if (log_ == nullptr) {
    if (done) done(RequireLog());
    return;
  }
  log_->Append(std::move(records), std::move(done));
}

Status SqliteEvidenceStore::Seal(int64_t now_ms) {
  GOVESB_RETURN_IF_ERROR(RequireLog());
  std::lock_guard lock(upkeep_->mutex);
  Status sealed = log_->CheckpointFrom(*upkeep_->db, now_ms);
  RefreshProgress(*upkeep_->db);
  return sealed;
}

Status SqliteEvidenceStore::SealAll(int64_t now_ms) {
  GOVESB_RETURN_IF_ERROR(RequireLog());
  // First a barrier: an empty job whose `done` comes once every write submitted before it
  // (appends, and other modules' jobs with evidence in them) is committed. A checkpoint job
  // alone is not enough: it seals what is durable when it runs, and writes of its own batch
  // are not yet.
  std::promise<Status> drained;
  writer_->Submit([](store::WriteContext&) { return Status::Ok(); },
                  [&drained](const Status& s) { drained.set_value(s); },
                  store::GroupCommitWriter::Writes::kParticipantOnly);
  GOVESB_RETURN_IF_ERROR(drained.get_future().get());
  // Then as Seal does: everything before the barrier is durable now, and the checkpoint starts
  // where the last indexing pass stopped instead of reading the files from the last checkpoint
  // (whose pages indexing has dropped from the page cache).
  std::lock_guard lock(upkeep_->mutex);
  Status stored = log_->CheckpointFrom(*upkeep_->db, now_ms);
  RefreshProgress(*upkeep_->db);
  return stored;
}

Status SqliteEvidenceStore::IndexCommitted() {
  GOVESB_RETURN_IF_ERROR(RequireLog());
  std::lock_guard lock(upkeep_->mutex);
  Status indexed = log_->IndexCommitted(*upkeep_->db);
  RefreshProgress(*upkeep_->db);
  return indexed;
}

Status SqliteEvidenceStore::IndexSealed() {
  GOVESB_RETURN_IF_ERROR(RequireLog());
  std::lock_guard lock(upkeep_->mutex);
  Status indexed = log_->IndexSealed(*upkeep_->db);
  RefreshProgress(*upkeep_->db);
  return indexed;
}

LogProgress SqliteEvidenceStore::Progress() const {
  LogProgress p;
  if (log_ == nullptr) return p;
  p.committed_seq = log_->durable_seq();
  p.sealed_seq = sealed_seq_.load(std::memory_order_relaxed);
  p.indexed_seq = indexed_seq_.load(std::memory_order_relaxed);
  p.last_checkpoint_ms = last_checkpoint_ms_.load(std::memory_order_relaxed);
  return p;
}

void SqliteEvidenceStore::RefreshProgress(store::Database& db) {
  auto read = [&]() -> Status {
    GOVESB_ASSIGN_OR_RETURN(store::Transaction txn,
                            store::Transaction::Begin(db, store::TransactionMode::kDeferred));
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement last,
        db.Prepare("SELECT last_seq, body FROM evidence_checkpoints ORDER BY id DESC LIMIT 1"));
    GOVESB_ASSIGN_OR_RETURN(bool sealed, last.Step());
    if (sealed) {
      sealed_seq_.store(last.ColumnInt64(0), std::memory_order_relaxed);
      last_checkpoint_ms_.store(CheckpointTime(last.ColumnText(1)), std::memory_order_relaxed);
    }
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement index,
        db.Prepare("SELECT indexed_through FROM evidence_index_state WHERE id = 1"));
    GOVESB_ASSIGN_OR_RETURN(bool indexed, index.Step());
    if (indexed) indexed_seq_.store(index.ColumnInt64(0), std::memory_order_relaxed);
    return Status::Ok();
  };
  if (Status s = read(); !s.ok()) {
    spdlog::debug("evidence: where the log stands was not read: {}", s.message());
  }
}

Result<ArchiveSummary> SqliteEvidenceStore::Archive(int64_t cutoff_ms) {
  if (options_.archive_dir.empty()) {
    return FailedPrecondition("no archive directory is set for the evidence log");
  }
  ArchiveOptions archive;
  archive.archive_dir = options_.archive_dir;
  archive.cutoff_ms = cutoff_ms;
  std::lock_guard lock(upkeep_->mutex);
  return ArchiveSealed(*upkeep_->db, archive);
}

Result<VerifyReport> SqliteEvidenceStore::Verify(const crypto::KeySet& bus_keys) {
  std::lock_guard lock(reading_.mutex);
  return evidence::Verify(*reading_.db, bus_keys, options_.archive_dir);
}

Result<std::string> SqliteEvidenceStore::BuildProof(std::string_view request_id,
                                                    const crypto::KeySet& bus_keys) {
  std::lock_guard lock(reading_.mutex);
  return evidence::BuildProof(*reading_.db, request_id, bus_keys, options_.archive_dir,
                              CommittedThrough());
}

Result<SearchPage> SqliteEvidenceStore::Search(const SearchFilter& filter) {
  std::lock_guard lock(reading_.mutex);
  return evidence::Search(*reading_.db, filter, options_.archive_dir, CommittedThrough());
}

Result<std::vector<std::string>> SqliteEvidenceStore::Query(const QueryFilter& filter) {
  std::lock_guard lock(reading_.mutex);
  return QueryRecords(*reading_.db, filter, options_.archive_dir, CommittedThrough());
}

Result<std::vector<StoredCheckpoint>> SqliteEvidenceStore::Checkpoints(int64_t after) {
  std::lock_guard lock(reading_.mutex);
  return ListCheckpoints(*reading_.db, after);
}

}  // namespace govesb::evidence
