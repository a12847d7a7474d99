#pragma once

// Backups of a data directory while a bus runs on it, and their restore (docs/backup.md).

#include <optional>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "base/result.h"

namespace govesb::backup {

struct BackupOptions {
  std::string data_dir = std::string();
  std::string out =
      std::string();  // the backup file to make; must not exist, and not be inside data_dir
  // Where the bus writes evidence archive files ("": DATA_DIR/evidence-archive, the bus's
  // default). Those the database lists are in the backup, under evidence-archive/.
  std::string archive_dir = std::string();
  // gzip-compressed (zlib); default: when `out` ends in ".gz" or ".tgz".
  std::optional<bool> gzip = std::nullopt;
};

struct BackupSummary {
  Manifest manifest;
  uint64_t bytes = 0;                // of the backup file
  int attempts = 1;                  // database copies made (the log moved on under the first)
  std::vector<std::string> skipped;  // what was not copied, and why (sockets, symlinks ...)
};

// Makes a consistent backup of the data directory `options.data_dir` into one file, without
// stopping a bus that runs on it (nothing in the directory is changed):
//  - each SQLite database (govesb.db, found by its header) through SQLite's online backup API
//    on a connection of its own: the database as of one commit;
//  - the evidence log's segment files up to what that copy of govesb.db records as committed
//    (evidence_commit_state), whole entries only: a bus started on the restored directory finds
//    exactly the records its database knows (evidence/segments.h CutLiveLog);
//  - the evidence archives that copy lists, checked against the SHA-256 it lists;
//  - every other file (keys, TLS files, the format file ...) as it is, with its mode.
// The file is a tar (gzip-compressed or not) whose last entries are a manifest (format
// versions, each file's path, kind, mode, size and SHA-256) and the manifest's SHA-256. It is
// written under a temporary name beside `out`, fsynced, then linked into place: `out` never
// holds half a backup. A directory in a newer data-directory format than this govesb knows is
// refused (data_dir_format.h).
Result<BackupSummary> MakeBackup(const BackupOptions& options);

struct RestoreOptions {
  std::string in = std::string();  // a backup file (made by MakeBackup)
  std::string data_dir =
      std::string();        // where to restore: must not exist, or be an empty directory
  bool check_only = false;  // check the backup (every hash) and write nothing
};

struct RestoreSummary {
  Manifest manifest;
  uint64_t bytes = 0;  // of the files restored (or checked)
};

// Restores a backup into a new data directory. The whole backup is read and checked first
// (its manifest's SHA-256, every file's size and SHA-256 against it, nothing missing or extra,
// format versions this govesb knows): a damaged, truncated or newer backup is refused with a
// clear error and nothing is written. A non-empty target is refused. Directories and files get
// the modes they had (keys 0600, directories 0700); they belong to the user who restores. A
// failure while writing removes what was written.
Result<RestoreSummary> RestoreBackup(const RestoreOptions& options);

}  // namespace govesb::backup
