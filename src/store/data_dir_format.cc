#include "store/data_dir_format.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

#include "base/version.h"
#include "crypto/key_ring.h"
#include "store/key_ring_file.h"
#include "store/small_files.h"

namespace govesb::store {
namespace {

constexpr std::string_view kMagic = "govesb-data-dir ";
constexpr std::string_view kWrittenBy = "written-by govesb ";

constexpr char kOldBusKeyFile[] = "esb-private-key.b64";

// Format 1 -> 2: the one bus key (keys/esb-private-key.b64) becomes the first key of the key
// ring (keys/esb-keys.json), signing since the key file was written. The ring is written
// before the old file is removed, so a crash between them leaves the ring, and running the
// step again only removes the old file.
Status MoveBusKeyIntoRing(const std::string& dir) {
  const std::string keys = dir + "/keys";
  const std::string old_path = keys + "/" + kOldBusKeyFile;
  GOVESB_ASSIGN_OR_RETURN(std::optional<std::string> ring,
                          ReadSmallFile(keys + "/" + kKeyRingFile));
  if (!ring.has_value()) {
    GOVESB_ASSIGN_OR_RETURN(std::optional<std::string> old_text, ReadSmallFile(old_path));
    if (!old_text.has_value()) return Status::Ok();  // no key yet: made when the bus first runs
    std::string_view text = *old_text;
    while (!text.empty() && std::string_view(" \t\r\n").find(text.back()) != std::string::npos) {
      text.remove_suffix(1);
    }
    auto key = crypto::PrivateKey::FromText(text);
    if (!key.ok()) {
      return FailedPrecondition("the bus key file " + old_path + " is corrupt (" +
                                key.status().message() + "); restore it from a backup");
    }
    struct stat st {};
    const int64_t since = ::stat(old_path.c_str(), &st) == 0
                              ? int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000
                              : 0;
    GOVESB_RETURN_IF_ERROR(ReplaceFileAtomically(
        keys, kKeyRingFile, KeyRingText(crypto::KeyRing::Single(*key, since, since))));
  }
  if (::unlink(old_path.c_str()) != 0 && errno != ENOENT) {
    return SmallFileError("cannot remove " + old_path, old_path, errno);
  }
  return FsyncDirectory(keys);
}

// This release's steps, from format 1 (the layout of the first release that recorded it, and of
// every release before). A release that changes the layout appends one here.
const std::vector<DataDirMigration>& ReleaseMigrations() {
  static const std::vector<DataDirMigration> steps = {
      {"the bus signing key moves from keys/esb-private-key.b64 into the key ring "
       "keys/esb-keys.json (key rotation)",
       MoveBusKeyIntoRing},
  };
  return steps;
}

Result<DataDirFormat> ParseFormatFile(const std::string& path, std::string_view text) {
  const size_t end = text.find('\n');
  std::string_view first = text.substr(0, end);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  int64_t version = 0;
  bool ok = first.starts_with(kMagic);
  if (ok) {
    const std::string_view number = first.substr(kMagic.size());
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), version);
    ok = ec == std::errc() && ptr == number.data() + number.size() && version >= 1;
  }
  if (!ok) {
    return FailedPrecondition(path +
                              " is not a data-directory format file (its first line should "
                              "be \"govesb-data-dir N\"); restore it from a backup");
  }
  DataDirFormat format;
  format.version = version;
  format.recorded = true;
  std::string_view rest = end == std::string_view::npos ? "" : text.substr(end + 1);
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    if (line.starts_with(kWrittenBy)) format.written_by = line.substr(kWrittenBy.size());
    rest = eol == std::string_view::npos ? "" : rest.substr(eol + 1);
  }
  return format;
}

}  // namespace

std::string DataDirFormatText(int64_t version) {
  return std::string(kMagic) + std::to_string(version) + "\n" + std::string(kWrittenBy) +
         std::string(GovesbVersion()) + "\n";
}

Result<DataDirFormat> ReadDataDirFormat(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return FailedPrecondition("cannot access " + dir + ": " + ec.message());
    }
    return NotFound("the data directory " + dir + " does not exist");
  }
  const std::string path = dir + "/" + kDataDirFormatFile;
  GOVESB_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadSmallFile(path, false));
  if (text.has_value()) return ParseFormatFile(path, *text);
  // No format file: new and empty, or made before versions were recorded.
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return FailedPrecondition("cannot read the data directory " + dir + ": " + ec.message());
  DataDirFormat format;
  format.version = it == std::filesystem::directory_iterator() ? 0 : 1;
  return format;
}

Status CheckDataDirFormat(const std::string& dir, const DataDirFormat& format, int64_t known) {
  if (format.version <= known) return Status::Ok();
  const std::string by =
      format.written_by.empty() ? "a newer govesb" : "govesb " + format.written_by;
  return FailedPrecondition(
      "the data directory " + dir + " is in format version " + std::to_string(format.version) +
      " (written by " + by + "), but this govesb (" + std::string(GovesbVersion()) +
      ") knows data-directory formats up to version " + std::to_string(known) +
      ": use a govesb at least as new as the one that wrote it (nothing in the directory was "
      "changed)");
}

Result<DataDirFormat> UpgradeDataDir(const std::string& dir,
                                     std::span<const DataDirMigration> migrations, bool stamp_new) {
  const auto target = static_cast<int64_t>(migrations.size()) + 1;
  GOVESB_ASSIGN_OR_RETURN(DataDirFormat format, ReadDataDirFormat(dir));
  GOVESB_RETURN_IF_ERROR(CheckDataDirFormat(dir, format, target));
  const bool current = format.recorded && format.version == target;
  if (current || (format.version == 0 && !stamp_new)) return format;

  // Something to change: under the lock, from what the directory holds now (another process
  // may have changed it meanwhile).
  GOVESB_ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Take(dir));
  GOVESB_ASSIGN_OR_RETURN(format, ReadDataDirFormat(dir));
  GOVESB_RETURN_IF_ERROR(CheckDataDirFormat(dir, format, target));
  if (format.version == 0) {
    if (!stamp_new) return format;
    GOVESB_RETURN_IF_ERROR(
        ReplaceFileAtomically(dir, kDataDirFormatFile, DataDirFormatText(target)));
    return ReadDataDirFormat(dir);
  }
  if (!format.recorded) {
    spdlog::info(
        "data directory {}: made before data-directory format versions were recorded, which is "
        "format version 1; recorded as such in {}/{}",
        dir, dir, kDataDirFormatFile);
    GOVESB_RETURN_IF_ERROR(ReplaceFileAtomically(dir, kDataDirFormatFile, DataDirFormatText(1)));
  }
  for (int64_t version = format.version; version < target; ++version) {
    const DataDirMigration& step = migrations[static_cast<size_t>(version - 1)];
    spdlog::info("data directory {}: migrating from format version {} to {}: {}", dir, version,
                 version + 1, step.what);
    Status ran = step.run(dir);
    if (!ran.ok()) {
      return Status(ran.code(), "cannot migrate the data directory " + dir + " from format " +
                                    std::to_string(version) + " to " + std::to_string(version + 1) +
                                    " (" + std::string(step.what) + "): " + ran.message() +
                                    "; it is still in format " + std::to_string(version));
    }
    GOVESB_RETURN_IF_ERROR(
        ReplaceFileAtomically(dir, kDataDirFormatFile, DataDirFormatText(version + 1)));
    spdlog::info("data directory {}: now in format version {}", dir, version + 1);
  }
  return ReadDataDirFormat(dir);
}

Result<DataDirFormat> UpgradeDataDir(const std::string& dir, bool stamp_new) {
  const std::vector<DataDirMigration>& steps = ReleaseMigrations();
  GOVESB_CHECK(static_cast<int64_t>(steps.size()) + 1 == kDataDirFormat);
  return UpgradeDataDir(dir, steps, stamp_new);
}

}  // namespace govesb::store
