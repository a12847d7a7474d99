#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "evidence/files.h"
#include "evidence/merkle.h"
#include "store/group_commit.h"

namespace govesb::evidence {

// The live evidence log (docs/evidence.md, "Storage"): append-only segment files in the
// directory `evidence-log` beside the database, each named by the number of its first record
// (000000000001.seg) and holding, after the line kSegmentMagic, one entry per append of one
// exchange's consecutive records:
//
//   u32 payload size (little-endian), then the payload:
//     varint first_seq, varint number of records, zigzag varint at_ms, byte flags,
//     string request_id, string records, string hashes, string chain
//   (string = varint length, bytes)
//
// `records` is kCompactRowMarker then each record's compact form (log.h, EncodeCompact), or,
// for entries carried over from the database's first layout, the canonical texts one per
// line; `hashes` is the SHA-256 of each record's canonical text and `chain` the chain value
// after the last one: 32 bytes each, or hex text when the flags say so (carried over). Flags:
// 1 hashes as hex, 2 chain as hex, 4 appended in a commit that also wrote database rows.
//
// A file is only ever appended to, by the bus's one writer, once per group commit (one write,
// one fdatasync); archiving deletes whole files whose records it has archived. Zeros are
// written ahead of the entries (4 MB at a time), so that a commit's fdatasync has only data to
// write: a zero size where an entry would start is the end of what was written.
inline constexpr std::string_view kSegmentMagic = "govesb-evidence-segment/1\n";

struct SegmentEntry {
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int64_t at_ms = 0;
  std::string_view request_id;
  std::string_view records;
  std::string_view hashes;
  std::string_view chain;
  bool hashes_hex = false;
  bool chain_hex = false;
  bool with_database = false;  // appended in a commit that also wrote database rows
  uint64_t end = 0;            // where it ends in its file (set by the readers)
  uint64_t start = 0;          // where its frame starts in its file (set by the readers)
  int64_t segment = 0;         // the first record of its file, its name (ForEachLiveEntry)
};

// Appends the entry's frame (size and payload).
void EncodeSegmentEntry(const SegmentEntry& e, std::string& out);

// The live log's directory for the database file at `database_path`.
std::string SegmentDirFor(const std::string& database_path);
// The name of the segment file whose first record is `first_seq` ("000000000001.seg").
std::string SegmentFileName(int64_t first_seq);

struct SegmentFile {
  int64_t first_seq = 0;  // from its name
  std::string path;
};
// The segment files of `dir`, by first record; none when the directory does not exist.
Result<std::vector<SegmentFile>> ListSegments(const std::string& dir);

// Called with each entry (views valid during the call); false stops.
using EntryVisitor = std::function<Result<bool>(const SegmentEntry&)>;

// The entries of one file, in order, read in chunks from `offset` (0: the start; else where an
// entry starts). An entry cut short at the end of the file (being written, or torn by a crash)
// ends it. kInternal when the file is not a segment file or an entry is malformed (its bytes
// were changed).
Status ForEachSegmentEntry(const std::string& path, const EntryVisitor& visit, uint64_t offset = 0);

// Where a reader of the live log stopped: the next entry after those it took (a reader that
// comes back for the records after them starts there instead of at the start of the file).
struct EntryCursor {
  std::string path;
  uint64_t offset = 0;
  int64_t next_seq = 0;
};

// The entries holding records numbered `first` or later, across the files of `dir` in order
// (files that end before `first` are not read). With a cursor whose next_seq is `first`,
// reading starts where it points; the cursor is moved past each entry the visitor takes.
Status ForEachLiveEntry(const std::string& dir, int64_t first, const EntryVisitor& visit,
                        EntryCursor* cursor = nullptr);

// Deletes the files of `dir` whose records are all numbered `through` or less (archived),
// except the last file (the one being appended to).
Status RemoveArchivedSegments(const std::string& dir, int64_t through);

// Writes a whole segment file atomically (temporary file, fsync, rename, fsync of the
// directory), replacing any file of that name: carrying rows of the database's layout over.
Status WriteSegmentFile(const std::string& path, const std::vector<SegmentEntry>& entries);

// The part of the live log that goes with a copy of the database (govesb backup): the records
// up to `through`, what the copied database's last commit covered (evidence_commit_state), and
// nothing after, so that a bus started on the copies finds exactly the records its database
// knows (no batch written after that commit, no torn end): the cut a crash at that commit would
// have left once recovery ran. Records up to `after` are archived (the copy's
// evidence_archives): files holding only such records, except the last, are left out.
struct LiveLogCut {
  struct File {
    std::string path;
    std::string name;       // its file name (000000000001.seg)
    uint64_t bytes = 0;     // what is kept of it, from its start (its magic line included)
    int64_t first_seq = 0;  // the records kept (0, 0: none)
    int64_t last_seq = 0;
  };
  std::vector<File> files;
  int64_t last_seq = 0;  // the last record kept (0: none)
};
// The files are read, never changed; each keeps whole entries only. Every record from `after`
// + 1 to `through` must be there, in order: kUnavailable when the first of them is no longer in
// the files (archived and deleted since the database was copied: copy again), kInternal when
// one is missing or the files are malformed (govesb audit verify says where).
Result<LiveLogCut> CutLiveLog(const std::string& dir, int64_t after, int64_t through);

// Whether an entry's stored hashes are those of its records' canonical texts and its chain
// value follows from `chain_before` (not checked when null). Recovery uses it to find a
// torn tail; verification does the same checks record by record.
bool EntryIsSound(const SegmentEntry& e, const Hash* chain_before);

// The one appender of the live log, a participant of the group-commit writer: entries
// appended by write jobs are buffered and written with one write and one fdatasync just
// before the batch's COMMIT, undone with a failed job, cut off again when the batch fails.
// Only the writer thread calls it, except durable_seq().
class SegmentWriter final : public store::CommitParticipant {
 public:
  struct Tip {
    int64_t seq = 0;  // the last record's number (0: none)
    Hash chain{};     // the chain value after it
  };
  struct Options {
    // A segment is closed, and the next one started, once it is this large.
    uint64_t max_segment_bytes = uint64_t{64} << 20;
  };

  // Opens the live log in `dir` (created when missing) and finds its tip: the last entry of
  // the files, else `fallback` (everything archived, or nothing written yet). A last file
  // whose end is not sound (torn by a crash: never acknowledged) is cut back to its last
  // sound entry, the cut bytes kept beside it in a `.torn-<ms>` file. Fails, changing
  // nothing, when the unsound part reaches records sealed by a checkpoint (up to
  // `sealed_through`): that is damage for `govesb audit verify` to report, not a crash.
  // Entries of a last batch that also wrote the database are cut off the same way when the
  // database's commits reach only `database_through` (the table evidence_commit_state, kept
  // by BeforeCommit): the process stopped between the file's fsync and the database's COMMIT.
  static Result<std::unique_ptr<SegmentWriter>> Open(const std::string& dir, Tip fallback,
                                                     int64_t sealed_through,
                                                     int64_t database_through, Options options);
  static Result<std::unique_ptr<SegmentWriter>> Open(const std::string& dir, Tip fallback,
                                                     int64_t sealed_through) {
    return Open(dir, fallback, sealed_through, 0, Options{});
  }

  // The tip after everything appended so far, buffered entries included.
  const Tip& tip() const { return tip_; }
  // Appends one entry after the tip: `count` records whose stored form is `records`, with
  // their hashes and the chain value after the last. It is written at the next Flush.
  void Append(int64_t at_ms, std::string_view request_id, std::string_view records,
              std::string_view hashes, int64_t count, const Hash& chain_after);

  // Any thread: the last record whose batch is durable and committed (checkpoints seal up to
  // here, never past it).
  int64_t durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }
  const std::string& dir() const { return dir_; }

  void BeginBatch(bool with_database) override;
  Status BeforeCommit(store::WriteContext& ctx) override;
  uint64_t Mark() override;
  void RollbackTo(uint64_t mark) override;
  Status Flush() override;
  void Committed() override;
  void Abandon() override;

 private:
  SegmentWriter(std::string dir, Options options) : dir_(std::move(dir)), options_(options) {}
  // Opens (creating with its magic line when new) the segment whose first record is `first`.
  Status OpenSegment(int64_t first);
  // Cuts the current file back to `size` (a failed batch's bytes).
  void CutBack(uint64_t size);
  // Writes the buffered entries after the file's written part (not synced).
  Status WriteBatch();
  // After a failed write, what a batch with nothing to write does instead of nothing: zeros
  // written where the next entry goes (zeros are what a reader finds there anyway: the end)
  // and synced, so that the writer's probe (GroupCommitOptions::probe_interval) learns when
  // the file takes writes again.
  Status Probe();

  // Zeros written ahead of the entries at a time (WriteBatch). The commit that writes them
  // also syncs them: on the machine docs/performance.md was measured on, 4 MiB of zeros took
  // that commit to 18 ms (the exchanges waiting for it too), 256 KiB to about 0.5 ms.
  static constexpr uint64_t kPreallocateBytes = uint64_t{256} << 10;

  std::string dir_;
  Options options_;
  Fd fd_;
  std::string path_;
  uint64_t size_ = 0;         // bytes of the current file that were written
  uint64_t allocated_ = 0;    // its size: written bytes, then zeros written ahead
  uint64_t batch_start_ = 0;  // its size before the batch's Flush
  bool flushed_ = false;
  bool failed_ = false;               // the last write of the file failed (Flush or Probe)
  bool batch_with_database_ = false;  // the batch being made writes the database too      // the
                                      // batch's bytes are in the file
  std::string buffer_;                // entries not written yet
  Tip tip_;                           // after the buffered entries
  Tip committed_;                     // after the last committed batch
  size_t mark_size_ = 0;              // Mark(): the buffer and tip to go back to
  Tip mark_tip_;
  std::atomic<int64_t> durable_seq_{0};
};

}  // namespace govesb::evidence
