#include "existing_data_dir.h"

#include <filesystem>

namespace govesb::apps {

Result<store::DataDir> OpenExistingDataDir(const std::string& path, std::string_view command) {
  Result<store::DataDir> dir = store::DataDir::Open({.path = path, .create = false});
  if (dir.ok() || dir.status().code() != StatusCode::kNotFound) return dir;
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  const std::string shown = ec ? path : absolute.lexically_normal().string();
  return NotFound("no bus data directory at " + shown + " (" + dir.status().message() + "): `" +
                  std::string(command) +
                  "` works on the data directory of an existing bus and never creates one. "
                  "Point it at that bus's directory with --data-dir DIR (or GOVESB_DATA_DIR); "
                  "`govesb serve` prints it when it starts. To set up a new bus, run "
                  "`govesb init --data-dir DIR` (or `govesb serve --data-dir DIR`).");
}

}  // namespace govesb::apps
