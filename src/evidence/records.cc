#include "evidence/records.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "evidence/files.h"
#include "evidence/log.h"
#include "evidence/segments.h"

namespace govesb::evidence {

namespace {

// Splits a row's records column into its lines.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};

}  // namespace

std::optional<Hash> StoredHash(std::string_view column, bool is_blob) {
  if (is_blob) {
    if (column.size() != 32) return std::nullopt;
    Hash h;
    std::memcpy(h.data(), column.data(), 32);
    return h;
  }
  return HashFromHex(column);
}

std::optional<std::vector<Hash>> StoredHashes(std::string_view column, bool is_blob, size_t count) {
  const size_t width = is_blob ? 32 : 64;
  if (column.size() != width * count) return std::nullopt;
  std::vector<Hash> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto h = StoredHash(column.substr(i * width, width), is_blob);
    if (!h.has_value()) return std::nullopt;
    out.push_back(*h);
  }
  return out;
}

std::string DefaultArchiveDir(const std::string& data_dir) {
  return data_dir + "/evidence-archive";
}

Result<std::vector<ArchiveInfo>> ListArchives(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT id, file, first_seq, last_seq, first_at, last_at, chain, sha256"
                 " FROM evidence_archives ORDER BY first_seq"));
  std::vector<ArchiveInfo> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ArchiveInfo{s.ColumnInt64(0), s.ColumnText(1), s.ColumnInt64(2), s.ColumnInt64(3),
                              s.ColumnInt64(4), s.ColumnInt64(5), s.ColumnText(6),
                              s.ColumnText(7)});
  }
  return out;
}

Result<std::vector<StoredCheckpoint>> ListCheckpoints(store::Database& db, int64_t after) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT id, first_seq, last_seq, body, signature FROM evidence_checkpoints"
                 " WHERE last_seq > ? ORDER BY id"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, after));
  std::vector<StoredCheckpoint> out;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(StoredCheckpoint{s.ColumnInt64(0), s.ColumnInt64(1), s.ColumnInt64(2),
                                   s.ColumnText(3), s.ColumnText(4)});
  }
  return out;
}

Status ForEachLiveRecord(store::Database& db, int64_t first, int64_t last,
                         const RecordVisitor& visit) {
  std::vector<std::string> remade;
  std::vector<std::string_view> texts;
  return ForEachLiveEntry(
      SegmentDirFor(db.path()), first, [&](const SegmentEntry& e) -> Result<bool> {
        if (e.first_seq > last) return false;
        // Entries hold compact records or, carried over from the first layout, canonical
        // texts one per line.
        remade.clear();
        texts.clear();
        if (!e.records.empty() && e.records[0] == kCompactRowMarker) {
          auto decoded = DecodeCompactRow(e.records, e.request_id);
          if (!decoded.has_value()) {
            return Internal("the evidence log entry of records " + std::to_string(e.first_seq) +
                            " and after is unreadable (its stored bytes were changed)");
          }
          remade.reserve(decoded->size());
          for (size_t i = 0; i < decoded->size(); ++i) {
            remade.push_back(CanonicalRecord(e.first_seq + static_cast<int64_t>(i), (*decoded)[i]));
          }
          texts.assign(remade.begin(), remade.end());
        } else {
          texts = Lines(e.records);
        }
        std::optional<std::vector<Hash>> hashes =
            StoredHashes(e.hashes, !e.hashes_hex, texts.size());
        std::optional<Hash> chain = StoredHash(e.chain, !e.chain_hex);
        for (size_t i = 0; i < texts.size(); ++i) {
          // Numbered from the entry's first; an entry whose records do not match its range is
          // found by verification (each text carries its own number).
          const int64_t seq = e.first_seq + static_cast<int64_t>(i);
          if (seq < first) continue;
          if (seq > last) return false;
          StoredRecord r;
          r.seq = seq;
          r.text = texts[i];
          if (hashes.has_value()) r.stored_hash = (*hashes)[i];
          if (i + 1 == texts.size()) r.chain_after = chain;
          r.filed_request_id = e.request_id;
          r.live = true;
          r.source = "the live log";
          GOVESB_ASSIGN_OR_RETURN(bool go_on, visit(r));
          if (!go_on) return false;
        }
        return true;
      });
}

Result<int64_t> CommittedThrough(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT committed_through FROM evidence_commit_state WHERE id = 1"));
  GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnInt64(0) : int64_t{0};
}

Result<int64_t> ReadLimit(store::Database& db, std::optional<int64_t> given) {
  if (given.has_value()) return *given;
  return CommittedThrough(db);
}

Result<std::vector<std::pair<int64_t, int64_t>>> FindLiveExchange(store::Database& db,
                                                                  std::string_view request_id,
                                                                  int64_t through) {
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t indexed_through = 0;
  int64_t archived = 0;  // records up to here are in archives, not live
  {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement state,
        db.Prepare("SELECT (SELECT indexed_through FROM evidence_index_state WHERE id = 1),"
                   " (SELECT max(last_seq) FROM evidence_archives)"));
    GOVESB_ASSIGN_OR_RETURN(bool row, state.Step());
    if (row) {
      indexed_through = state.ColumnInt64(0);
      archived = state.ColumnInt64(1);
    }
  }
  {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement rows,
        db.Prepare("SELECT first_seq, last_seq FROM evidence_index WHERE request_id = ?"
                   " ORDER BY first_seq"));
    GOVESB_RETURN_IF_ERROR(rows.Bind(1, request_id));
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(bool row, rows.Step());
      if (!row) break;
      if (rows.ColumnInt64(0) > archived)
        out.emplace_back(rows.ColumnInt64(0), rows.ColumnInt64(1));
    }
  }
  // The records not indexed yet (after the last checkpoint): read, up to the committed point.
  const int64_t from = std::max(indexed_through, archived);
  if (from >= through) return out;
  GOVESB_RETURN_IF_ERROR(ForEachLiveEntry(SegmentDirFor(db.path()), from + 1,
                                          [&](const SegmentEntry& e) -> Result<bool> {
                                            if (e.last_seq > through) return false;
                                            if (e.first_seq > from && e.request_id == request_id) {
                                              out.emplace_back(e.first_seq, e.last_seq);
                                            }
                                            return true;
                                          }));
  return out;
}

Status ForEachArchiveLine(const std::string& path,
                          const std::function<Result<bool>(std::string_view)>& visit) {
  errno = 0;
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) {
    // A missing archive is for verification to report; any other failure is the environment's.
    if (errno == ENOENT || errno == 0) {
      return NotFound("the evidence archive " + path + " cannot be opened");
    }
    return FileError("cannot open the evidence archive " + path, errno);
  }
  gzbuffer(file.get(), 1 << 17);
  std::string pending;
  std::string chunk(1 << 16, '\0');
  for (;;) {
    int n = gzread(file.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int err = 0;
      const char* what = gzerror(file.get(), &err);
      if (err == Z_ERRNO) return FileError("cannot read the evidence archive " + path, errno);
      return Internal("the evidence archive " + path + " is unreadable: " + what);
    }
    if (n == 0) break;
    pending.append(chunk.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      GOVESB_ASSIGN_OR_RETURN(bool go_on,
                              visit(std::string_view(pending).substr(start, nl - start)));
      if (!go_on) return Status::Ok();
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) {
    return Internal("the evidence archive " + path + " ends in the middle of a line");
  }
  return Status::Ok();
}

Status ForEachArchiveRecord(const std::string& path, Hash* chain_before,
                            const RecordVisitor& visit) {
  const std::string name = path.substr(path.find_last_of('/') + 1);
  bool header = false;
  bool ended = false;
  std::optional<StoredRecord> held;  // the last record, given out once the trailer is read
  std::string held_text;
  bool stopped = false;
  auto give = [&](std::optional<Hash> chain_after) -> Result<bool> {
    if (!held.has_value()) return true;
    held->text = held_text;
    held->chain_after = chain_after;
    GOVESB_ASSIGN_OR_RETURN(bool go_on, visit(*held));
    held.reset();
    return go_on;
  };
  GOVESB_RETURN_IF_ERROR(ForEachArchiveLine(path, [&](std::string_view line) -> Result<bool> {
    if (!header) {
      if (CanonicalMember(line, "format") != std::optional<std::string>(kArchiveFormat)) {
        return Internal("the evidence archive " + name + " has no archive header");
      }
      auto chain = HashFromHex(CanonicalMember(line, "chainBefore").value_or(""));
      if (!chain.has_value()) {
        return Internal("the evidence archive " + name + " has an unreadable header");
      }
      if (chain_before != nullptr) *chain_before = *chain;
      header = true;
      return true;
    }
    if (line.starts_with("{\"seq\":")) {
      GOVESB_ASSIGN_OR_RETURN(bool go_on, give(std::nullopt));
      if (!go_on) {
        stopped = true;
        return false;
      }
      StoredRecord r;
      r.seq = CanonicalInt(line, "seq").value_or(0);
      r.source = name;
      held = r;
      held_text.assign(line);
      return true;
    }
    if (line.starts_with("{\"end\":")) {
      auto chain = HashFromHex(CanonicalMember(line, "chain").value_or(""));
      if (!chain.has_value()) {
        return Internal("the evidence archive " + name + " has an unreadable trailer");
      }
      ended = true;
      GOVESB_ASSIGN_OR_RETURN(bool go_on, give(chain));
      if (!go_on) stopped = true;
      return false;
    }
    return true;  // checkpoint lines: the database holds the checkpoints that are checked
  }));
  if (stopped) return Status::Ok();
  if (!header) return Internal("the evidence archive " + name + " is empty");
  if (!ended) {
    return Internal("the evidence archive " + name +
                    " is cut short: its trailer is missing (records may have been removed)");
  }
  return Status::Ok();
}

Status ForEachRecord(store::Database& db, const std::string& archive_dir, int64_t first,
                     int64_t last, const RecordVisitor& visit) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<ArchiveInfo> archives, ListArchives(db));
  bool stopped = false;
  auto in_range = [&](const StoredRecord& r) -> Result<bool> {
    if (r.seq < first) return true;
    if (r.seq > last) {
      stopped = true;
      return false;
    }
    GOVESB_ASSIGN_OR_RETURN(bool go_on, visit(r));
    if (!go_on) stopped = true;
    return go_on;
  };
  for (const ArchiveInfo& a : archives) {
    if (a.last_seq < first || a.first_seq > last) continue;
    GOVESB_RETURN_IF_ERROR(ForEachArchiveRecord(archive_dir + "/" + a.file, nullptr, in_range));
    if (stopped) return Status::Ok();
  }
  // The live log after the archives (a segment file may still hold archived records).
  const int64_t archived = archives.empty() ? 0 : archives.back().last_seq;
  return ForEachLiveRecord(db, std::max(first, archived + 1), last, visit);
}

}  // namespace govesb::evidence
