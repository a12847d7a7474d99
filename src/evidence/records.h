#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "evidence/merkle.h"
#include "evidence/store.h"
#include "store/database.h"

namespace govesb::evidence {

// How evidence records are kept (docs/evidence.md, "Storage"):
//
// - The live log: append-only segment files beside the database (segments.h), one entry per
//   append of consecutive records of one exchange (say the four steps of a synchronous call),
//   holding the records in their compact form (log.h, EncodeCompact; entries carried over
//   from the database's first layout hold canonical texts, one per line), the SHA-256 of each
//   record's canonical text (32 bytes each) and the chain value after the last of them. The
//   table evidence_index maps request ids to the entries of sealed records.
// - Archives: gzip files of JSON lines in the archive directory, each a contiguous run of
//   records covered by whole signed checkpoints, listed in `evidence_archives`.
//   Lines: a header {"format":"govesb-evidence-archive/1","firstSeq":…,"lastSeq":…,
//   "chainBefore":"<hex>"}, the records' canonical texts, the checkpoints that seal them
//   ({"checkpoint":…,"body":"…","signature":"…"}) and a trailer {"end":N,"chain":"<hex>"}.

inline constexpr std::string_view kArchiveFormat = "govesb-evidence-archive/1";

// One record as read back.
struct StoredRecord {
  int64_t seq = 0;
  std::string_view text;
  std::optional<Hash> stored_hash;    // the hash kept beside it (live log only)
  std::optional<Hash> chain_after;    // a chain value kept right after it, if any
  std::string_view filed_request_id;  // the request id its row is filed under (live log)
  bool live = false;                  // from the live log, not an archive
  std::string_view source;            // "the live log" or the archive's file name
};

// The checkpoints that end after record `after`, oldest first.
Result<std::vector<StoredCheckpoint>> ListCheckpoints(store::Database& db, int64_t after = 0);

// Called for each record in order; return false to stop early.
using RecordVisitor = std::function<Result<bool>(const StoredRecord&)>;

struct ArchiveInfo {
  int64_t id = 0;
  std::string file;  // name inside the archive directory
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int64_t first_at = 0;
  int64_t last_at = 0;
  std::string chain_hex;   // chain value after last_seq
  std::string sha256_hex;  // of the file as written
};

// Every archive the database lists, oldest first.
Result<std::vector<ArchiveInfo>> ListArchives(store::Database& db);

// The records of the live log with first <= seq <= last, in order (a row whose records
// straddle `first` is read whole and its earlier records skipped).
Status ForEachLiveRecord(store::Database& db, int64_t first, int64_t last,
                         const RecordVisitor& visit);

// How far the live log may be read: the segment files can hold entries past the last
// committed record, written by a batch whose fdatasync or database COMMIT has not happened
// yet, and which a failure then cuts off again (SegmentWriter). Readers that return records
// (search, query, proofs) stop at the committed point:
// - in the writer's own process, SegmentWriter::durable_seq (EvidenceLog::durable_seq): exact;
// - elsewhere, what the database recorded with its last commit (evidence_commit_state, kept by
//   SegmentWriter::BeforeCommit in every batch that writes the database), read in the
//   reader's transaction. It may lag: records of batches that wrote no database row are
//   counted at the next one that does (the bus's indexing writes one within about a second,
//   the seal at shutdown another), and after a crash at the first after the restart, once
//   recovery has decided what was committed.
// CommittedThrough reads the second; ReadLimit gives `given` when there is one, else that.
Result<int64_t> CommittedThrough(store::Database& db);
Result<int64_t> ReadLimit(store::Database& db, std::optional<int64_t> given);

// The live log's entries of exchange `request_id` (first and last record of each, in order):
// through the index (evidence_index) for the records it covers (only ever committed ones), by
// reading the segment files for the rest up to record `through` (the committed point: entries
// after it are not read).
Result<std::vector<std::pair<int64_t, int64_t>>> FindLiveExchange(store::Database& db,
                                                                  std::string_view request_id,
                                                                  int64_t through);

// The lines of one archive file, in order (each without its newline). kNotFound when the file
// is missing; kInternal when it is not a readable gzip file.
Status ForEachArchiveLine(const std::string& path,
                          const std::function<Result<bool>(std::string_view)>& visit);

// The records of one archive, in order, with the header's and trailer's chain values checked
// by the caller through StoredRecord::chain_after (set on the last record from the trailer).
// `chain_before` receives the header's chain value.
Status ForEachArchiveRecord(const std::string& path, Hash* chain_before,
                            const RecordVisitor& visit);

// Every record with first <= seq <= last: the archives (files in `archive_dir`) that hold
// part of the range, then the live log.
Status ForEachRecord(store::Database& db, const std::string& archive_dir, int64_t first,
                     int64_t last, const RecordVisitor& visit);

// The hashes of one row's records: 32-byte binary, or hex text (rows carried over from the
// one-row-per-record layout). nullopt when unreadable or not `count` of them.
std::optional<std::vector<Hash>> StoredHashes(std::string_view column, bool is_blob, size_t count);
std::optional<Hash> StoredHash(std::string_view column, bool is_blob);

// The default archive directory of a data directory.
std::string DefaultArchiveDir(const std::string& data_dir);

}  // namespace govesb::evidence
