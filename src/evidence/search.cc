#include "evidence/search.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

#include "evidence/records.h"
#include "evidence/segments.h"
#include "wire/json.h"

namespace govesb::evidence {

namespace {

constexpr std::string_view kCursorPrefix = "s";

// Entries per run of the unindexed tail read at a time, newest first (as evidence_blocks: about
// 256 KB of synchronous exchanges).
constexpr size_t kTailRunEntries = 256;

// "s<seq>": the records numbered below seq.
std::string MakeCursor(int64_t below) { return std::string(kCursorPrefix) + std::to_string(below); }

Result<int64_t> ParseCursor(std::string_view cursor) {
  if (cursor.empty()) return std::numeric_limits<int64_t>::max();
  const std::string_view digits = cursor.substr(kCursorPrefix.size());
  int64_t below = 0;
  if (!cursor.starts_with(kCursorPrefix) || digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::from_chars(digits.data(), digits.data() + digits.size(), below).ec != std::errc() ||
      below < 1) {
    return InvalidArgument("the cursor is not one a search returned");
  }
  return below;
}

}  // namespace

Status CheckSearchFilter(const SearchFilter& f) {
  if (f.page_size < 1 || f.page_size > kMaxSearchPageSize) {
    return InvalidArgument("the page size must be 1 to " + std::to_string(kMaxSearchPageSize));
  }
  if (f.from_ms > f.to_ms) return InvalidArgument("the time range ends before it starts");
  if (f.systems.size() > kMaxSearchSystems) {
    return InvalidArgument("at most " + std::to_string(kMaxSearchSystems) + " systems");
  }
  if (f.max_examined < 0) return InvalidArgument("max_examined must not be negative");
  auto too_long = [](const std::string& s) { return s.size() > kMaxSearchValueBytes; };
  if (too_long(f.code) || too_long(f.outcome) || too_long(f.kind) || too_long(f.request_id) ||
      too_long(f.user_id) || too_long(f.actor) || too_long(f.cursor) ||
      std::any_of(f.systems.begin(), f.systems.end(), too_long)) {
    return InvalidArgument("a filter value is longer than " + std::to_string(kMaxSearchValueBytes) +
                           " bytes");
  }
  return Status::Ok();
}

namespace {

// Whether one record's fields pass the filter.
bool Matches(const SearchFilter& f, int64_t at, std::string_view request_id, std::string_view kind,
             std::string_view from, std::string_view to, std::string_view code,
             std::string_view user_id, std::string_view outcome) {
  if (at < f.from_ms || at >= f.to_ms) return false;
  if (!f.request_id.empty() && request_id != f.request_id) return false;
  if (!f.user_id.empty() && user_id != f.user_id) return false;
  if (!f.code.empty() && code != f.code) return false;
  if (!f.outcome.empty() && outcome != f.outcome) return false;
  if (!f.kind.empty() && kind != f.kind) return false;
  if (!f.actor.empty() && from != f.actor) return false;
  if (!f.systems.empty() &&
      std::none_of(f.systems.begin(), f.systems.end(),
                   [&](const std::string& s) { return s == from || s == to; })) {
    return false;
  }
  return true;
}

bool Matches(const SearchFilter& f, const Record& r) {
  return Matches(f, r.at_ms, r.request_id, r.kind, r.from, r.to, r.code, r.user_id, r.outcome);
}

}  // namespace

std::optional<Record> RecordFromCanonical(std::string_view text) {
  auto members = wire::ScanObject(text);
  if (!members.ok()) return std::nullopt;
  auto str = [&](std::string_view name) -> std::string {
    const wire::JsonMember* m = wire::FindMember(*members, name);
    if (m == nullptr || m->type != wire::JsonType::kString) return {};
    auto decoded = wire::DecodeString(m->raw);
    return decoded.ok() ? std::move(*decoded) : std::string();
  };
  auto num = [&](std::string_view name) -> std::optional<int64_t> {
    const wire::JsonMember* m = wire::FindMember(*members, name);
    int64_t v = 0;
    if (m == nullptr || m->type != wire::JsonType::kNumber ||
        std::from_chars(m->raw.data(), m->raw.data() + m->raw.size(), v).ec != std::errc()) {
      return std::nullopt;
    }
    return v;
  };
  auto at = num("at");
  if (!at.has_value()) return std::nullopt;
  Record r;
  r.at_ms = *at;
  r.request_id = str("requestId");
  r.kind = str("kind");
  r.from = str("from");
  r.to = str("to");
  r.code = str("code");
  r.user_id = str("userId");
  r.outcome = str("outcome");
  r.error = str("error");
  r.latency_us = num("latencyUs").value_or(0);
  r.size = num("size").value_or(0);
  r.body_sha256 = str("bodySha256");
  r.signature = str("signature");
  r.signature_sha256 = str("signatureSha256");
  r.signature_variant = str("signatureVariant");
  r.traceparent = str("traceparent");
  r.purpose = str("purpose");
  r.withheld = str("withheld");
  r.body_encrypted = str("bodyEncrypted");
  return r;
}

namespace {

Status Unreadable(int64_t first_seq) {
  return Internal("the evidence log entry of records " + std::to_string(first_seq) +
                  " and after is unreadable (its stored bytes were changed)");
}

// Where the live log's indexes stand, read in the search's snapshot.
struct IndexState {
  int64_t archived = 0;         // records up to here are in archives
  int64_t indexed_through = 0;  // user ids and blocks cover the live records up to here
  // The last block, where reading the records after it starts.
  int64_t last_block_last = 0;
  int64_t last_block_segment = 0;
  int64_t last_block_end = 0;
};

Result<IndexState> ReadIndexState(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT (SELECT max(last_seq) FROM evidence_archives),"
                 " (SELECT indexed_through FROM evidence_search_state WHERE id = 1),"
                 " (SELECT last_seq FROM evidence_blocks ORDER BY first_seq DESC LIMIT 1),"
                 " (SELECT segment FROM evidence_blocks ORDER BY first_seq DESC LIMIT 1),"
                 " (SELECT end_offset FROM evidence_blocks ORDER BY first_seq DESC LIMIT 1)"));
  GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
  IndexState st;
  if (!row) return st;
  st.archived = s.ColumnInt64(0);
  st.indexed_through = std::max(s.ColumnInt64(1), st.archived);
  st.last_block_last = s.ColumnInt64(2);
  st.last_block_segment = s.ColumnInt64(3);
  st.last_block_end = s.ColumnInt64(4);
  return st;
}

// One search: the page being made, newest first.
class PageMaker {
 public:
  PageMaker(store::Database& db, const SearchFilter& f, int64_t below, int64_t through)
      : db_(db),
        f_(f),
        below_(below),
        through_(through),
        dir_(SegmentDirFor(db.path())),
        scanned_down_to_(below) {}

  bool full() const { return page_.records.size() >= f_.page_size; }
  bool over_budget() const { return f_.max_examined > 0 && page_.examined >= f_.max_examined; }
  int64_t below() const { return below_; }

  // The matching records of a live entry, oldest first, into `out`.
  Status TakeEntry(const SegmentEntry& e, std::vector<FoundRecord>& out) {
    if (!f_.request_id.empty() && e.request_id != f_.request_id) {
      page_.examined += e.last_seq - e.first_seq + 1;  // a cheap rejection, whole
      return Status::Ok();
    }
    if (!e.records.empty() && e.records[0] == kCompactRowMarker) {
      hits_.clear();
      int64_t seq = e.first_seq;
      const bool read = ScanCompactRow(e.records, [&](const CompactFields& c) {
        ++page_.examined;
        if (seq < below_ && Matches(f_, c.at_ms, e.request_id, c.kind, c.from, c.to, c.code,
                                    c.user_id, c.outcome)) {
          hits_.push_back(static_cast<size_t>(seq - e.first_seq));
        }
        ++seq;
      });
      if (!read) return Unreadable(e.first_seq);
      if (hits_.empty()) return Status::Ok();
      auto decoded = DecodeCompactRow(e.records, e.request_id);
      if (!decoded.has_value()) return Unreadable(e.first_seq);
      for (size_t i : hits_) {
        if (i >= decoded->size()) return Unreadable(e.first_seq);
        out.push_back(FoundRecord{e.first_seq + static_cast<int64_t>(i), std::move((*decoded)[i]),
                                  false, ""});
      }
      return Status::Ok();
    }
    // Carried over from the first layout: canonical texts, one per line.
    int64_t seq = e.first_seq;
    std::string_view rest = e.records;
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      ++page_.examined;
      auto r = RecordFromCanonical(rest.substr(0, nl));
      if (!r.has_value()) return Unreadable(e.first_seq);
      if (seq < below_ && Matches(f_, *r))
        out.push_back(FoundRecord{seq, std::move(*r), false, ""});
      ++seq;
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
    return Status::Ok();
  }

  // Adds a chunk's matches (oldest first, all below every record already on the page) to the
  // page, newest first; when the page fills, the cursor is the last record given.
  void Give(std::vector<FoundRecord>& chunk) {
    for (auto it = chunk.rbegin(); it != chunk.rend() && !full(); ++it) {
      page_.records.push_back(std::move(*it));
    }
    chunk.clear();
    if (full()) page_.next_cursor = MakeCursor(page_.records.back().seq);
  }

  // A run of consecutive entries of one segment file: an indexed block, or part of the tail.
  struct Run {
    int64_t first = 0;  // its first record
    int64_t last = 0;   // its last record
    int64_t segment = 0;
    uint64_t start = 0;  // where its first entry starts in the file
  };

  // The matching records of one run, onto the page.
  Status ReadRun(const Run& run) {
    Status read = ForEachSegmentEntry(
        dir_ + "/" + SegmentFileName(run.segment),
        [&](const SegmentEntry& e) -> Result<bool> {
          if (e.first_seq > run.last) return false;
          if (e.first_seq >= run.first) GOVESB_RETURN_IF_ERROR(TakeEntry(e, chunk_));
          return true;
        },
        run.start);
    GOVESB_RETURN_IF_ERROR(read);
    Give(chunk_);
    Passed(run.first);
    return Status::Ok();
  }

  // The live records after the indexed ones (first and later) up to the committed point, read
  // from the files newest first: where their entries are (runs of up to kTailRunEntries
  // consecutive entries; only those of the request id looked up, if any), then the runs from
  // the newest, until the page is full: "the latest 50" reads the last run, not the whole tail.
  // Entries after the committed point are written but not committed (they may yet be cut off):
  // never read. True when the reading bound stopped it.
  Result<bool> ReadTail(const IndexState& st) {
    const int64_t first = st.indexed_through + 1;
    if (first >= below_ || first > through_) return false;
    EntryCursor start;
    if (st.last_block_last == st.indexed_through && st.last_block_segment > 0) {
      start = EntryCursor{dir_ + "/" + SegmentFileName(st.last_block_segment),
                          static_cast<uint64_t>(st.last_block_end), first};
    }
    std::vector<Run> runs;
    size_t in_run = 0;
    Status read = ForEachLiveEntry(
        dir_, first,
        [&](const SegmentEntry& e) -> Result<bool> {
          if (e.first_seq >= below_ || e.last_seq > through_) return false;
          if (e.first_seq < first) return true;
          if (!f_.request_id.empty() && e.request_id != f_.request_id) {
            page_.examined += e.last_seq - e.first_seq + 1;  // a cheap rejection, whole
            return true;
          }
          if (runs.empty() || in_run >= kTailRunEntries || runs.back().segment != e.segment ||
              runs.back().last + 1 != e.first_seq) {
            runs.push_back(Run{e.first_seq, e.last_seq, e.segment, e.start});
            in_run = 0;
          }
          runs.back().last = e.last_seq;
          ++in_run;
          return true;
        },
        &start);
    GOVESB_RETURN_IF_ERROR(read);
    for (auto run = runs.rbegin(); run != runs.rend() && !full(); ++run) {
      // At least one run: the entries passed over above may have met the bound already, and
      // the next page must start below something read.
      if (run != runs.rbegin() && over_budget()) return true;
      GOVESB_RETURN_IF_ERROR(ReadRun(*run));
    }
    if (!full()) Passed(first);
    return false;
  }

  // The entry of the live log that starts with record `first_seq` (indexed: through its block).
  Status TakeIndexedEntry(int64_t first_seq, std::vector<FoundRecord>& out) {
    if (!block_lookup_.has_value()) {
      GOVESB_ASSIGN_OR_RETURN(
          block_lookup_,
          db_.Prepare("SELECT segment, file_offset FROM evidence_blocks WHERE first_seq <= ?"
                      " ORDER BY first_seq DESC LIMIT 1"));
    }
    store::Statement& s = *block_lookup_;
    GOVESB_RETURN_IF_ERROR(s.Reset());
    GOVESB_RETURN_IF_ERROR(s.Bind(1, first_seq));
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return Internal("no block of the evidence index holds record " + std::to_string(first_seq));
    }
    const std::string path = dir_ + "/" + SegmentFileName(s.ColumnInt64(0));
    const auto offset = static_cast<uint64_t>(s.ColumnInt64(1));
    bool found = false;
    Status read = ForEachSegmentEntry(
        path,
        [&](const SegmentEntry& e) -> Result<bool> {
          if (e.first_seq < first_seq) return true;
          if (e.first_seq == first_seq) {
            found = true;
            GOVESB_RETURN_IF_ERROR(TakeEntry(e, out));
          }
          return false;
        },
        offset);
    GOVESB_RETURN_IF_ERROR(read);
    if (!found) {
      return Internal("the evidence log has no entry at record " + std::to_string(first_seq) +
                      " where its index says (the segment files were changed)");
    }
    return Status::Ok();
  }

  // The indexed live records of one request id or user id, newest first.
  Status ReadIndexedRows(const IndexState& st) {
    const bool by_request = !f_.request_id.empty();
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement rows,
        db_.Prepare(by_request ? "SELECT first_seq FROM evidence_index WHERE request_id = ?"
                                 " AND first_seq > ? AND first_seq <= ? AND first_seq < ?"
                                 " ORDER BY first_seq DESC"
                               : "SELECT first_seq FROM evidence_user_index WHERE user_id = ?"
                                 " AND first_seq > ? AND first_seq <= ? AND first_seq < ?"
                                 " ORDER BY first_seq DESC"));
    GOVESB_RETURN_IF_ERROR(rows.Bind(1, by_request ? f_.request_id : f_.user_id));
    GOVESB_RETURN_IF_ERROR(rows.Bind(2, st.archived));
    GOVESB_RETURN_IF_ERROR(rows.Bind(3, st.indexed_through));
    GOVESB_RETURN_IF_ERROR(rows.Bind(4, below_));
    std::vector<FoundRecord> chunk;
    while (!full()) {
      GOVESB_ASSIGN_OR_RETURN(bool row, rows.Step());
      if (!row) {
        Passed(st.archived + 1);  // every indexed live record
        break;
      }
      GOVESB_RETURN_IF_ERROR(TakeIndexedEntry(rows.ColumnInt64(0), chunk));
      Give(chunk);
    }
    return Status::Ok();
  }

  // The indexed live records, block by block from the newest, skipping blocks whose time span
  // does not meet the range. True when the reading bound stopped it.
  Result<bool> ReadBlocks(const IndexState& st) {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement blocks,
        db_.Prepare("SELECT first_seq, last_seq, segment, file_offset FROM evidence_blocks"
                    " WHERE first_seq > ? AND first_seq <= ? AND first_seq < ?"
                    " AND max_at >= ? AND min_at < ? ORDER BY first_seq DESC"));
    GOVESB_RETURN_IF_ERROR(blocks.Bind(1, st.archived));
    GOVESB_RETURN_IF_ERROR(blocks.Bind(2, st.indexed_through));
    GOVESB_RETURN_IF_ERROR(blocks.Bind(3, below_));
    GOVESB_RETURN_IF_ERROR(blocks.Bind(4, f_.from_ms));
    GOVESB_RETURN_IF_ERROR(blocks.Bind(5, f_.to_ms));
    while (!full()) {
      if (over_budget()) return true;
      GOVESB_ASSIGN_OR_RETURN(bool row, blocks.Step());
      if (!row) {
        Passed(st.archived + 1);  // the blocks left out cannot hold a match
        break;
      }
      GOVESB_RETURN_IF_ERROR(
          ReadRun(Run{blocks.ColumnInt64(0), blocks.ColumnInt64(1), blocks.ColumnInt64(2),
                      static_cast<uint64_t>(blocks.ColumnInt64(3))}));
    }
    return false;
  }

  // The archives whose time span meets the range, newest first. True when the reading bound
  // stopped it.
  Result<bool> ReadArchives(const std::vector<ArchiveInfo>& archives,
                            const std::string& archive_dir) {
    std::vector<FoundRecord> chunk;
    for (auto a = archives.rbegin(); a != archives.rend() && !full(); ++a) {
      if (a->first_seq >= below_ || a->last_at < f_.from_ms || a->first_at >= f_.to_ms) continue;
      if (over_budget()) return true;
      Status read = ForEachArchiveRecord(
          archive_dir + "/" + a->file, nullptr, [&](const StoredRecord& r) -> Result<bool> {
            if (r.seq >= below_) return false;
            ++page_.examined;
            // Cheap rejections before parsing.
            if (!f_.request_id.empty() && r.text.find(f_.request_id) == std::string_view::npos) {
              return true;
            }
            if (!f_.user_id.empty() && r.text.find(f_.user_id) == std::string_view::npos) {
              return true;
            }
            auto record = RecordFromCanonical(r.text);
            if (!record.has_value()) {
              return Internal("the evidence archive " + a->file + " has an unreadable record " +
                              std::to_string(r.seq));
            }
            if (Matches(f_, *record))
              chunk.push_back(FoundRecord{r.seq, std::move(*record), true, ""});
            return true;
          });
      GOVESB_RETURN_IF_ERROR(read);
      Give(chunk);
      Passed(a->first_seq);
    }
    return false;
  }

  SearchPage Take() { return std::move(page_); }
  // Every record from `first` up (below below_) was examined.
  void Passed(int64_t first) { scanned_down_to_ = std::min(scanned_down_to_, first); }
  // The reading bound was met: the next page goes on below what was read (every record from
  // there up was examined).
  void Stop() {
    if (!full() && scanned_down_to_ < below_) page_.next_cursor = MakeCursor(scanned_down_to_);
  }

 private:
  store::Database& db_;
  const SearchFilter& f_;
  const int64_t below_;
  const int64_t through_;  // the committed point: the files are not read past it
  const std::string dir_;
  SearchPage page_;
  std::vector<size_t> hits_;
  std::vector<FoundRecord> chunk_;  // a run's matches, oldest first
  std::optional<store::Statement> block_lookup_;
  int64_t scanned_down_to_ = 0;  // every record from here up to below_ was examined
};

}  // namespace

Result<SearchPage> Search(store::Database& db, const SearchFilter& filter,
                          const std::string& archive_dir,
                          std::optional<int64_t> committed_through) {
  GOVESB_RETURN_IF_ERROR(CheckSearchFilter(filter));
  GOVESB_ASSIGN_OR_RETURN(int64_t below, ParseCursor(filter.cursor));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                          store::Transaction::Begin(db, store::TransactionMode::kDeferred));
  GOVESB_ASSIGN_OR_RETURN(IndexState st, ReadIndexState(db));
  GOVESB_ASSIGN_OR_RETURN(int64_t through, ReadLimit(db, committed_through));
  GOVESB_ASSIGN_OR_RETURN(std::vector<ArchiveInfo> archives, ListArchives(db));
  PageMaker page(db, filter, below, through);
  if (filter.from_ms >= filter.to_ms) return page.Take();
  // Newest first: the records not indexed yet, the indexed live ones, the archives.
  GOVESB_ASSIGN_OR_RETURN(bool tail_stopped, page.ReadTail(st));
  if (tail_stopped) {
    page.Stop();
    return page.Take();
  }
  if (page.full()) return page.Take();
  if (!filter.request_id.empty() || !filter.user_id.empty()) {
    GOVESB_RETURN_IF_ERROR(page.ReadIndexedRows(st));
  } else {
    GOVESB_ASSIGN_OR_RETURN(bool stopped, page.ReadBlocks(st));
    if (stopped) {
      page.Stop();
      return page.Take();
    }
  }
  if (page.full()) return page.Take();
  GOVESB_ASSIGN_OR_RETURN(bool stopped, page.ReadArchives(archives, archive_dir));
  if (stopped) page.Stop();
  return page.Take();
}

}  // namespace govesb::evidence
