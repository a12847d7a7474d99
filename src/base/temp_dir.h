#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "base/result.h"

namespace govesb {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
// For tests and tools; not for the request path.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "govesb-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    GOVESB_CHECK(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace govesb
