#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace govesb::store {

// The version of the data directory's layout (docs/upgrades.md): what files it holds, where,
// in which formats, outside the database's tables (which have their own versions per component,
// store::Migrate). A release that changes the layout raises it and adds a migration step.
//
// It is recorded in the file DIR/format, written atomically:
//
//   govesb-data-dir 2
//   written-by govesb 0.1.0
//
// A file rather than a row of the database, because it must be read before anything else is
// opened: an older bus refuses a newer directory without touching it (opening the database
// would already create its -wal and -shm files, and the database may be in a layout the older
// bus cannot read at all), and the layout covers more than the database (keys, evidence segment
// files, archives, TLS files). An operator can read it with `cat`.
inline constexpr int64_t kDataDirFormat = 2;
inline constexpr char kDataDirFormatFile[] = "format";

struct DataDirFormat {
  // 0: a new, empty directory. A directory with files but no format file was made before
  // format versions were recorded: version 1, the layout of that release.
  int64_t version = 0;
  bool recorded = false;   // DIR/format exists
  std::string written_by;  // the govesb release that wrote it ("" when unknown)
};

// Reads the format of the directory `dir` without changing anything. kFailedPrecondition when
// its format file cannot be read or is not one; kNotFound when `dir` does not exist.
Result<DataDirFormat> ReadDataDirFormat(const std::string& dir);

// Ok when this govesb, which knows formats up to `known`, can use a directory in `format`;
// otherwise kFailedPrecondition naming both versions and telling to use a newer govesb.
Status CheckDataDirFormat(const std::string& dir, const DataDirFormat& format,
                          int64_t known = kDataDirFormat);

// One step of the layout: takes a directory from its version (its index in the list + 1) to
// the next. `run` must be safe to run again after a crash halfway (the version is written
// after it).
struct DataDirMigration {
  std::string_view what;  // what it changes, for the log
  std::function<Status(const std::string& dir)> run;
};

// Brings `dir` to the format `migrations.size() + 1`: refuses a newer one (CheckDataDirFormat,
// nothing changed); runs the steps from its version on, writing the version after each one;
// stamps a directory made before versions were recorded; and, with `stamp_new`, stamps a new
// (empty) one. Each change is logged. Holds an exclusive lock on the directory (flock) while it
// changes anything, so that processes starting together migrate once. Returns the format the
// directory is in now.
Result<DataDirFormat> UpgradeDataDir(const std::string& dir,
                                     std::span<const DataDirMigration> migrations, bool stamp_new);
// The same with this release's steps (to kDataDirFormat).
Result<DataDirFormat> UpgradeDataDir(const std::string& dir, bool stamp_new);

// The format file's content for `version`, written by this release.
std::string DataDirFormatText(int64_t version);

}  // namespace govesb::store
