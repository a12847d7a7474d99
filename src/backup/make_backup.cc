// MakeBackup: a consistent copy of a data directory while a bus runs on it (backup.h).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <system_error>

#include "backup/backup.h"
#include "backup/tar_stream.h"
#include "base/encoding.h"
#include "base/version.h"
#include "crypto/primitives.h"
#include "evidence/records.h"
#include "evidence/segments.h"
#include "store/data_dir_format.h"
#include "store/database.h"

namespace govesb::backup {
namespace {

namespace fs = std::filesystem;

constexpr char kDatabaseFile[] = "govesb.db";
constexpr char kSegmentDir[] = "evidence-log";
constexpr char kArchiveDir[] = "evidence-archive";
constexpr int kAttempts = 3;

std::string ErrnoText(int e) { return std::generic_category().message(e); }

// A file descriptor closed on destruction.
class FileHandle {
 public:
  explicit FileHandle(int fd = -1) : fd_(fd) {}
  FileHandle(FileHandle&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileHandle& operator=(FileHandle&&) = delete;
  FileHandle(const FileHandle&) = delete;
  ~FileHandle() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// What goes into the backup: where each file's bytes come from and how many.
struct PlannedFile {
  std::string path;    // relative to the data directory
  std::string source;  // the file read (the original, or a copy in the staging directory)
  std::string kind;
  mode_t mode = 0600;
  uint64_t size = 0;          // bytes taken from the start of `source`
  std::string expect_sha256;  // archives: what the database lists for it ("" none)
};

struct Plan {
  Manifest manifest;
  std::vector<PlannedFile> files;
  std::vector<std::string> skipped;
};

bool IsSqliteFile(const std::string& path) {
  FileHandle fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char header[16] = {};
  return fd.get() >= 0 && ::read(fd.get(), header, sizeof header) == sizeof header &&
         std::string_view(header, sizeof header) == std::string_view("SQLite format 3\0", 16);
}

bool EndsWith(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

// A segment file of the live log ("000000000001.seg", as evidence::ListSegments reads them).
bool IsSegmentName(std::string_view name) {
  return name.size() == 16 && name.ends_with(".seg") &&
         std::all_of(name.begin(), name.begin() + 12, [](char c) { return c >= '0' && c <= '9'; });
}

// A temporary file some writer of the directory is making (the data directory's own
// ".name.tmp-XXXXXX", a segment or archive file's ".tmp"): not part of its state.
bool IsTemporary(std::string_view name) { return name.find(".tmp") != std::string_view::npos; }

std::string NowRfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

// Reads the evidence state and schema versions of the database copy at `path`.
Status ReadDatabaseCopy(const std::string& path, Manifest& m,
                        std::vector<evidence::ArchiveInfo>& archives, bool& has_live_log) {
  store::DatabaseOptions options;
  options.create = false;
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                          store::Database::Open(path, options));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement exists,
      db->Prepare("SELECT 1 FROM sqlite_schema WHERE type='table' AND name='schema_versions'"));
  GOVESB_ASSIGN_OR_RETURN(bool has_versions, exists.Step());
  if (has_versions) {
    GOVESB_ASSIGN_OR_RETURN(store::Statement versions,
                            db->Prepare("SELECT component, version FROM schema_versions"));
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(bool row, versions.Step());
      if (!row) break;
      m.database_schema[versions.ColumnText(0)] = versions.ColumnInt64(1);
    }
  }
  // Evidence schema 2 added the archives, 3 the segment files and evidence_commit_state.
  const int64_t evidence =
      m.database_schema.contains("evidence") ? m.database_schema["evidence"] : 0;
  has_live_log = evidence >= 3;
  if (evidence >= 2) {
    GOVESB_ASSIGN_OR_RETURN(archives, evidence::ListArchives(*db));
    for (const evidence::ArchiveInfo& a : archives) {
      m.evidence_archived_through = std::max(m.evidence_archived_through, a.last_seq);
    }
  }
  if (has_live_log) {
    GOVESB_ASSIGN_OR_RETURN(m.evidence_committed_through, evidence::CommittedThrough(*db));
  }
  return Status::Ok();
}

// Copies the databases into `staging` and decides what else goes into the backup. kUnavailable
// when the evidence log moved on under the copy (archived meanwhile): to be tried again.
Status MakePlan(const BackupOptions& o, const std::string& data_dir, const std::string& staging,
                Plan& plan) {
  // Everything in the directory, in a stable order, without following symbolic links.
  std::vector<fs::directory_entry> entries;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(data_dir, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(*it);
  }
  if (ec)
    return FailedPrecondition("cannot read the data directory " + data_dir + ": " + ec.message());
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });

  // The databases first: their copies fix the moment the backup stands for.
  std::map<std::string, std::string> databases;  // relative path -> its copy
  int copies = 0;
  for (const fs::directory_entry& e : entries) {
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
    const std::string path = e.path().string();
    if (!IsSqliteFile(path)) continue;
    const std::string copy = staging + "/" + std::to_string(++copies) + ".db";
    GOVESB_RETURN_IF_ERROR(store::BackupSqliteDatabase(path, copy));
    databases[fs::relative(e.path(), data_dir).string()] = copy;
  }
  if (!databases.contains(kDatabaseFile)) {
    return FailedPrecondition(data_dir + " is not a bus's data directory (it has no " +
                              kDatabaseFile + ")");
  }
  Manifest& m = plan.manifest;
  std::vector<evidence::ArchiveInfo> archives;
  bool has_live_log = false;
  GOVESB_RETURN_IF_ERROR(ReadDatabaseCopy(databases[kDatabaseFile], m, archives, has_live_log));

  // The live log, cut where the copy's commits end.
  std::map<std::string, evidence::LiveLogCut::File> segments;  // relative path -> what is kept
  if (has_live_log) {
    GOVESB_ASSIGN_OR_RETURN(
        evidence::LiveLogCut cut,
        evidence::CutLiveLog(data_dir + "/" + kSegmentDir, m.evidence_archived_through,
                             m.evidence_committed_through));
    m.evidence_live_through = cut.last_seq;
    for (evidence::LiveLogCut::File& f : cut.files) {
      segments[std::string(kSegmentDir) + "/" + f.name] = std::move(f);
    }
  }

  const std::string archive_dir =
      o.archive_dir.empty() ? data_dir + "/" + kArchiveDir : o.archive_dir;
  const bool archives_inside = fs::weakly_canonical(archive_dir, ec) ==
                               fs::weakly_canonical(data_dir + "/" + kArchiveDir, ec);
  bool archive_dir_listed = false;
  for (const fs::directory_entry& e : entries) {
    const std::string rel = fs::relative(e.path(), data_dir).string();
    const std::string name = e.path().filename().string();
    const bool in_segments = rel.starts_with(std::string(kSegmentDir) + "/");
    const bool in_archives = archives_inside && rel.starts_with(std::string(kArchiveDir) + "/");
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0) {
      // Gone meanwhile (a temporary, an archived segment file): a segment file the cut needs
      // is missed below.
      if (errno == ENOENT) continue;
      return FailedPrecondition("cannot read " + e.path().string() + ": " + ErrnoText(errno));
    }
    if (S_ISDIR(st.st_mode)) {
      m.directories.push_back(Manifest::Directory{rel, st.st_mode & 07777});
      if (rel == kArchiveDir) archive_dir_listed = true;
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      plan.skipped.push_back(rel + ": not a regular file (a symbolic link, socket or device)");
      continue;
    }
    if (auto db = databases.find(rel); db != databases.end()) {
      struct stat copy {};
      if (::stat(db->second.c_str(), &copy) != 0)
        return Internal("the copy of " + rel + " vanished");
      plan.files.push_back(PlannedFile{rel, db->second, "database", st.st_mode & 07777,
                                       static_cast<uint64_t>(copy.st_size), ""});
      continue;
    }
    if (EndsWith(rel, "-wal") || EndsWith(rel, "-shm") || EndsWith(rel, "-journal")) {
      const std::string base = rel.substr(0, rel.rfind('-'));
      if (databases.contains(base)) continue;  // folded into the database's copy
    }
    if (IsTemporary(name)) continue;
    if (in_archives) continue;  // those the database lists are added below
    if (in_segments && IsSegmentName(name)) {
      auto kept = segments.find(rel);
      if (kept == segments.end()) continue;  // records after the database's last commit only
      plan.files.push_back(PlannedFile{rel, e.path().string(), "evidence-segment",
                                       st.st_mode & 07777, kept->second.bytes, ""});
      segments.erase(kept);
      continue;
    }
    plan.files.push_back(PlannedFile{rel, e.path().string(), "file", st.st_mode & 07777,
                                     static_cast<uint64_t>(st.st_size), ""});
  }
  if (!segments.empty()) {
    return Unavailable("the evidence file " + segments.begin()->first + " vanished meanwhile");
  }
  // The archives the copy lists, from wherever the bus writes them.
  if (!archives.empty() && !archive_dir_listed) {
    m.directories.push_back(Manifest::Directory{kArchiveDir, 0700});
  }
  for (const evidence::ArchiveInfo& a : archives) {
    const std::string path = archive_dir + "/" + a.file;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return FailedPrecondition("the evidence archive " + path +
                                " that the database lists cannot "
                                "be read (" +
                                ErrnoText(errno) +
                                "); if the bus writes its archives "
                                "elsewhere, give that directory (--archive-dir)");
    }
    plan.files.push_back(PlannedFile{std::string(kArchiveDir) + "/" + a.file, path,
                                     "evidence-archive", st.st_mode & 07777,
                                     static_cast<uint64_t>(st.st_size), a.sha256_hex});
  }
  return Status::Ok();
}

// Writes `f` into the archive, hashing it; the manifest's entry for it.
Result<Manifest::File> AddFile(TarWriter& tar, const PlannedFile& f) {
  FileHandle fd(::open(f.source.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    // A file deleted since the plan was made (a segment file archived meanwhile): try again.
    if (errno == ENOENT) return Unavailable(f.source + " was deleted while being copied");
    return FailedPrecondition("cannot read " + f.source + ": " + ErrnoText(errno));
  }
  GOVESB_RETURN_IF_ERROR(tar.BeginFile("data/" + f.path, f.mode, f.size));
  crypto::Sha256Stream hash;
  std::string buffer(1 << 20, '\0');
  uint64_t left = f.size;
  while (left > 0) {
    const ssize_t n = ::read(fd.get(), buffer.data(), std::min<uint64_t>(left, buffer.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailedPrecondition("cannot read " + f.source + ": " + ErrnoText(errno));
    }
    if (n == 0) return Unavailable(f.source + " became shorter while it was copied");
    const std::string_view chunk(buffer.data(), static_cast<size_t>(n));
    hash.Update(chunk);
    GOVESB_RETURN_IF_ERROR(tar.Write(chunk));
    left -= static_cast<uint64_t>(n);
  }
  GOVESB_RETURN_IF_ERROR(tar.EndFile());
  Manifest::File out;
  out.path = f.path;
  out.kind = f.kind;
  out.mode = f.mode;
  out.size = f.size;
  out.sha256 = HexEncode(hash.Finish());
  if (!f.expect_sha256.empty() && out.sha256 != f.expect_sha256) {
    return FailedPrecondition("the evidence archive " + f.source +
                              " does not match the SHA-256 the database lists for it; run govesb "
                              "audit verify");
  }
  return out;
}

// Removes a path (a file or a whole directory) on destruction, unless kept.
struct Remover {
  std::string path;
  bool keep = false;
  ~Remover() {
    if (keep || path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Writes the archive of `plan` to `fd` (from its current position), its manifest last.
// Returns the bytes written.
Result<uint64_t> WriteBackup(int fd, bool gzip, const std::string& out, const std::string& data_dir,
                             Plan& plan) {
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<TarWriter> tar, TarWriter::Open(fd, gzip, out));
  Manifest& m = plan.manifest;
  struct stat top {};
  GOVESB_RETURN_IF_ERROR(
      tar->AddDirectory("data", ::stat(data_dir.c_str(), &top) == 0 ? top.st_mode & 07777 : 0700));
  for (const Manifest::Directory& d : m.directories) {
    GOVESB_RETURN_IF_ERROR(tar->AddDirectory("data/" + d.path, d.mode));
  }
  for (const PlannedFile& f : plan.files) {
    GOVESB_ASSIGN_OR_RETURN(Manifest::File added, AddFile(*tar, f));
    m.files.push_back(std::move(added));
  }
  const std::string manifest = m.ToJson();
  const std::string manifest_sha = HexEncode(crypto::Sha256(manifest)) + "  manifest.json\n";
  GOVESB_RETURN_IF_ERROR(tar->BeginFile("manifest.json", 0644, manifest.size()));
  GOVESB_RETURN_IF_ERROR(tar->Write(manifest));
  GOVESB_RETURN_IF_ERROR(tar->EndFile());
  GOVESB_RETURN_IF_ERROR(tar->BeginFile("manifest.sha256", 0644, manifest_sha.size()));
  GOVESB_RETURN_IF_ERROR(tar->Write(manifest_sha));
  GOVESB_RETURN_IF_ERROR(tar->EndFile());
  GOVESB_RETURN_IF_ERROR(tar->Finish());
  return tar->bytes_written();
}

}  // namespace

Result<BackupSummary> MakeBackup(const BackupOptions& o) {
  std::error_code ec;
  if (o.data_dir.empty() || o.out.empty()) {
    return InvalidArgument("a backup needs the data directory and the file to write");
  }
  if (!fs::is_directory(o.data_dir, ec)) {
    return NotFound("the data directory " + o.data_dir +
                    " does not exist (give the bus's --data-dir)");
  }
  const std::string data_dir = fs::canonical(o.data_dir, ec).string();
  if (ec) return FailedPrecondition("cannot resolve " + o.data_dir + ": " + ec.message());
  GOVESB_ASSIGN_OR_RETURN(store::DataDirFormat format, store::ReadDataDirFormat(data_dir));
  GOVESB_RETURN_IF_ERROR(store::CheckDataDirFormat(data_dir, format));
  if (fs::exists(fs::symlink_status(o.out, ec))) {
    return AlreadyExists(o.out + " already exists; give a new file name");
  }
  const fs::path out = fs::absolute(o.out, ec);
  const fs::path out_dir = out.parent_path();
  if (!fs::is_directory(out_dir, ec)) {
    return NotFound("the directory " + out_dir.string() + " for the backup does not exist");
  }
  const std::string out_dir_real = fs::canonical(out_dir, ec).string();
  if ((out_dir_real + "/").starts_with(data_dir + "/")) {
    return InvalidArgument("the backup file must not be inside the data directory it copies");
  }
  const std::string out_name = out.filename().string();
  const bool gzip = o.gzip.value_or(out_name.ends_with(".gz") || out_name.ends_with(".tgz"));

  // The staging directory (database copies) and the file being written, beside the output.
  std::string staging_template = out_dir_real + "/." + out_name + ".staging-XXXXXX";
  if (::mkdtemp(staging_template.data()) == nullptr) {
    return FailedPrecondition("cannot create a directory in " + out_dir_real + ": " +
                              ErrnoText(errno));
  }
  Remover staging{staging_template};
  std::string temp_path = out_dir_real + "/." + out_name + ".tmp-XXXXXX";
  FileHandle fd(::mkstemp(temp_path.data()));  // mode 0600: a backup holds the bus's keys
  if (fd.get() < 0) {
    return FailedPrecondition("cannot create a file in " + out_dir_real + ": " + ErrnoText(errno));
  }
  Remover temp{temp_path};
  Plan plan;
  uint64_t bytes = 0;
  int attempts = 0;
  for (;;) {
    ++attempts;
    plan = Plan{};
    Status planned = MakePlan(o, data_dir, staging.path, plan);
    if (planned.ok()) {
      Manifest& m = plan.manifest;
      m.govesb_version = std::string(GovesbVersion());
      m.data_dir_format = format.version;
      m.data_dir_format_recorded = format.recorded;
      m.created_at = NowRfc3339();
      m.source = data_dir;
      Result<uint64_t> written = WriteBackup(fd.get(), gzip, o.out, data_dir, plan);
      if (written.ok()) {
        bytes = *written;
        break;
      }
      planned = written.status();
    }
    // The log moved on under the copy (a file it needs was archived meanwhile): again, from a
    // new copy of the database.
    if (planned.code() != StatusCode::kUnavailable || attempts == kAttempts) {
      return Status(planned.code(), "cannot back up " + data_dir + ": " + planned.message());
    }
    spdlog::info("backup: {}; copying the database again", planned.message());
    for (const fs::directory_entry& e : fs::directory_iterator(staging.path, ec)) {
      fs::remove(e.path(), ec);
    }
    if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
      return FailedPrecondition("cannot write " + o.out + ": " + ErrnoText(errno));
    }
  }
  if (::fsync(fd.get()) != 0) {
    return FailedPrecondition("cannot write " + o.out + ": " + ErrnoText(errno));
  }
  // Into place without replacing anything that appeared meanwhile.
  if (::link(temp_path.c_str(), out.c_str()) != 0) {
    if (errno == EEXIST) return AlreadyExists(o.out + " already exists; give a new file name");
    return FailedPrecondition("cannot create " + o.out + ": " + ErrnoText(errno));
  }
  FileHandle dir(::open(out_dir_real.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
  BackupSummary summary;
  summary.manifest = std::move(plan.manifest);
  summary.bytes = bytes;
  summary.attempts = attempts;
  summary.skipped = std::move(plan.skipped);
  return summary;
}

}  // namespace govesb::backup
