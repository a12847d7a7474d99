#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "evidence/append_batcher.h"
#include "evidence/merkle.h"
#include "evidence/record.h"
#include "evidence/segments.h"
#include "evidence/store.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::evidence {

// Creates or updates the evidence tables (component "evidence" in schema_versions): on a
// PostgreSQL connection, the cluster's schema (pg_chain.h, MigratePgEvidenceStore).
Status MigrateEvidenceStore(store::Database& db);

namespace internal {
// What indexing has read of the records after the last checkpoint: their Merkle range and the
// chain value after them. A checkpoint (EvidenceLog::CheckpointFrom) starts from it and reads
// from the files only the records committed since the last indexing pass, so that the files'
// older pages are not read again and can leave the page cache.
struct SealProgress {
  int64_t after = -1;   // the last checkpoint's last record (-1: not known yet)
  int64_t through = 0;  // the last record in `range`
  MerkleRange range;
  Hash chain{};
};
}  // namespace internal

// The append-only, hash-chained log of evidence records, with signed Merkle checkpoints:
//   record_hash(n) = SHA-256(canonical text of record n)
//   chain(n)       = SHA-256(chain(n-1) || record_hash(n)),  chain(0) = 32 zero bytes
// and every checkpoint signs, with the bus key, the Merkle root (RFC 9162) of the record
// hashes it covers, the chain value at its last record and the hash of the checkpoint before
// it. The records are kept in append-only segment files (segments.h), written by the shared
// GroupCommitWriter's thread as its commit participant: one write and one fdatasync per group
// commit, just before the database's COMMIT, so that a write job's evidence and its database
// rows (a push and its deliveries) are durable, or undone, together.
class EvidenceLog {
 public:
  // Opens the live log of the database `db` (its segment files beside it, segments.h) and
  // makes it the writer's commit participant, until destroyed. Fails when the log's end is
  // damaged where a checkpoint seals it (see SegmentWriter::Open). A segment file is closed
  // and the next one started once it holds `max_segment_bytes`.
  static Result<std::unique_ptr<EvidenceLog>> Open(store::Database& db,
                                                   store::GroupCommitWriter& writer,
                                                   const crypto::Signer& signer,
                                                   uint64_t max_segment_bytes = uint64_t{64} << 20);
  ~EvidenceLog();
  EvidenceLog(const EvidenceLog&) = delete;
  EvidenceLog& operator=(const EvidenceLog&) = delete;

  // Appends records (in order, consecutive) and calls `done` once they are durable, or with
  // the error that kept them from being (then none of them was written). Thread-safe.
  // Appends made while the writer is busy are gathered into one write job (one savepoint,
  // one pass), which then succeeds or fails for all of them.
  void Append(std::vector<Record> records, std::function<void(Status)> done);
  void Append(PreparedRecords records, std::function<void(Status)> done);

  // The same inside another write job (so that, say, a push and its evidence are stored in
  // one transaction: both or neither). Call on the writer thread, from the job. The writer's
  // commit participant takes them: the embedded log's SegmentWriter directly, else one that is
  // an InJobAppender (in_job.h: PostgreSQL's chain); kFailedPrecondition when there is none.
  static Status AppendInJob(store::WriteContext& ctx, const std::vector<Record>& records);
  static Status AppendInJob(store::WriteContext& ctx, const PreparedRecords& records);

  // Seals the records written since the last checkpoint (nothing when there are none), as a
  // write job: after every write submitted before it (shutdown, tests).
  void Checkpoint(int64_t now_ms, std::function<void(Status)> done);
  // The same with the reading (the records since the last checkpoint: a minute of traffic) and
  // the signing done here, on `reader` (another connection to the database), so that the
  // writer only stores the result and commits are not held up. Blocks until it is stored.
  // Records committed after the snapshot wait for the next checkpoint. Of the records that
  // indexing (IndexCommitted) has read since the last checkpoint, only their Merkle range is
  // used: the files are read from where indexing stopped.
  Status CheckpointFrom(store::Database& reader, int64_t now_ms);

  // Adds the records sealed so far and not indexed yet to the indexes: evidence_index (request
  // ids: what `audit prove` and `audit query --request-id` look up), evidence_user_index and
  // evidence_blocks (search.h), reading them on this thread and storing them through the
  // writer in jobs of `chunk` entries. Blocks until stored. The jobs are rebuildable
  // (GroupCommitWriter::Writes::kRebuildable): their commits do not wait for the disk, for
  // rows and state lost with the machine's power are made again from the files.
  Status IndexSealed(store::Database& reader, size_t chunk = kIndexChunk);
  // The same for every record committed so far (durable: SegmentWriter::durable_seq), sealed or
  // not, so that a search reads from the files only what was written since (the server calls
  // it every second). Safe for records not sealed yet: recovery never drops a committed record
  // but when the files were damaged, and Open then removes the index rows past the log's end.
  // Each pass also adds the records it reads to the next checkpoint's Merkle range, and then
  // drops the pages of the files behind them from the page cache, but for the last
  // kCachedTail bytes (ReleaseCachedPages).
  Status IndexCommitted(store::Database& reader, size_t chunk = kIndexChunk);

  // Entries per indexing job. A job holds the writer, and with it the commits of the exchanges
  // queued behind it, while it inserts its rows. Measured at half load on a pinned bus
  // (docs/performance.md): jobs of 2048 entries, a second of traffic, held the writer for up to
  // 8.7 ms each, and 10-12 ms when they still synced; jobs of 256, for 0.36 ms at the median.
  static constexpr size_t kIndexChunk = 256;

  // Any thread: the last record whose batch is durable and committed (SegmentWriter::
  // durable_seq). The segment files may hold more, being written: readers in this process stop
  // here (records.h ReadLimit).
  int64_t durable_seq() const { return segments_->durable_seq(); }

 private:
  EvidenceLog(store::GroupCommitWriter& writer, const crypto::Signer& signer,
              std::unique_ptr<SegmentWriter> segments);
  // Indexes the records not indexed yet: the sealed ones, or all the committed ones.
  Status IndexThrough(store::Database& reader, size_t chunk, bool committed);
  // On opening: the index rows of records past the log's tip (cut off by recovery after they
  // were indexed, when they were committed but not sealed) are removed, and where indexing
  // stands is moved back, in one durable write job, before anything is appended.
  Status ForgetIndexPastTip(store::Database& db);

  // The segment files' pages up to the end of the entry ending at `end` in the file `segment`
  // (and all of the files before it) are read again only by an operator's query: they are
  // dropped from the page cache, but for the last kCachedTail bytes. An append-only file
  // otherwise keeps taking new pages, which on a VM whose free memory goes back to the host
  // costs the writer a fault to the hypervisor on each (docs/performance.md). Best effort.
  void ReleaseCachedPages(int64_t segment, uint64_t end);
  static constexpr uint64_t kCachedTail = uint64_t{1} << 20;

  store::GroupCommitWriter& writer_;
  const crypto::Signer& signer_;
  std::unique_ptr<SegmentWriter> segments_;
  // Where CheckpointFrom and IndexSealed stopped reading: each comes back for what follows.
  std::mutex reading_mutex_;
  EntryCursor seal_cursor_;
  EntryCursor index_cursor_;
  internal::SealProgress progress_;
  // How far pages were released: a file and the offset before which its pages were dropped.
  struct Released {
    int64_t segment = 0;
    uint64_t offset = 0;
  } released_;
  internal::AppendBatcher batcher_;
};

// Checks every record's hash, every chain link, the numbering, every checkpoint's Merkle
// root, chain value, predecessor and signature (against `bus_key`). Stops at the first
// problem and says where it is.
// Archived records are read from `archive_dir` (see records.h); the chain runs from the first
// archive through the live log.
Result<VerifyReport> Verify(store::Database& db, const crypto::KeySet& bus_keys,
                            const std::string& archive_dir = "");

}  // namespace govesb::evidence
