#include "evidence/log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <limits>
#include <memory>

#include "base/encoding.h"
#include "crypto/aead.h"
#include "evidence/chain.h"
#include "evidence/codec.h"
#include "evidence/files.h"
#include "evidence/in_job.h"
#include "evidence/pg_chain.h"
#include "evidence/records.h"
#include "evidence/segments.h"
#include "wire/json.h"

namespace govesb::evidence {

namespace {

// Migration 1 of component "evidence". Never edit a released migration; append.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE evidence_records (
  seq         INTEGER PRIMARY KEY,
  request_id  TEXT    NOT NULL,
  record      TEXT    NOT NULL,
  record_hash TEXT    NOT NULL,
  chain       TEXT    NOT NULL
);
CREATE INDEX evidence_by_request ON evidence_records(request_id);
CREATE TABLE evidence_checkpoints (
  id         INTEGER PRIMARY KEY,
  first_seq  INTEGER NOT NULL,
  last_seq   INTEGER NOT NULL,
  body       TEXT    NOT NULL,
  signature  TEXT    NOT NULL
);
)sql";
// Migration 2: one row per appended group of one exchange's records (see records.h), hashes
// kept as bytes; archives. Rows of version 1 are carried over as they were (one record each,
// hashes in hex), and are read as such.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE evidence_entries (
  last_seq   INTEGER PRIMARY KEY,
  first_seq  INTEGER NOT NULL,
  at_ms      INTEGER NOT NULL,
  request_id TEXT    NOT NULL,
  records    TEXT    NOT NULL,
  hashes     BLOB    NOT NULL,
  chain      BLOB    NOT NULL
);
INSERT INTO evidence_entries(last_seq, first_seq, at_ms, request_id, records, hashes, chain)
  SELECT seq, seq, CAST(json_extract(record, '$.at') AS INTEGER), request_id, record,
         record_hash, chain
  FROM evidence_records ORDER BY seq;
DROP TABLE evidence_records;
CREATE INDEX evidence_entries_by_request ON evidence_entries(request_id);
CREATE TABLE evidence_archives (
  id         INTEGER PRIMARY KEY,
  file       TEXT    NOT NULL UNIQUE,
  first_seq  INTEGER NOT NULL,
  last_seq   INTEGER NOT NULL,
  first_at   INTEGER NOT NULL,
  last_at    INTEGER NOT NULL,
  chain      TEXT    NOT NULL,
  sha256     TEXT    NOT NULL
);
)sql";
// Migration 3: the live log moves into append-only segment files (segments.h; the rows of
// evidence_entries are carried over into one by MigrateEvidenceStore, and the table stays
// empty), with an index of the request ids of sealed records.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE evidence_index (
  request_id TEXT    NOT NULL,
  first_seq  INTEGER NOT NULL,
  last_seq   INTEGER NOT NULL,
  PRIMARY KEY (request_id, first_seq)
) WITHOUT ROWID;
CREATE TABLE evidence_index_state (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  indexed_through INTEGER NOT NULL
);
INSERT INTO evidence_index_state(id, indexed_through) VALUES (1, 0);
CREATE TABLE evidence_commit_state (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  committed_through INTEGER NOT NULL
);
INSERT INTO evidence_commit_state(id, committed_through) VALUES (1, 0);
)sql";
// Migration 4: what evidence search (search.h) looks up instead of reading the files: the
// user ids of sealed records (evidence_user_index, one row per exchange entry and user id), and
// blocks of consecutive entries of one segment file with where they start and end in it and
// the time span of their records (evidence_blocks). Both are filled by IndexSealed from where
// evidence_search_state says, from the start on a log written before (so that an existing
// log is indexed on the first round after the upgrade; until then search reads the files).
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE evidence_user_index (
  user_id    TEXT    NOT NULL,
  first_seq  INTEGER NOT NULL,
  last_seq   INTEGER NOT NULL,
  PRIMARY KEY (user_id, first_seq)
) WITHOUT ROWID;
CREATE TABLE evidence_blocks (
  first_seq   INTEGER PRIMARY KEY,
  last_seq    INTEGER NOT NULL,
  segment     INTEGER NOT NULL,
  file_offset INTEGER NOT NULL,
  end_offset  INTEGER NOT NULL,
  min_at      INTEGER NOT NULL,
  max_at      INTEGER NOT NULL
);
CREATE TABLE evidence_search_state (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  indexed_through INTEGER NOT NULL
);
INSERT INTO evidence_search_state(id, indexed_through) VALUES (1, 0);
)sql";
constexpr std::array<std::string_view, 4> kMigrations = {kSchemaV1, kSchemaV2, kSchemaV3,
                                                         kSchemaV4};

constexpr std::string_view kArchivedTip =
    "SELECT last_seq, chain FROM evidence_archives ORDER BY last_seq DESC LIMIT 1";
constexpr std::string_view kLastCheckpoint =
    "SELECT id, last_seq, body FROM evidence_checkpoints ORDER BY id DESC LIMIT 1";
constexpr std::string_view kIndexState =
    "SELECT indexed_through FROM evidence_index_state WHERE id = 1";
constexpr std::string_view kSearchState =
    "SELECT indexed_through FROM evidence_search_state WHERE id = 1";
constexpr std::string_view kInsertUserIndex =
    "INSERT OR IGNORE INTO evidence_user_index(user_id, first_seq, last_seq) VALUES(?, ?, ?)";
constexpr std::string_view kInsertBlock =
    "INSERT OR REPLACE INTO evidence_blocks(first_seq, last_seq, segment, file_offset,"
    " end_offset, min_at, max_at) VALUES(?, ?, ?, ?, ?, ?, ?)";
constexpr std::string_view kSetSearchState =
    "UPDATE evidence_search_state SET indexed_through = max(indexed_through, ?) WHERE id = 1";
constexpr std::string_view kInsertIndex =
    "INSERT OR IGNORE INTO evidence_index(request_id, first_seq, last_seq) VALUES(?, ?, ?)";
constexpr std::string_view kSetIndexState =
    "UPDATE evidence_index_state SET indexed_through = max(indexed_through, ?) WHERE id = 1";
constexpr std::string_view kInsertCheckpoint =
    "INSERT INTO evidence_checkpoints(id, first_seq, last_seq, body, signature)"
    " VALUES(?, ?, ?, ?, ?)";

std::string_view Bytes(const Hash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

}  // namespace

namespace {

// Carries the rows of the database's layouts over into a segment file (byte for byte: their
// records, hashes and chain values as stored, so that a change made to them before still
// shows), then empties the table. A crash in between leaves the rows, and the file is written
// again (replaced) next time.
Status MoveRowsToSegments(store::Database& db) {
  if (db.path().empty() || db.path() == ":memory:") return Status::Ok();
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement rows,
      db.Prepare("SELECT first_seq, last_seq, at_ms, request_id, records, hashes, chain,"
                 " typeof(hashes) = 'blob', typeof(chain) = 'blob'"
                 " FROM evidence_entries ORDER BY last_seq"));
  std::vector<std::string> held;  // the entries' bytes
  std::vector<SegmentEntry> entries;
  while (true) {
    GOVESB_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    SegmentEntry e;
    e.first_seq = rows.ColumnInt64(0);
    e.last_seq = rows.ColumnInt64(1);
    e.at_ms = rows.ColumnInt64(2);
    e.hashes_hex = rows.ColumnInt64(7) == 0;
    e.chain_hex = rows.ColumnInt64(8) == 0;
    if (e.first_seq < 1 || e.last_seq < e.first_seq) {
      return Internal("the evidence row of record " + std::to_string(e.last_seq) +
                      " has an impossible range; run govesb audit verify on a copy");
    }
    std::string bytes;
    for (int c : {3, 4, 5, 6}) PutString(rows.ColumnView(c), bytes);
    held.push_back(std::move(bytes));
    entries.push_back(e);
  }
  if (entries.empty()) return Status::Ok();
  for (size_t i = 0; i < entries.size(); ++i) {
    ByteReader in(held[i]);
    SegmentEntry& e = entries[i];
    if (!in.View(e.request_id) || !in.View(e.records) || !in.View(e.hashes) || !in.View(e.chain)) {
      return Internal("cannot carry the evidence rows over");
    }
  }
  const std::string dir = SegmentDirFor(db.path());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return FileError("cannot create " + dir, ec.value());
  GOVESB_RETURN_IF_ERROR(
      WriteSegmentFile(dir + "/" + SegmentFileName(entries[0].first_seq), entries));
  // The rows were committed: readers in other processes may read them (records.h ReadLimit).
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement committed,
      db.Prepare("UPDATE evidence_commit_state SET committed_through = max(committed_through, ?)"
                 " WHERE id = 1"));
  GOVESB_RETURN_IF_ERROR(committed.Bind(1, entries.back().last_seq));
  GOVESB_RETURN_IF_ERROR(committed.Run());
  return db.Exec("DELETE FROM evidence_entries");
}

}  // namespace

Status MigrateEvidenceStore(store::Database& db) {
  if (db.backend() == store::Backend::kPostgres) return MigratePgEvidenceStore(db);
  GOVESB_RETURN_IF_ERROR(store::Migrate(db, "evidence", kMigrations));
  return MoveRowsToSegments(db);
}

namespace {

// Appends records after the segment writer's tip (which a failed job or batch rolls back).
// `for_each(add, flush)` calls add(record) for each record and flush() after each exchange's
// records: one entry per exchange (a change of request id also starts a new entry).
template <typename ForEach>
Status AppendRecords(SegmentWriter* segments, ForEach for_each) {
  if (segments == nullptr) return FailedPrecondition("the evidence log is not open");
  int64_t seq = segments->tip().seq;
  Hash chain = segments->tip().chain;
  // The entry being made, in buffers kept by the (writer) thread: their memory is reused from
  // one write to the next instead of being given back and asked for again.
  thread_local std::string texts;  // the stored form: kCompactRowMarker, then compact forms
  thread_local std::string hashes;
  texts.clear();
  hashes.clear();
  char number[24];
  std::string_view request_id;
  int64_t first = 0;
  int64_t at_ms = 0;
  auto flush = [&]() -> Status {
    if (first == 0) return Status::Ok();
    segments->Append(at_ms, request_id, texts, hashes, seq - first + 1, chain);
    texts.clear();
    hashes.clear();
    first = 0;
    return Status::Ok();
  };
  auto add = [&](const PreparedRecord& r) -> Status {
    if (first != 0 && r.request_id != request_id) GOVESB_RETURN_IF_ERROR(flush());
    ++seq;
    if (first == 0) {
      first = seq;
      at_ms = r.at_ms;
      request_id = r.request_id;
      texts.push_back(kCompactRowMarker);
    }
    texts += r.compact;
    // The canonical text is `{"seq":N` then the tail: hashed in its parts, not copied.
    const char* end = std::to_chars(number, number + sizeof number, seq).ptr;
    Hash record_hash = crypto::Sha256(
        {std::string_view("{\"seq\":"), std::string_view(number, end - number), r.tail});
    hashes.append(Bytes(record_hash));
    chain = ChainLink(chain, record_hash);
    return Status::Ok();
  };
  GOVESB_RETURN_IF_ERROR(for_each(add, flush));
  Status flushed = flush();
  // An entry with large stored bodies leaves a large buffer behind: give that memory back.
  constexpr size_t kKeep = 1 << 20;
  if (texts.capacity() > kKeep) std::string().swap(texts);
  return flushed;
}

}  // namespace

Status EvidenceLog::AppendInJob(store::WriteContext& ctx, const std::vector<Record>& records) {
  if (records.empty()) return Status::Ok();
  return AppendInJob(ctx, Prepare(records));
}

Status EvidenceLog::AppendInJob(store::WriteContext& ctx, const PreparedRecords& records) {
  if (records.empty()) return Status::Ok();
  auto* segments = dynamic_cast<SegmentWriter*>(ctx.participant());
  if (segments == nullptr) {
    // Another chain keeps the evidence (PostgreSQL's): through the seam.
    auto* appender = dynamic_cast<InJobAppender*>(ctx.participant());
    if (appender == nullptr) return FailedPrecondition("the evidence log is not open");
    return appender->AppendInJob(ctx, records);
  }
  return AppendRecords(segments, [&](auto&& add, auto&&) -> Status {
    for (const PreparedRecord& r : records.records()) GOVESB_RETURN_IF_ERROR(add(r));
    return Status::Ok();
  });
}

void EvidenceLog::Append(std::vector<Record> records, std::function<void(Status)> done) {
  // The records' texts are made here, on the caller's thread (the I/O threads, in parallel):
  // the one writer thread only numbers, hashes and stores them.
  Append(Prepare(records), std::move(done));
}

void EvidenceLog::Append(PreparedRecords prepared, std::function<void(Status)> done) {
  static const internal::AppendBatcher::Write kWrite =
      [](store::WriteContext& ctx, const std::vector<internal::AppendBatcher::Pending>& appends) {
        return AppendRecords(dynamic_cast<SegmentWriter*>(ctx.participant()),
                             [&](auto&& add, auto&& flush) -> Status {
                               for (const auto& p : appends) {
                                 for (const PreparedRecord& r : p.prepared.records())
                                   GOVESB_RETURN_IF_ERROR(add(r));
                                 GOVESB_RETURN_IF_ERROR(flush());
                               }
                               return Status::Ok();
                             });
      };
  batcher_.Append(writer_, std::move(prepared), std::move(done), kWrite,
                  store::GroupCommitWriter::Writes::kParticipantOnly);
}

namespace {

// A checkpoint made (body signed) but not stored yet.
using Seal = StoredCheckpoint;

// Adds an entry's stored record hashes to `range` and takes its chain value; false, changing
// nothing, when they are unreadable.
bool TakeHashes(const SegmentEntry& e, MerkleRange& range, Hash& chain) {
  auto h = StoredHashes(e.hashes, !e.hashes_hex, static_cast<size_t>(e.last_seq - e.first_seq + 1));
  auto c = StoredHash(e.chain, !e.chain_hex);
  if (!h || !c) return false;
  for (const Hash& hash : *h) range.Append(hash);
  chain = *c;
  return true;
}

// Reads the last checkpoint and the records after it, up to `up_to` (the last durable one), and
// seals them (nullopt: nothing new). With `progress` taken after that checkpoint (indexing's,
// through no further than `up_to`), only the records after it are read.
Result<std::optional<Seal>> MakeSeal(store::Database& db, const crypto::Signer& signer,
                                     int64_t now_ms, int64_t up_to, EntryCursor* cursor = nullptr,
                                     const internal::SealProgress* progress = nullptr) {
  int64_t id = 1;
  int64_t after = 0;
  std::string previous_hash;
  {
    GOVESB_ASSIGN_OR_RETURN(store::Statement last, db.Prepare(kLastCheckpoint));
    GOVESB_ASSIGN_OR_RETURN(bool row, last.Step());
    if (row) {
      id = last.ColumnInt64(0) + 1;
      after = last.ColumnInt64(1);
      previous_hash = HashHex(crypto::Sha256(last.ColumnText(2)));
    }
  }
  MerkleRange range;
  Hash chain{};
  int64_t last_seq = after;
  if (progress != nullptr && progress->after == after && progress->through <= up_to) {
    range = progress->range;
    chain = progress->chain;
    last_seq = progress->through;
  }
  auto damaged = [&] {
    return Internal("the evidence log is damaged after record " + std::to_string(last_seq) +
                    "; run govesb audit verify (no checkpoint was made)");
  };
  Status read = ForEachLiveEntry(
      SegmentDirFor(db.path()), last_seq + 1,
      [&](const SegmentEntry& e) -> Result<bool> {
        if (e.last_seq > up_to) return false;
        if (e.first_seq != last_seq + 1 || !TakeHashes(e, range, chain)) return damaged();
        last_seq = e.last_seq;
        return true;
      },
      cursor);
  // A segment that cannot be opened or read (out of file descriptors, say) is not damage: that
  // failure (kUnavailable) goes back as it is, to be tried again.
  if (!read.ok()) return read.code() == StatusCode::kInternal ? damaged() : read;
  if (range.size() == 0) return std::optional<Seal>();
  // One key names itself in the body and signs it, even if the bus switches keys meanwhile.
  const std::shared_ptr<const crypto::Signer> key = signer.Pinned();
  Seal seal{id, after + 1, last_seq,
            CheckpointBody(id, after + 1, last_seq, now_ms, range.Root(), chain, previous_hash, "",
                           crypto::KeyId(key->public_key())),
            ""};
  seal.signature = key->SignBase64(seal.body);
  return std::optional<Seal>(std::move(seal));
}

// Stores a seal, unless another checkpoint was stored since it was made (then nothing).
Status StoreSeal(store::WriteContext& ctx, const Seal& seal) {
  {
    GOVESB_ASSIGN_OR_RETURN(store::Statement * last, ctx.Prepared(kLastCheckpoint));
    GOVESB_ASSIGN_OR_RETURN(bool row, last->Step());
    const int64_t last_id = row ? last->ColumnInt64(0) : 0;
    GOVESB_RETURN_IF_ERROR(last->Reset());
    if (last_id != seal.id - 1) return Status::Ok();
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement * insert, ctx.Prepared(kInsertCheckpoint));
  GOVESB_RETURN_IF_ERROR(insert->Bind(1, seal.id));
  GOVESB_RETURN_IF_ERROR(insert->Bind(2, seal.first));
  GOVESB_RETURN_IF_ERROR(insert->Bind(3, seal.last));
  GOVESB_RETURN_IF_ERROR(insert->Bind(4, seal.body));
  GOVESB_RETURN_IF_ERROR(insert->Bind(5, seal.signature));
  return insert->Run();
}

}  // namespace

void EvidenceLog::Checkpoint(int64_t now_ms, std::function<void(Status)> done) {
  writer_.Submit(
      [this, now_ms](store::WriteContext& ctx) -> Status {
        GOVESB_ASSIGN_OR_RETURN(std::optional<Seal> seal,
                                MakeSeal(ctx.db(), signer_, now_ms, segments_->durable_seq()));
        return seal.has_value() ? StoreSeal(ctx, *seal) : Status::Ok();
      },
      [done = std::move(done)](const Status& s) {
        if (done) done(s);
      });
}

Status EvidenceLog::CheckpointFrom(store::Database& reader, int64_t now_ms) {
  // Held until the seal is stored, so that indexing never extends the progress of a checkpoint
  // that is being replaced (it would then start again after the new one).
  std::lock_guard lock(reading_mutex_);
  std::optional<Seal> seal;
  {
    // Up to the last durable record: later ones wait for the next checkpoint.
    GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                            store::Transaction::Begin(reader, store::TransactionMode::kDeferred));
    // Reading goes on where indexing stopped, in the same file at the same place.
    if (progress_.after >= 0 && index_cursor_.next_seq == progress_.through + 1) {
      seal_cursor_ = index_cursor_;
    }
    GOVESB_ASSIGN_OR_RETURN(seal, MakeSeal(reader, signer_, now_ms, segments_->durable_seq(),
                                           &seal_cursor_, &progress_));
  }
  if (!seal.has_value()) return Status::Ok();
  auto stored = std::make_shared<std::promise<Status>>();
  auto future = stored->get_future();
  writer_.Submit(
      [seal = std::move(*seal)](store::WriteContext& ctx) { return StoreSeal(ctx, seal); },
      [stored](const Status& s) { stored->set_value(s); });
  return future.get();
}

Result<std::unique_ptr<EvidenceLog>> EvidenceLog::Open(store::Database& db,
                                                       store::GroupCommitWriter& writer,
                                                       const crypto::Signer& signer,
                                                       uint64_t max_segment_bytes) {
  // Where the chain stands when the segment files hold nothing: after the last archive.
  SegmentWriter::Tip fallback;
  int64_t sealed_through = 0;
  int64_t database_through = 0;  // the evidence the database's last commit covers
  {
    GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                            store::Transaction::Begin(db, store::TransactionMode::kDeferred));
    GOVESB_ASSIGN_OR_RETURN(store::Statement tip, db.Prepare(kArchivedTip));
    GOVESB_ASSIGN_OR_RETURN(bool archived, tip.Step());
    if (archived) {
      auto chain = StoredHash(tip.ColumnView(1), tip.ColumnIsBlob(1));
      if (!chain.has_value()) return Internal("the last archive's chain value is unreadable");
      fallback = SegmentWriter::Tip{tip.ColumnInt64(0), *chain};
    }
    GOVESB_ASSIGN_OR_RETURN(store::Statement last, db.Prepare(kLastCheckpoint));
    GOVESB_ASSIGN_OR_RETURN(bool sealed, last.Step());
    if (sealed) sealed_through = last.ColumnInt64(1);
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement committed,
        db.Prepare("SELECT committed_through FROM evidence_commit_state WHERE id = 1"));
    GOVESB_ASSIGN_OR_RETURN(bool has_committed, committed.Step());
    if (has_committed) database_through = committed.ColumnInt64(0);
  }
  GOVESB_ASSIGN_OR_RETURN(
      std::unique_ptr<SegmentWriter> segments,
      SegmentWriter::Open(SegmentDirFor(db.path()), fallback, sealed_through, database_through,
                          SegmentWriter::Options{max_segment_bytes}));
  std::unique_ptr<EvidenceLog> log(new EvidenceLog(writer, signer, std::move(segments)));
  GOVESB_RETURN_IF_ERROR(log->ForgetIndexPastTip(db));
  return log;
}

Status EvidenceLog::ForgetIndexPastTip(store::Database& db) {
  const int64_t tip = segments_->tip().seq;
  int64_t indexed = 0;
  {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement state,
        db.Prepare("SELECT max((SELECT indexed_through FROM evidence_index_state WHERE id = 1),"
                   " (SELECT indexed_through FROM evidence_search_state WHERE id = 1))"));
    GOVESB_ASSIGN_OR_RETURN(bool row, state.Step());
    if (row) indexed = state.ColumnInt64(0);
  }
  if (indexed <= tip) return Status::Ok();
  spdlog::warn(
      "evidence: the indexes reached record {} but the log now ends at record {} (its end was "
      "cut off on opening): their rows after it are removed, and the records written from now "
      "on are indexed in their place",
      indexed, tip);
  // Through the writer (synchronous=FULL): durable before anything is appended, so that no
  // row can outlive this and point at a later record of the same number.
  auto stored = std::make_shared<std::promise<Status>>();
  auto future = stored->get_future();
  writer_.Submit(
      [tip](store::WriteContext& ctx) -> Status {
        // A block that reached past the tip goes whole: search then reads its records left
        // from the files until they are indexed again (user id rows are inserted once).
        static constexpr std::array<std::string_view, 5> kForget = {
            "DELETE FROM evidence_index WHERE first_seq > ?1",
            "UPDATE evidence_index_state SET indexed_through = ?1 WHERE indexed_through > ?1",
            "DELETE FROM evidence_user_index WHERE first_seq > ?1",
            "DELETE FROM evidence_blocks WHERE last_seq > ?1",
            "UPDATE evidence_search_state SET indexed_through = max("
            "coalesce((SELECT max(last_seq) FROM evidence_blocks), 0),"
            " coalesce((SELECT max(last_seq) FROM evidence_archives), 0))"
            " WHERE indexed_through > ?1"};
        for (std::string_view sql : kForget) {
          GOVESB_ASSIGN_OR_RETURN(store::Statement * step, ctx.Prepared(sql));
          GOVESB_RETURN_IF_ERROR(step->Reset());
          GOVESB_RETURN_IF_ERROR(step->Bind(1, tip));
          GOVESB_RETURN_IF_ERROR(step->Run());
        }
        return Status::Ok();
      },
      [stored](const Status& s) { stored->set_value(s); });
  return future.get();
}

EvidenceLog::EvidenceLog(store::GroupCommitWriter& writer, const crypto::Signer& signer,
                         std::unique_ptr<SegmentWriter> segments)
    : writer_(writer), signer_(signer), segments_(std::move(segments)) {
  writer_.SetParticipant(segments_.get());
}

EvidenceLog::~EvidenceLog() { writer_.SetParticipant(nullptr); }

namespace {

// What one round of indexing stores in one write job.
struct IndexChunk {
  struct Row {
    std::string key;  // request id or user id
    int64_t first = 0;
    int64_t last = 0;
  };
  struct Block {
    int64_t first = 0;
    int64_t last = 0;
    int64_t segment = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    int64_t min_at = 0;
    int64_t max_at = 0;
    size_t entries = 0;
  };
  std::vector<Row> requests;
  std::vector<Row> users;
  std::vector<Block> blocks;
};

// Entries per block of evidence_blocks: search reads at most one block's bytes (about 256 KB
// of synchronous exchanges) to reach an indexed entry.
constexpr size_t kBlockEntries = 256;

// The times and user ids of an entry's records (the entry's own time when unreadable: search
// reports such damage when it reads the block).
void NoteRecords(const SegmentEntry& e, int64_t& min_at, int64_t& max_at,
                 std::vector<std::string>& users) {
  min_at = max_at = e.at_ms;
  auto note = [&](int64_t at, std::string_view user) {
    min_at = std::min(min_at, at);
    max_at = std::max(max_at, at);
    if (!user.empty() && std::find(users.begin(), users.end(), user) == users.end()) {
      users.emplace_back(user);
    }
  };
  if (!e.records.empty() && e.records[0] == kCompactRowMarker) {
    ScanCompactRow(e.records, [&](const CompactFields& f) { note(f.at_ms, f.user_id); });
    return;
  }
  // Carried over from the first layout: canonical texts, one per line.
  std::string_view rest = e.records;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    note(CanonicalInt(line, "at").value_or(e.at_ms), CanonicalMember(line, "userId").value_or(""));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
}

}  // namespace

Status EvidenceLog::IndexSealed(store::Database& reader, size_t chunk) {
  return IndexThrough(reader, chunk, /*committed=*/false);
}

Status EvidenceLog::IndexCommitted(store::Database& reader, size_t chunk) {
  return IndexThrough(reader, chunk, /*committed=*/true);
}

Status EvidenceLog::IndexThrough(store::Database& reader, size_t chunk, bool committed) {
  std::lock_guard lock(reading_mutex_);
  // Every record up to here is whole in the files and will not be cut off (read before the
  // checkpoint, which never seals past it).
  const int64_t durable = segments_->durable_seq();
  int64_t request_from = 0;  // request ids are indexed through here
  int64_t search_from = 0;   // user ids and blocks through here (0 on a log from before them)
  int64_t sealed_through = 0;
  {
    GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                            store::Transaction::Begin(reader, store::TransactionMode::kDeferred));
    GOVESB_ASSIGN_OR_RETURN(store::Statement state, reader.Prepare(kIndexState));
    GOVESB_ASSIGN_OR_RETURN(bool row, state.Step());
    if (row) request_from = state.ColumnInt64(0);
    GOVESB_ASSIGN_OR_RETURN(store::Statement search, reader.Prepare(kSearchState));
    GOVESB_ASSIGN_OR_RETURN(bool search_row, search.Step());
    if (search_row) search_from = search.ColumnInt64(0);
    GOVESB_ASSIGN_OR_RETURN(store::Statement archived, reader.Prepare(kArchivedTip));
    GOVESB_ASSIGN_OR_RETURN(bool has_archive, archived.Step());
    if (has_archive) {  // archived: not live
      request_from = std::max(request_from, archived.ColumnInt64(0));
      search_from = std::max(search_from, archived.ColumnInt64(0));
    }
    GOVESB_ASSIGN_OR_RETURN(store::Statement last, reader.Prepare(kLastCheckpoint));
    GOVESB_ASSIGN_OR_RETURN(bool sealed, last.Step());
    if (sealed) sealed_through = last.ColumnInt64(1);
  }
  const int64_t up_to = committed ? durable : sealed_through;  // indexed through here
  // The next checkpoint's progress starts again after each checkpoint.
  if (progress_.after != sealed_through) {
    progress_ = internal::SealProgress{};
    progress_.after = sealed_through;
    progress_.through = sealed_through;
  }
  const int64_t indexed = std::min(request_from, search_from);
  const int64_t from = std::min(indexed, progress_.through);  // read from here
  if (from >= up_to) return Status::Ok();
  // Stores a chunk and where indexing stands, as one write job; waits for it. Chunks keep each
  // job short, so that the writer's commits are not held up.
  auto store = [this](IndexChunk c, int64_t through) -> Status {
    auto stored = std::make_shared<std::promise<Status>>();
    auto future = stored->get_future();
    writer_.Submit(
        [c = std::move(c), through](store::WriteContext& ctx) -> Status {
          auto rows = [&](std::string_view sql,
                          const std::vector<IndexChunk::Row>& items) -> Status {
            GOVESB_ASSIGN_OR_RETURN(store::Statement * insert, ctx.Prepared(sql));
            for (const IndexChunk::Row& i : items) {
              GOVESB_RETURN_IF_ERROR(insert->Reset());
              GOVESB_RETURN_IF_ERROR(insert->Bind(1, i.key));
              GOVESB_RETURN_IF_ERROR(insert->Bind(2, i.first));
              GOVESB_RETURN_IF_ERROR(insert->Bind(3, i.last));
              GOVESB_RETURN_IF_ERROR(insert->Run());
            }
            return Status::Ok();
          };
          GOVESB_RETURN_IF_ERROR(rows(kInsertIndex, c.requests));
          GOVESB_RETURN_IF_ERROR(rows(kInsertUserIndex, c.users));
          GOVESB_ASSIGN_OR_RETURN(store::Statement * block, ctx.Prepared(kInsertBlock));
          for (const IndexChunk::Block& b : c.blocks) {
            GOVESB_RETURN_IF_ERROR(block->Reset());
            GOVESB_RETURN_IF_ERROR(block->Bind(1, b.first));
            GOVESB_RETURN_IF_ERROR(block->Bind(2, b.last));
            GOVESB_RETURN_IF_ERROR(block->Bind(3, b.segment));
            GOVESB_RETURN_IF_ERROR(block->Bind(4, static_cast<int64_t>(b.start)));
            GOVESB_RETURN_IF_ERROR(block->Bind(5, static_cast<int64_t>(b.end)));
            GOVESB_RETURN_IF_ERROR(block->Bind(6, b.min_at));
            GOVESB_RETURN_IF_ERROR(block->Bind(7, b.max_at));
            GOVESB_RETURN_IF_ERROR(block->Run());
          }
          for (std::string_view sql : {kSetIndexState, kSetSearchState}) {
            GOVESB_ASSIGN_OR_RETURN(store::Statement * state, ctx.Prepared(sql));
            GOVESB_RETURN_IF_ERROR(state->Reset());
            GOVESB_RETURN_IF_ERROR(state->Bind(1, through));
            GOVESB_RETURN_IF_ERROR(state->Run());
          }
          return Status::Ok();
        },
        [stored](const Status& s) { stored->set_value(s); },
        // Rows made again from the files should they be lost (the index state with them).
        store::GroupCommitWriter::Writes::kRebuildable);
    return future.get();
  };
  IndexChunk pending;
  IndexChunk::Block block;
  size_t entries = 0;
  std::vector<std::string> users;
  auto close_block = [&] {
    if (block.entries > 0) pending.blocks.push_back(block);
    block = IndexChunk::Block{};
  };
  Status stored = Status::Ok();
  // Where the last record of the progress ends in the files (0: it did not move).
  int64_t progress_segment = 0;
  uint64_t progress_end = 0;
  Status read = ForEachLiveEntry(
      segments_->dir(), from + 1,
      [&](const SegmentEntry& e) -> Result<bool> {
        if (e.last_seq > up_to) return false;
        // Unreadable hashes stop the progress there: the checkpoint reads them and says where.
        if (e.first_seq == progress_.through + 1 &&
            TakeHashes(e, progress_.range, progress_.chain)) {
          progress_.through = e.last_seq;
          progress_segment = e.segment;
          progress_end = e.end;
        }
        if (e.first_seq <= indexed) return true;
        if (e.first_seq > request_from) {
          pending.requests.push_back({std::string(e.request_id), e.first_seq, e.last_seq});
        }
        if (e.first_seq > search_from) {
          int64_t min_at = 0;
          int64_t max_at = 0;
          users.clear();
          NoteRecords(e, min_at, max_at, users);
          for (std::string& u : users) {
            pending.users.push_back({std::move(u), e.first_seq, e.last_seq});
          }
          if (block.entries > 0 && (block.segment != e.segment || block.entries >= kBlockEntries)) {
            close_block();
          }
          if (block.entries == 0) {
            block = {e.first_seq, e.last_seq, e.segment, e.start, e.end, min_at, max_at, 0};
          }
          block.last = e.last_seq;
          block.end = e.end;
          block.min_at = std::min(block.min_at, min_at);
          block.max_at = std::max(block.max_at, max_at);
          ++block.entries;
        }
        if (++entries >= chunk) {
          close_block();
          stored = store(std::move(pending), e.last_seq);
          pending = IndexChunk{};
          entries = 0;
          if (!stored.ok()) return false;
        }
        return true;
      },
      &index_cursor_);
  GOVESB_RETURN_IF_ERROR(read);
  GOVESB_RETURN_IF_ERROR(stored);
  close_block();
  GOVESB_RETURN_IF_ERROR(store(std::move(pending), up_to));
  // Indexed and in the progress: no background reader comes back for these pages.
  if (progress_segment != 0) {
    ReleaseCachedPages(progress_segment, progress_end);
  }
  return Status::Ok();
}

void EvidenceLog::ReleaseCachedPages(int64_t segment, uint64_t end) {
  static const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  auto drop = [](const std::string& path, uint64_t from, uint64_t length) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    // length 0: to the end of the file.
    if (fd.valid()) {
      ::posix_fadvise(fd.get(), static_cast<off_t>(from), static_cast<off_t>(length),
                      POSIX_FADV_DONTNEED);
    }
  };
  if (released_.segment != segment) {
    // The files before this one are whole, never written again: all of their pages go.
    Result<std::vector<SegmentFile>> files = ListSegments(segments_->dir());
    if (files.ok()) {
      for (const SegmentFile& f : *files) {
        if (f.first_seq >= segment) break;
        if (f.first_seq < released_.segment) continue;
        drop(f.path, f.first_seq == released_.segment ? released_.offset : 0, 0);
      }
    }
    released_ = Released{segment, 0};
  }
  // Whole pages only, never the one the writer is filling, and the last MiB stays (what a
  // search or an operator's proof of a recent exchange reads).
  if (end <= kCachedTail) return;
  const uint64_t to = (end - kCachedTail) / kPage * kPage;
  if (to <= released_.offset) return;
  drop(segments_->dir() + "/" + SegmentFileName(segment), released_.offset, to - released_.offset);
  released_.offset = to;
}

// ---- verification ----

Result<VerifyReport> Verify(store::Database& db, const crypto::KeySet& bus_keys,
                            const std::string& archive_dir) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));

  GOVESB_ASSIGN_OR_RETURN(std::vector<StoredCheckpoint> checkpoints, ListCheckpoints(db));
  GOVESB_ASSIGN_OR_RETURN(std::vector<ArchiveInfo> archives, ListArchives(db));

  // Records are checked one by one as they stream past (archives, then the live log); a
  // checkpoint is checked when the stream reaches its last record, with the hashes of its
  // range (the only ones held in memory).
  ChainChecker checker(bus_keys, std::move(checkpoints));
  auto visit = [&](const StoredRecord& r) -> Result<bool> { return checker.Add(r); };

  for (const ArchiveInfo& a : archives) {
    const std::string path = archive_dir + "/" + a.file;
    const int64_t expected = checker.expected();
    if (a.first_seq != expected) {
      return checker.Fail(expected, "the archive " + a.file + " starts at record " +
                                        std::to_string(a.first_seq) + " but record " +
                                        std::to_string(expected) + " is next");
    }
    Hash before{};
    Status read_status = ForEachArchiveRecord(path, &before, [&](const StoredRecord& r) {
      if (r.seq == a.first_seq && before != checker.chain()) {
        checker.Fail(r.seq, "the archive " + a.file +
                                " does not continue the chain of the records before it");
        return Result<bool>(false);
      }
      return visit(r);
    });
    if (checker.failure()) return *checker.failure();
    // An archive that cannot be opened for want of file descriptors (say) says nothing about it.
    if (IsFileFailure(read_status)) return read_status;
    if (!read_status.ok()) {
      return checker.Fail(a.first_seq, "the archive " + a.file + " (records " +
                                           std::to_string(a.first_seq) + "-" +
                                           std::to_string(a.last_seq) +
                                           ") cannot be read: " + read_status.message());
    }
    if (checker.expected() != a.last_seq + 1 || HashHex(checker.chain()) != a.chain_hex) {
      return checker.Fail(a.first_seq, "the archive " + a.file + " does not hold the records " +
                                           std::to_string(a.first_seq) + "-" +
                                           std::to_string(a.last_seq) + " it is listed with");
    }
  }
  Status live =
      ForEachLiveRecord(db, checker.expected(), std::numeric_limits<int64_t>::max(), visit);
  if (checker.failure()) return *checker.failure();
  if (!live.ok()) {
    // A row whose stored bytes no longer decode: damage, found at the record it should hold.
    if (live.code() == StatusCode::kInternal)
      return checker.Fail(checker.expected(), live.message());
    return live;
  }
  return checker.Finish();
}

}  // namespace govesb::evidence
