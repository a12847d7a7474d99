#include "evidence/records.h"

#include <zlib.h>

#include <cstring>
#include <memory>

#include "evidence/log.h"

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
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db.Prepare("SELECT first_seq, last_seq, request_id, records, hashes, chain"
                 " FROM evidence_entries WHERE last_seq >= ? AND first_seq <= ?"
                 " ORDER BY last_seq"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, first));
  GOVESB_RETURN_IF_ERROR(s.Bind(2, last));
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    const int64_t row_first = s.ColumnInt64(0);
    const std::string request_id = s.ColumnText(2);
    // Rows are stored compact (a BLOB: the records' fields) or, carried over from the first
    // layout or rewritten by hand, as canonical texts one per line.
    std::string records;
    std::vector<std::string> remade;
    std::vector<std::string_view> texts;
    const std::string_view stored = s.ColumnView(3);
    if (s.ColumnIsBlob(3) && !stored.empty() && stored[0] == kCompactRowMarker) {
      auto decoded = DecodeCompactRow(stored, request_id);
      if (!decoded.has_value()) {
        return Internal("the evidence row of records " + std::to_string(row_first) +
                        " and after is unreadable (its stored bytes were changed)");
      }
      remade.reserve(decoded->size());
      for (size_t i = 0; i < decoded->size(); ++i) {
        remade.push_back(CanonicalRecord(row_first + static_cast<int64_t>(i), (*decoded)[i]));
      }
      texts.assign(remade.begin(), remade.end());
    } else {
      records.assign(stored);
      texts = Lines(records);
    }
    std::optional<std::vector<Hash>> hashes =
        StoredHashes(s.ColumnView(4), s.ColumnIsBlob(4), texts.size());
    std::optional<Hash> chain = StoredHash(s.ColumnView(5), s.ColumnIsBlob(5));
    for (size_t i = 0; i < texts.size(); ++i) {
      // Numbered from the row's first; a row whose lines do not match its range is found by
      // verification (each text carries its own number).
      const int64_t seq = row_first + static_cast<int64_t>(i);
      if (seq < first) continue;
      if (seq > last) return Status::Ok();
      StoredRecord r;
      r.seq = seq;
      r.text = texts[i];
      if (hashes.has_value()) r.stored_hash = (*hashes)[i];
      if (i + 1 == texts.size()) r.chain_after = chain;
      r.filed_request_id = request_id;
      r.live = true;
      r.source = "the live log";
      GOVESB_ASSIGN_OR_RETURN(bool go_on, visit(r));
      if (!go_on) return Status::Ok();
    }
  }
  return Status::Ok();
}

Status ForEachArchiveLine(const std::string& path,
                          const std::function<Result<bool>(std::string_view)>& visit) {
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) return NotFound("the evidence archive " + path + " cannot be opened");
  gzbuffer(file.get(), 1 << 17);
  std::string pending;
  std::string chunk(1 << 16, '\0');
  for (;;) {
    int n = gzread(file.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int err = 0;
      const char* what = gzerror(file.get(), &err);
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
  return ForEachLiveRecord(db, first, last, visit);
}

}  // namespace govesb::evidence
