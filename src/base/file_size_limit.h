#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>

#include "base/result.h"

namespace govesb {

// For tests: while alive, no file of this process can be written at or past `offset` (as on a
// full disk): RLIMIT_FSIZE is lowered to it, and SIGXFSZ ignored so that such a write fails
// with EFBIG instead of ending the process. Both are restored on destruction. Process-wide:
// not for the request path.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t offset) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    GOVESB_CHECK(::sigaction(SIGXFSZ, &ignore, &signal_before_) == 0);
    GOVESB_CHECK(::getrlimit(RLIMIT_FSIZE, &limit_before_) == 0);
    rlimit limited = limit_before_;
    limited.rlim_cur = offset;
    GOVESB_CHECK(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  }
  ~FileSizeLimit() {
    GOVESB_CHECK(::setrlimit(RLIMIT_FSIZE, &limit_before_) == 0);
    ::sigaction(SIGXFSZ, &signal_before_, nullptr);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  struct sigaction signal_before_ {};
  rlimit limit_before_{};
};

}  // namespace govesb
