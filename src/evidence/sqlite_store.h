#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "crypto/keys.h"
#include "evidence/log.h"
#include "evidence/store.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::evidence {

struct SqliteEvidenceOptions {
  // Where Archive writes archives and every read finds them ("": none; Archive is then
  // kFailedPrecondition and archived records are not read).
  std::string archive_dir;
  // A segment file is closed and the next one started once it holds this many bytes.
  uint64_t max_segment_bytes = uint64_t{64} << 20;
};

// The embedded evidence store (EvidenceStore): the records in append-only segment files beside
// the data directory's SQLite database, checkpoints, archives list and indexes in the database
// (records.h). It composes what already exists: EvidenceLog for appending (through the shared
// GroupCommitWriter, whose commit participant it is), sealing and indexing, and the free
// functions Verify, BuildProof, Search, QueryRecords, ArchiveSealed and ListCheckpoints on
// connections of its own.
//
// Connections and threads: every method is thread-safe. Append goes to the writer's thread and
// never blocks. Seal, IndexCommitted, IndexSealed and Archive take turns on one connection (the
// upkeep connection, under its mutex: the server's evidence thread calls them); Verify,
// BuildProof, Search, Query and Checkpoints take turns on another (the reading connection, under
// its own mutex: the admin layer's threads), so that a search never waits for a checkpoint
// round, nor a round for a long verification. SealAll first waits for every write submitted
// to the writer before it, then seals as Seal does.
//
// BuildProof, Search and Query return committed records only: the segment files are read up to
// the writer's durable_seq (a batch written but whose fdatasync or database COMMIT has not
// happened may still be cut off). A store opened for reading (another process) reads up to
// what the database recorded as committed (records.h ReadLimit).
//
// SQLite-specific and outside the port (left to the modules that share a write job with the
// evidence, see README.md): EvidenceLog::AppendInJob, used by the delivery queue (a push, its
// deliveries and their evidence in one commit) and the admin journal.
class SqliteEvidenceStore final : public EvidenceStore {
 public:
  // The bus's store over the database at `database_path` (migrated: MigrateEvidenceStore):
  // opens its two connections (synchronous=FULL, the file must exist) and the live log on
  // `writer` (EvidenceLog::Open: recovery of a torn end; it becomes the writer's commit
  // participant until this store is destroyed, which must happen before the writer is).
  // `signer` (the bus key) signs checkpoints and must outlive the store.
  static Result<std::unique_ptr<SqliteEvidenceStore>> Open(const std::string& database_path,
                                                           store::GroupCommitWriter& writer,
                                                           const crypto::Signer& signer,
                                                           SqliteEvidenceOptions options = {});
  // Without the writer: reading and Archive, on one connection of its own to `database_path`
  // (the CLI's `govesb audit`, running bus or not). Append calls done(kFailedPrecondition);
  // Seal, SealAll, IndexCommitted and IndexSealed are kFailedPrecondition.
  static Result<std::unique_ptr<SqliteEvidenceStore>> OpenForReading(
      const std::string& database_path, SqliteEvidenceOptions options = {});
  // The same on `db`, which the caller owns (it must outlive the store, and is used under the
  // store's one mutex: the caller must not use it on another thread meanwhile). For the admin
  // layer on its own connection when no store is given (the CLI, tests).
  static std::unique_ptr<SqliteEvidenceStore> OverConnection(store::Database& db,
                                                             SqliteEvidenceOptions options = {});

  ~SqliteEvidenceStore() override;
  SqliteEvidenceStore(const SqliteEvidenceStore&) = delete;
  SqliteEvidenceStore& operator=(const SqliteEvidenceStore&) = delete;

  void Append(PreparedRecords records, std::function<void(Status)> done) override;

  Status Seal(int64_t now_ms) override;
  Status SealAll(int64_t now_ms) override;
  Status IndexCommitted() override;
  Status IndexSealed() override;
  Result<ArchiveSummary> Archive(int64_t cutoff_ms) override;

  Result<VerifyReport> Verify(const crypto::KeySet& bus_keys) override;
  Result<std::string> BuildProof(std::string_view request_id,
                                 const crypto::KeySet& bus_keys) override;
  Result<SearchPage> Search(const SearchFilter& filter) override;
  Result<std::vector<std::string>> Query(const QueryFilter& filter) override;
  Result<std::vector<StoredCheckpoint>> Checkpoints(int64_t after = 0) override;
  LogProgress Progress() const override;

  // The live log (null when opened for reading): for the SQLite-specific callers and tests.
  EvidenceLog* log() { return log_.get(); }
  const std::string& archive_dir() const { return options_.archive_dir; }

 private:
  // One connection and the mutex its users take turns under.
  struct Connection {
    std::mutex mutex;
    std::unique_ptr<store::Database> owned;
    store::Database* db = nullptr;
  };

  explicit SqliteEvidenceStore(SqliteEvidenceOptions options);
  Status RequireLog() const;
  // How far the reads may read the live log (records.h ReadLimit): with the log (the bus's own
  // store), its durable_seq, exact; without it (another process: tools, the CLI), nullopt: what
  // the database recorded as committed.
  std::optional<int64_t> CommittedThrough() const;
  // Reads where sealing and indexing stand into the atomics below (on `db`, the upkeep
  // connection, under its mutex). A failed read keeps what they held.
  void RefreshProgress(store::Database& db);

  SqliteEvidenceOptions options_;
  Connection reading_;
  Connection upkeep_own_;
  Connection* upkeep_ = &upkeep_own_;           // &reading_ when there is one connection
  store::GroupCommitWriter* writer_ = nullptr;  // with log_
  std::unique_ptr<EvidenceLog> log_;
  std::atomic<int64_t> sealed_seq_{0};
  std::atomic<int64_t> indexed_seq_{0};
  std::atomic<int64_t> last_checkpoint_ms_{0};
};

}  // namespace govesb::evidence
