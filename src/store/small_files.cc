#include "store/small_files.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace govesb::store {
namespace {

std::string ErrnoText(int error) { return std::generic_category().message(error); }

// Closes a POSIX file descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { Close(); }
  int get() const { return fd_; }
  // Returns close()'s errno (0 on success): close can report a delayed write error.
  int Close() {
    if (fd_ < 0) return 0;
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Writes `content` into a new temporary file of `dir` (mode `mode`, fsynced, closed) and
// returns its path; the caller links or renames it into place and removes it.
Result<std::string> WriteTemporary(const std::string& dir, const std::string& name,
                                   std::string_view content, mode_t mode) {
  // Errors name the file being written (the temporary's name tells an operator nothing).
  const std::string final_path = dir + "/" + name;
  std::string temp_path = dir + "/." + name + ".tmp-XXXXXX";
  FileDescriptor fd(::mkstemp(temp_path.data()));  // mode 0600
  if (fd.get() < 0) return SmallFileError("cannot create a file in " + dir, final_path, errno);
  auto failed = [&](Status status) {
    ::unlink(temp_path.c_str());
    return status;
  };
  if (::fchmod(fd.get(), mode) != 0) {
    return failed(FailedPrecondition("cannot chmod " + temp_path + ": " + ErrnoText(errno)));
  }
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed(SmallFileError("cannot write " + temp_path, final_path, errno));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return failed(SmallFileError("cannot fsync " + temp_path, final_path, errno));
  }
  if (int error = fd.Close(); error != 0) {
    return failed(SmallFileError("cannot write " + temp_path, final_path, error));
  }
  return temp_path;
}

}  // namespace

Status SmallFileError(const std::string& what, const std::string& path, int error) {
  const std::string detail = what + ": " + ErrnoText(error);
  if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
    return ResourceExhausted("the disk holding " + path +
                             " is full; free some space and try again (" + detail + ")");
  }
  if (error == EMFILE || error == ENFILE) return Unavailable(detail);
  return FailedPrecondition(detail);
}

Result<std::optional<std::string>> ReadSmallFile(const std::string& path, bool secret) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return FailedPrecondition("cannot read " + path + ": " + ErrnoText(errno));
  }
  struct stat st {};
  if (secret && ::fstat(fd.get(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("{} is accessible to group or others (mode {:o}); it should be 0600", path,
                 st.st_mode & 0777);
  }
  std::string content;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailedPrecondition("cannot read " + path + ": " + ErrnoText(errno));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > (1 << 20)) return FailedPrecondition(path + " is too large");
  }
  return std::optional<std::string>(std::move(content));
}

Status FsyncDirectory(const std::string& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return FailedPrecondition("cannot fsync directory " + dir + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

Status WriteNewFileAtomically(const std::string& dir, const std::string& name,
                              std::string_view content, mode_t mode) {
  const std::string final_path = dir + "/" + name;
  GOVESB_ASSIGN_OR_RETURN(std::string temp_path, WriteTemporary(dir, name, content, mode));
  const int linked = ::link(temp_path.c_str(), final_path.c_str());
  const int error = errno;
  ::unlink(temp_path.c_str());
  if (linked != 0) {
    if (error == EEXIST) return AlreadyExists(final_path + " already exists");
    return SmallFileError("cannot create " + final_path, final_path, error);
  }
  return FsyncDirectory(dir);
}

Status ReplaceFileAtomically(const std::string& dir, const std::string& name,
                             std::string_view content, mode_t mode) {
  const std::string final_path = dir + "/" + name;
  GOVESB_ASSIGN_OR_RETURN(std::string temp_path, WriteTemporary(dir, name, content, mode));
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp_path.c_str());
    return SmallFileError("cannot replace " + final_path, final_path, error);
  }
  return FsyncDirectory(dir);
}

Result<DirectoryLock> DirectoryLock::Take(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SmallFileError("cannot open the directory " + dir, dir, errno);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int error = errno;
    ::close(fd);
    return SmallFileError("cannot lock the directory " + dir, dir, error);
  }
  return DirectoryLock(fd);
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace govesb::store
