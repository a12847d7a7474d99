#pragma once

// Small POSIX file helpers of the evidence module (segment files, archives).

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace govesb::evidence {

// An owned file descriptor (-1: none), closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// Writes all of `data` (retrying short writes and EINTR).
Status WriteAll(int fd, std::string_view data, const std::string& what);
// fsync of a directory, so that files created or renamed in it stay after a crash.
Status SyncDirectory(const std::string& dir);
// The text of errno `e`.
std::string ErrorText(int e);
// A file of the log that could not be opened, read or written (`what`, e.g. "cannot open the
// evidence segment /d/evidence-log/000000000001.seg"), with errno `e`: the environment, never
// damage (which is kInternal). kResourceExhausted when the disk is full (ENOSPC, EDQUOT, and
// EFBIG past RLIMIT_FSIZE), kUnavailable otherwise (out of file descriptors, permissions, an
// I/O error, a file removed meanwhile): the work can be tried again later.
Status FileError(const std::string& what, int e);
// Whether a failure is of that kind (kUnavailable, kResourceExhausted), not damage: it passes,
// and the work can be tried again later.
bool IsFileFailure(const Status& status);
// `n` in 12 digits, zero-padded, as in the names of segment and archive files.
std::string PaddedNumber(int64_t n);

}  // namespace govesb::evidence
