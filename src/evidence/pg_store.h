#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "evidence/append_batcher.h"
#include "evidence/pg_chain.h"
#include "evidence/store.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::evidence {

struct PgEvidenceOptions {
  // The chain this process appends to and seals (1 to 64 of A-Z a-z 0-9 . _ -). Every node of
  // a cluster has its own; two processes must never share one (their appends would fail).
  std::string node_id;
  store::PostgresOptions postgres;
};

// The cluster's evidence store (EvidenceStore) on PostgreSQL (pg_chain.h for the schema): one
// hash chain per node in one database, each sealed by its node's signed checkpoints. This
// process appends to and seals its own node's chain; it reads every node's.
//
// Appends are write jobs on the shared GroupCommitWriter (which must run on a PostgreSQL
// connection: GroupCommitWriter::Start), whose commit participant the store's PgChain is until
// the store is destroyed (before the writer): an append is done(Ok) once its rows are
// committed in PostgreSQL, and fails closed otherwise. Appends made while the writer is busy
// are gathered into one job. Other modules' jobs append through EvidenceLog::AppendInJob (the
// in-job seam).
//
// Reads (Verify, BuildProof, Search, Query, Checkpoints) cover every node's chain; orders
// across nodes follow `pos`, the number the database gives each row as it is inserted (within
// a node, the chain's order): Search newest first, Query oldest first; a search cursor is
// "pg<pos>". A proof names the node of each record and checkpoint. Checkpoints lists this
// node's. IndexCommitted and IndexSealed do nothing: the table's own indexes (request id, user
// id, time) serve every read as soon as a record is committed. Archive is kFailedPrecondition:
// PostgreSQL keeps its records (partitioning and retention are the operator's).
//
// Connections and threads: every method is thread-safe. Seal reads and signs on the upkeep
// connection (under its mutex), off the writer thread; the reads take turns on the reading
// connection (under its own mutex).
class PgEvidenceStore final : public EvidenceStore {
 public:
  // The bus's store on node `options.node_id` (the database migrated: MigrateEvidenceStore),
  // with connections of its own to `conninfo` for sealing and reading. `writer` and `signer`
  // must outlive the store. kInvalidArgument for a bad node id.
  static Result<std::unique_ptr<PgEvidenceStore>> Open(const std::string& conninfo,
                                                       store::GroupCommitWriter& writer,
                                                       const crypto::Signer& signer,
                                                       PgEvidenceOptions options);
  // Reading only (tools: `govesb audit`): Append calls done(kFailedPrecondition); Seal, SealAll,
  // IndexCommitted and IndexSealed are kFailedPrecondition.
  static Result<std::unique_ptr<PgEvidenceStore>> OpenForReading(
      const std::string& conninfo, store::PostgresOptions postgres = {});

  ~PgEvidenceStore() override;
  PgEvidenceStore(const PgEvidenceStore&) = delete;
  PgEvidenceStore& operator=(const PgEvidenceStore&) = delete;

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

  // "" when opened for reading.
  const std::string& node_id() const { return node_id_; }

 private:
  struct Connection {
    std::mutex mutex;
    std::unique_ptr<store::Database> db;
  };
  PgEvidenceStore() = default;
  Status RequireChain() const;
  Status SealChain(int64_t now_ms);
  // Reads this node's last checkpoint into the atomics below (on the upkeep connection).
  void RefreshProgress();

  std::string node_id_;
  Connection reading_;
  Connection upkeep_;
  store::GroupCommitWriter* writer_ = nullptr;  // with chain_
  const crypto::Signer* signer_ = nullptr;
  std::unique_ptr<PgChain> chain_;
  internal::AppendBatcher batcher_;
  std::atomic<int64_t> sealed_seq_{0};
  std::atomic<int64_t> last_checkpoint_ms_{0};
};

// Checks every node's chain (VerifyReport::node names the chain of the first problem; the
// counts are over all chains), on `db` (PostgreSQL), in one snapshot.
Result<VerifyReport> VerifyAllChains(store::Database& db, const crypto::KeySet& bus_keys);

// One node's chain as VerifyEachChain found it (report.node is the node too).
struct NodeChainReport {
  std::string node;
  VerifyReport report;
};
// Every node's chain checked on its own, each to its end or its first problem, in one snapshot,
// by node id (`govesb audit verify --postgres` reports them one by one). Empty for a log
// without records or checkpoints.
Result<std::vector<NodeChainReport>> VerifyEachChain(store::Database& db,
                                                     const crypto::KeySet& bus_keys);
// The verdict over all chains, as VerifyAllChains gives it: the counts summed, the first broken
// chain's problem (prefixed with its node) when there is one.
VerifyReport CombineChains(const std::vector<NodeChainReport>& chains);

}  // namespace govesb::evidence
