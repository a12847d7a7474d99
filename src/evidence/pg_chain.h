#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "evidence/in_job.h"
#include "evidence/merkle.h"
#include "evidence/record.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::evidence {

// The evidence schema on PostgreSQL (cluster mode): component "evidence", as on SQLite, with
// its own migrations (MigrateEvidenceStore picks them for a PostgreSQL connection). One chain
// per node, all in one database:
//   evidence_records(node, seq) — one row per record: its canonical text (what is hashed),
//     its hash and the chain value after it (bytea), and the fields the reads filter on
//     (at_ms, request_id, kind, sender, receiver, code, user_id, outcome), with `pos`, a
//     database-wide number given at insertion (the order of reads across nodes). Indexed by
//     request_id, user_id (non-empty), at_ms and pos: the table's own indexes serve every read,
//     so there is nothing to index afterwards.
//   evidence_checkpoints(node, id) — each node's signed checkpoints (chain.h, CheckpointBody
//     with the node named in the signed body).
Status MigratePgEvidenceStore(store::Database& db);

// The appender of one node's chain on PostgreSQL: the group-commit writer's commit participant
// (set by its owner, PgEvidenceStore) and the seam (InJobAppender) through which write jobs
// append evidence in their own transaction. It numbers, hashes and chains the records and
// inserts their rows inside the job's transaction, so they commit with the job's other writes
// or not at all. Its tip (last number and chain value) follows the writer: a failed job rolls it
// back to the job's mark; a failed batch forgets it, and the next append reads it again from
// the database inside its transaction (a COMMIT whose outcome is unknown may have committed).
//
// One process appends to a node's chain: two with the same node id would collide on (node,
// seq) and their appends fail (fail closed), never fork the chain.
//
// Threading: everything but committed_seq() runs on the writer thread.
class PgChain final : public store::CommitParticipant, public InJobAppender {
 public:
  explicit PgChain(std::string node) : node_(std::move(node)) {}

  const std::string& node() const { return node_; }
  // The last record of the chain known to be committed (0 until the first commit after the
  // tip was read). Any thread.
  int64_t committed_seq() const { return committed_seq_.load(std::memory_order_acquire); }

  // InJobAppender.
  Status AppendInJob(store::WriteContext& ctx, const PreparedRecords& records) override;
  // Appends several appends' records (each exchange's own), in order, in one job.
  Status AppendAll(store::WriteContext& ctx, const std::vector<const PreparedRecords*>& appends);

  // store::CommitParticipant.
  void BeginBatch(bool with_database) override;
  uint64_t Mark() override;
  void RollbackTo(uint64_t mark) override;
  Status Flush() override { return Status::Ok(); }
  Status BeforeCommit(store::WriteContext&) override { return Status::Ok(); }
  void Committed() override;
  void Abandon() override;

 private:
  struct Tip {
    int64_t seq = 0;
    Hash chain{};
    bool known = false;  // false: read it from the database before appending
  };
  Status ReadTip(store::WriteContext& ctx);
  Status Insert(store::WriteContext& ctx, const PreparedRecords& records);

  const std::string node_;
  Tip tip_;
  std::vector<Tip> marks_;
  std::atomic<int64_t> committed_seq_{0};
};

}  // namespace govesb::evidence
