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
      return Internal("cannot write " + what + ": " + ErrorText(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) {
    return Internal("cannot fsync the directory " + dir + ": " + ErrorText(errno));
  }
  return Status::Ok();
}

}  // namespace govesb::evidence
