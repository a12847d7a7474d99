#include "evidence/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace govesb::evidence {

void Fd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string ErrorText(int e) { return std::strerror(e); }

Status FileError(const std::string& what, int e) {
  std::string message = what + ": " + ErrorText(e);
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
    return ResourceExhausted(std::move(message) + " (the disk is full)");
  }
  return Unavailable(std::move(message));
}

bool IsFileFailure(const Status& status) {
  return status.code() == StatusCode::kUnavailable ||
         status.code() == StatusCode::kResourceExhausted;
}

std::string PaddedNumber(int64_t n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%012lld", static_cast<long long>(n));
  return buffer;
}

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError("cannot write " + what, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) {
    return FileError("cannot fsync the directory " + dir, errno);
  }
  return Status::Ok();
}

}  // namespace govesb::evidence
