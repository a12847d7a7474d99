#pragma once

// The data directory's small files (keys, secrets, its format file): read whole, written
// atomically. Used by data_dir.cc and data_dir_format.cc; not a general file API.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"

namespace govesb::store {

// A failed file operation (`what`, e.g. "cannot write /d/keys/x") as an operator reads it: a
// full disk says so and names `path` (RLIMIT_FSIZE's EFBIG included: the same remedy), out of
// file descriptors is a passing condition (kUnavailable), the rest a kFailedPrecondition.
Status SmallFileError(const std::string& what, const std::string& path, int error);

// The whole file (at most 1 MB), or nullopt when it does not exist. With `secret`, a file
// readable by group or others is read with a warning.
Result<std::optional<std::string>> ReadSmallFile(const std::string& path, bool secret = true);

Status FsyncDirectory(const std::string& dir);

// Creates `dir/name` with `content` and `mode`, atomically and without replacing an existing
// file: the content goes to a temporary file that is fsynced and then hard-linked into place,
// and the directory is fsynced. kAlreadyExists when another process created the file first.
Status WriteNewFileAtomically(const std::string& dir, const std::string& name,
                              std::string_view content, mode_t mode = 0600);

// Writes `dir/name` with `content` and `mode`, replacing the file if it exists: a temporary
// file, fsynced, renamed over it, the directory fsynced. A crash leaves the old or the new
// content, never a mix.
Status ReplaceFileAtomically(const std::string& dir, const std::string& name,
                             std::string_view content, mode_t mode = 0600);

// Holds flock(LOCK_EX) on a directory until destroyed: processes changing the same files of
// the data directory (a migration, the key ring) take turns.
class DirectoryLock {
 public:
  static Result<DirectoryLock> Take(const std::string& dir);
  DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  DirectoryLock(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace govesb::store
