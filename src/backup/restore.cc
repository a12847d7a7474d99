// RestoreBackup: a backup checked whole, then written into a new data directory (backup.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <system_error>

#include "backup/backup.h"
#include "backup/tar_stream.h"
#include "base/encoding.h"
#include "base/version.h"
#include "crypto/primitives.h"
#include "store/data_dir_format.h"

namespace govesb::backup {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxManifestBytes = 64 << 20;

std::string ErrnoText(int e) { return std::generic_category().message(e); }

class FileHandle {
 public:
  explicit FileHandle(int fd = -1) : fd_(fd) {}
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle() { Close(); }
  int get() const { return fd_; }
  int Close() {
    if (fd_ < 0) return 0;
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// What the first reading found in the archive.
struct Contents {
  struct File {
    mode_t mode = 0;
    uint64_t size = 0;
    std::string sha256;
  };
  std::map<std::string, mode_t> dirs;  // relative to the data directory ("": itself)
  std::map<std::string, File> files;
  std::optional<std::string> manifest;
  std::optional<std::string> manifest_sha;
};

// A relative path with no empty, "." or ".." component (nothing can land outside the target).
bool SafeRelative(std::string_view rel) {
  if (rel.empty() || rel.front() == '/') return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    const std::string_view part = rel.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string_view::npos) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// "data" -> "", "data/keys/x" -> "keys/x"; nullopt for anything else.
std::optional<std::string> DataPath(const std::string& path) {
  if (path == "data") return std::string();
  if (!path.starts_with("data/")) return std::nullopt;
  const std::string rel = path.substr(5);
  if (!SafeRelative(rel)) return std::nullopt;
  return rel;
}

Status Damaged(const std::string& in, const std::string& why) {
  return FailedPrecondition("the backup " + in + " is damaged (" + why + "); nothing was restored");
}

Result<std::string> ReadSmall(TarReader& tar, const TarReader::Entry& e) {
  if (e.size > kMaxManifestBytes) return FailedPrecondition(e.path + " is too large");
  std::string out(e.size, '\0');
  size_t at = 0;
  while (at < out.size()) {
    GOVESB_ASSIGN_OR_RETURN(size_t n, tar.Read(out.data() + at, out.size() - at));
    at += n;
  }
  return out;
}

// The first reading: every entry, every file hashed, nothing written.
Result<Contents> ReadContents(TarReader& tar, const std::string& in) {
  Contents c;
  std::string buffer(1 << 20, '\0');
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(std::optional<TarReader::Entry> e, tar.Next());
    if (!e.has_value()) break;
    if (e->path == "manifest.json" || e->path == "manifest.sha256") {
      std::optional<std::string>& slot = e->path == "manifest.json" ? c.manifest : c.manifest_sha;
      if (slot.has_value() || e->type != '0') return Damaged(in, "two " + e->path);
      GOVESB_ASSIGN_OR_RETURN(slot, ReadSmall(tar, *e));
      continue;
    }
    std::optional<std::string> rel = DataPath(e->path);
    if (!rel.has_value()) {
      return Damaged(in, "it holds " + e->path + ", which no govesb backup does");
    }
    if (e->type == '5') {
      if (!c.dirs.emplace(*rel, e->mode).second) return Damaged(in, "two directories " + e->path);
      continue;
    }
    if (rel->empty() || c.files.contains(*rel)) return Damaged(in, "a second " + e->path);
    crypto::Sha256Stream hash;
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(size_t n, tar.Read(buffer.data(), buffer.size()));
      if (n == 0) break;
      hash.Update(std::string_view(buffer.data(), n));
    }
    c.files.emplace(*rel, Contents::File{e->mode, e->size, HexEncode(hash.Finish())});
  }
  return c;
}

// The manifest, checked against its own hash and against what the archive holds.
Result<Manifest> CheckContents(const Contents& c, const std::string& in) {
  if (!c.manifest.has_value() || !c.manifest_sha.has_value()) {
    return FailedPrecondition("the backup " + in +
                              " has no manifest: it is not a govesb backup, or it was cut short "
                              "while being made; nothing was restored");
  }
  const std::string_view listed = std::string_view(*c.manifest_sha).substr(0, 64);
  if (listed != HexEncode(crypto::Sha256(*c.manifest))) {
    return Damaged(in, "its manifest does not match its SHA-256");
  }
  Result<Manifest> parsed = Manifest::FromJson(*c.manifest);
  if (!parsed.ok()) return Damaged(in, parsed.status().message());
  const Manifest& m = *parsed;
  if (m.format_version > Manifest::kFormatVersion) {
    return FailedPrecondition(
        "the backup " + in + " was made by govesb " + m.govesb_version + " in backup format " +
        std::to_string(m.format_version) + "; this govesb (" + std::string(GovesbVersion()) +
        ") reads backup formats up to " + std::to_string(Manifest::kFormatVersion) +
        ": restore it with a govesb at least as new; nothing was restored");
  }
  if (m.data_dir_format > store::kDataDirFormat) {
    return FailedPrecondition("the backup " + in + " holds a data directory in format version " +
                              std::to_string(m.data_dir_format) + " (made by govesb " +
                              m.govesb_version + "); this govesb (" + std::string(GovesbVersion()) +
                              ") knows data-directory formats up to version " +
                              std::to_string(store::kDataDirFormat) +
                              ": restore it with a govesb at least as new; nothing was restored");
  }
  std::set<std::string> listed_files;
  for (const Manifest::File& f : m.files) {
    if (!SafeRelative(f.path)) return Damaged(in, "its manifest lists the path " + f.path);
    if (!listed_files.insert(f.path).second)
      return Damaged(in, "its manifest lists " + f.path + " twice");
    auto found = c.files.find(f.path);
    if (found == c.files.end()) return Damaged(in, f.path + " is missing");
    if (found->second.size != f.size) {
      return Damaged(in, f.path + " has " + std::to_string(found->second.size) +
                             " bytes where the manifest says " + std::to_string(f.size));
    }
    if (found->second.sha256 != f.sha256) {
      return Damaged(in, f.path + " does not match the SHA-256 in the manifest");
    }
    if (found->second.mode != f.mode) return Damaged(in, "the mode of " + f.path + " was changed");
  }
  for (const auto& [path, file] : c.files) {
    if (!listed_files.contains(path)) return Damaged(in, path + " is not in the manifest");
  }
  std::set<std::string> listed_dirs = {""};
  for (const Manifest::Directory& d : m.directories) {
    if (!SafeRelative(d.path) || !c.dirs.contains(d.path)) {
      return Damaged(in, "the directory " + d.path + " is missing");
    }
    listed_dirs.insert(d.path);
  }
  for (const auto& [path, mode] : c.dirs) {
    if (!listed_dirs.contains(path))
      return Damaged(in, "the directory " + path + " is not in the manifest");
  }
  if (!c.dirs.contains("")) return Damaged(in, "it has no data directory");
  bool has_database = false;
  for (const Manifest::File& f : m.files) has_database |= f.path == "govesb.db";
  if (!has_database) return Damaged(in, "it has no govesb.db");
  return parsed;
}

// The target exists and is an empty directory, or does not exist (then `exists` is false).
Status CheckTarget(const std::string& target, bool& exists) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(target, ec);
  exists = fs::exists(st);
  if (!exists) return Status::Ok();
  if (!fs::is_directory(fs::status(target, ec))) {
    return FailedPrecondition(target +
                              " exists and is not a directory; restore into a new or "
                              "empty directory");
  }
  if (fs::directory_iterator(target, ec) != fs::directory_iterator()) {
    return FailedPrecondition("the directory " + target +
                              " is not empty: restore into a new or "
                              "empty directory (a running bus's data directory is never "
                              "overwritten)");
  }
  if (ec) return FailedPrecondition("cannot read " + target + ": " + ec.message());
  return Status::Ok();
}

Status FsyncPath(const std::string& path) {
  FileHandle fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return FailedPrecondition("cannot sync " + path + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

// The second reading: writes every file (hashed again: the backup must not have changed since
// the first) and makes the directories, their modes set last.
Status Extract(TarReader& tar, const std::string& target, const Contents& c,
               const std::string& in) {
  std::string buffer(1 << 20, '\0');
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(std::optional<TarReader::Entry> e, tar.Next());
    if (!e.has_value()) break;
    std::optional<std::string> rel = DataPath(e->path);
    if (!rel.has_value()) continue;  // the manifest
    const std::string path = rel->empty() ? target : target + "/" + *rel;
    if (e->type == '5') {
      if (!rel->empty() && ::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        return FailedPrecondition("cannot create " + path + ": " + ErrnoText(errno));
      }
      continue;
    }
    const Contents::File& expected = c.files.at(*rel);
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    FileHandle fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return FailedPrecondition("cannot create " + path + ": " + ErrnoText(errno));
    crypto::Sha256Stream hash;
    for (;;) {
      GOVESB_ASSIGN_OR_RETURN(size_t n, tar.Read(buffer.data(), buffer.size()));
      if (n == 0) break;
      std::string_view chunk(buffer.data(), n);
      hash.Update(chunk);
      while (!chunk.empty()) {
        const ssize_t w = ::write(fd.get(), chunk.data(), chunk.size());
        if (w < 0) {
          if (errno == EINTR) continue;
          const int err = errno;
          if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
            return ResourceExhausted("the disk holding " + target + " is full (" + ErrnoText(err) +
                                     "); what was restored was removed");
          }
          return FailedPrecondition("cannot write " + path + ": " + ErrnoText(err));
        }
        chunk.remove_prefix(static_cast<size_t>(w));
      }
    }
    if (HexEncode(hash.Finish()) != expected.sha256) {
      return Damaged(in, "it changed while being restored");
    }
    if (::fchmod(fd.get(), expected.mode) != 0 || ::fsync(fd.get()) != 0) {
      return FailedPrecondition("cannot write " + path + ": " + ErrnoText(errno));
    }
    if (int error = fd.Close(); error != 0) {
      return FailedPrecondition("cannot write " + path + ": " + ErrnoText(error));
    }
  }
  // Directory modes last (one without write permission would have refused its files), deepest
  // first, each synced so that its entries stay.
  for (auto it = c.dirs.rbegin(); it != c.dirs.rend(); ++it) {
    const std::string path = it->first.empty() ? target : target + "/" + it->first;
    GOVESB_RETURN_IF_ERROR(FsyncPath(path));
    if (::chmod(path.c_str(), it->second) != 0) {
      return FailedPrecondition("cannot set the mode of " + path + ": " + ErrnoText(errno));
    }
  }
  const fs::path parent = fs::path(target).parent_path();
  return FsyncPath(parent.empty() ? "." : parent.string());
}

}  // namespace

Result<RestoreSummary> RestoreBackup(const RestoreOptions& o) {
  if (o.in.empty()) return InvalidArgument("which backup? give the file (--in)");
  if (!o.check_only && o.data_dir.empty()) {
    return InvalidArgument("where to? give the new data directory (--data-dir)");
  }
  FileHandle fd(::open(o.in.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return NotFound("cannot open the backup " + o.in + ": " + ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument("the backup " + o.in + " must be a regular file (it is read twice)");
  }
  bool target_exists = false;
  if (!o.check_only) GOVESB_RETURN_IF_ERROR(CheckTarget(o.data_dir, target_exists));

  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<TarReader> first, TarReader::Open(fd.get(), o.in));
  GOVESB_ASSIGN_OR_RETURN(Contents contents, ReadContents(*first, o.in));
  GOVESB_ASSIGN_OR_RETURN(Manifest manifest, CheckContents(contents, o.in));
  RestoreSummary summary;
  for (const Manifest::File& f : manifest.files) summary.bytes += f.size;
  summary.manifest = std::move(manifest);
  if (o.check_only) return summary;

  // Written from here on: what goes wrong removes what was written.
  GOVESB_RETURN_IF_ERROR(CheckTarget(o.data_dir, target_exists));
  std::error_code ec;
  if (!target_exists) {
    const fs::path parent = fs::path(o.data_dir).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (::mkdir(o.data_dir.c_str(), 0700) != 0) {
      return FailedPrecondition("cannot create " + o.data_dir + ": " + ErrnoText(errno));
    }
  }
  struct Undo {
    const std::string& target;
    bool remove_target;
    bool done = false;
    ~Undo() {
      if (done) return;
      std::error_code ignored;
      if (remove_target) {
        fs::remove_all(target, ignored);
        return;
      }
      for (const auto& e : fs::directory_iterator(target, ignored))
        fs::remove_all(e.path(), ignored);
    }
  } undo{o.data_dir, !target_exists};
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
    return FailedPrecondition("cannot read " + o.in + " again: " + ErrnoText(errno));
  }
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<TarReader> second, TarReader::Open(fd.get(), o.in));
  GOVESB_RETURN_IF_ERROR(Extract(*second, o.data_dir, contents, o.in));
  undo.done = true;
  return summary;
}

}  // namespace govesb::backup
