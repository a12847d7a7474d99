#include "evidence/archive.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "evidence/files.h"
#include "evidence/log.h"
#include "evidence/records.h"
#include "evidence/segments.h"
#include "wire/json.h"

namespace govesb::evidence {

namespace {

Result<std::string> FileSha256Hex(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return FileError("cannot read back the evidence archive " + path, errno);
  std::string all;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, f.get())) > 0;) all.append(buffer, n);
  return HashHex(crypto::Sha256(all));
}

// Writes one archive file holding records first..last sealed by `checkpoints`; returns the
// chain after `last`, the first and last record times and the file's SHA-256.
struct Written {
  Hash chain{};
  int64_t first_at = 0;
  int64_t last_at = 0;
  std::string sha256_hex;
};

Result<Written> WriteArchive(store::Database& db, const std::string& path, int64_t first,
                             int64_t last, const Hash& chain_before,
                             const std::vector<StoredCheckpoint>& checkpoints) {
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd.valid()) return FileError("cannot create the evidence archive " + tmp, errno);
  gzFile gz = gzdopen(::dup(fd.get()), "wb6");
  if (gz == nullptr) return Internal("cannot compress into " + tmp);
  bool write_ok = true;
  auto put = [&](std::string_view line) {
    if (!write_ok) return;
    if (gzwrite(gz, line.data(), static_cast<unsigned>(line.size())) !=
            static_cast<int>(line.size()) ||
        gzputc(gz, '\n') != '\n') {
      write_ok = false;
    }
  };
  put("{\"format\":\"" + std::string(kArchiveFormat) + "\",\"firstSeq\":" + std::to_string(first) +
      ",\"lastSeq\":" + std::to_string(last) + ",\"chainBefore\":\"" + HashHex(chain_before) +
      "\"}");
  Written w;
  w.chain = chain_before;
  int64_t expected = first;
  std::string damage;
  Status read = ForEachLiveRecord(db, first, last, [&](const StoredRecord& r) -> Result<bool> {
    Hash h = crypto::Sha256(r.text);
    if (r.seq != expected || !r.stored_hash || *r.stored_hash != h ||
        CanonicalInt(r.text, "seq") != r.seq) {
      damage = "record " + std::to_string(expected);
      return false;
    }
    w.chain = ChainLink(w.chain, h);
    if (r.chain_after.has_value() && *r.chain_after != w.chain) {
      damage = "the chain at record " + std::to_string(r.seq);
      return false;
    }
    const int64_t at = CanonicalInt(r.text, "at").value_or(0);
    if (r.seq == first) w.first_at = at;
    w.last_at = at;
    put(r.text);
    ++expected;
    return true;
  });
  for (const StoredCheckpoint& c : checkpoints) {
    std::string line = "{\"checkpoint\":" + std::to_string(c.id) + ",\"body\":";
    wire::WriteString(c.body, line);
    line += ",\"signature\":";
    wire::WriteString(c.signature, line);
    line += '}';
    put(line);
  }
  put("{\"end\":" + std::to_string(last - first + 1) + ",\"chain\":\"" + HashHex(w.chain) + "\"}");
  const int closed = gzclose(gz);
  if (!read.ok()) {
    std::filesystem::remove(tmp);
    return read;
  }
  if (!damage.empty() || expected != last + 1) {
    std::filesystem::remove(tmp);
    return FailedPrecondition("the live evidence log does not match its hashes at " +
                              (damage.empty() ? "record " + std::to_string(expected) : damage) +
                              "; nothing was archived (run govesb audit verify)");
  }
  if (!write_ok || closed != Z_OK || ::fsync(fd.get()) != 0) {
    std::filesystem::remove(tmp);
    return Internal("could not write the evidence archive " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return FileError("cannot rename " + tmp, ec.value());
  GOVESB_RETURN_IF_ERROR(SyncDirectory(std::filesystem::path(path).parent_path().string()));
  GOVESB_ASSIGN_OR_RETURN(w.sha256_hex, FileSha256Hex(path));
  return w;
}

}  // namespace

Result<ArchiveSummary> ArchiveSealed(store::Database& db, const ArchiveOptions& options) {
  if (options.archive_dir.empty()) return InvalidArgument("no archive directory was given");
  std::error_code ec;
  std::filesystem::create_directories(options.archive_dir, ec);
  if (ec) {
    return InvalidArgument("cannot create the archive directory " + options.archive_dir + ": " +
                           ec.message());
  }
  ArchiveSummary summary;
  for (;;) {
    int64_t archived = 0;
    Hash chain{};
    std::vector<StoredCheckpoint> take;
    {
      GOVESB_ASSIGN_OR_RETURN(store::Transaction read,
                              store::Transaction::Begin(db, store::TransactionMode::kDeferred));
      GOVESB_ASSIGN_OR_RETURN(
          store::Statement tip,
          db.Prepare("SELECT last_seq, chain FROM evidence_archives ORDER BY last_seq DESC"
                     " LIMIT 1"));
      GOVESB_ASSIGN_OR_RETURN(bool has_tip, tip.Step());
      if (has_tip) {
        archived = tip.ColumnInt64(0);
        auto c = HashFromHex(tip.ColumnText(1));
        if (!c) return Internal("the last archive's chain value is unreadable");
        chain = *c;
      }
      GOVESB_ASSIGN_OR_RETURN(std::vector<StoredCheckpoint> after, ListCheckpoints(db, archived));
      int64_t count = 0;
      for (StoredCheckpoint& c : after) {
        const int64_t sealed_at = CanonicalInt(c.body, "at").value_or(options.cutoff_ms);
        if (sealed_at >= options.cutoff_ms) break;
        if (c.first != (take.empty() ? archived + 1 : take.back().last + 1)) {
          return FailedPrecondition("checkpoint " + std::to_string(c.id) +
                                    " does not follow the archived records; nothing was "
                                    "archived (run govesb audit verify)");
        }
        const int64_t size = c.last - c.first + 1;
        if (!take.empty() && count + size > options.max_records_per_file) break;
        count += size;
        take.push_back(std::move(c));
      }
    }
    if (take.empty()) {
      GOVESB_RETURN_IF_ERROR(RemoveArchivedSegments(SegmentDirFor(db.path()), archived));
      return summary;
    }
    const int64_t first = take.front().first;
    const int64_t last = take.back().last;
    const std::string name =
        "evidence-" + PaddedNumber(first) + "-" + PaddedNumber(last) + ".jsonl.gz";
    GOVESB_ASSIGN_OR_RETURN(
        Written w, WriteArchive(db, options.archive_dir + "/" + name, first, last, chain, take));
    {
      GOVESB_ASSIGN_OR_RETURN(store::Transaction txn,
                              store::Transaction::Begin(db, store::TransactionMode::kImmediate));
      GOVESB_ASSIGN_OR_RETURN(
          store::Statement add,
          db.Prepare("INSERT INTO evidence_archives(file, first_seq, last_seq, first_at, last_at,"
                     " chain, sha256) VALUES(?, ?, ?, ?, ?, ?, ?)"
                     " ON CONFLICT(file) DO UPDATE SET sha256 = excluded.sha256"));
      GOVESB_RETURN_IF_ERROR(add.Bind(1, name));
      GOVESB_RETURN_IF_ERROR(add.Bind(2, first));
      GOVESB_RETURN_IF_ERROR(add.Bind(3, last));
      GOVESB_RETURN_IF_ERROR(add.Bind(4, w.first_at));
      GOVESB_RETURN_IF_ERROR(add.Bind(5, w.last_at));
      GOVESB_RETURN_IF_ERROR(add.Bind(6, HashHex(w.chain)));
      GOVESB_RETURN_IF_ERROR(add.Bind(7, w.sha256_hex));
      GOVESB_RETURN_IF_ERROR(add.Run());
      for (const char* sql : {"DELETE FROM evidence_index WHERE first_seq <= ?",
                              "DELETE FROM evidence_user_index WHERE first_seq <= ?",
                              "DELETE FROM evidence_blocks WHERE first_seq <= ?"}) {
        GOVESB_ASSIGN_OR_RETURN(store::Statement drop, db.Prepare(sql));
        GOVESB_RETURN_IF_ERROR(drop.Bind(1, last));
        GOVESB_RETURN_IF_ERROR(drop.Run());
      }
      GOVESB_RETURN_IF_ERROR(txn.Commit());
    }
    summary.files.push_back(name);
    summary.records += last - first + 1;
    // The live log's files now wholly archived (a crash before this leaves them, ignored by
    // readers: the next run removes them).
    GOVESB_RETURN_IF_ERROR(RemoveArchivedSegments(SegmentDirFor(db.path()), last));
  }
}

}  // namespace govesb::evidence
