#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace govesb::backup {

// What a backup holds and what it was made from (docs/backup.md, "The backup file"). Written as
// JSON into the archive after the files it describes (manifest.json), with its own SHA-256
// (manifest.sha256) so that damage to it is found too.
struct Manifest {
  static constexpr int64_t kFormatVersion = 1;
  static constexpr char kFormatName[] = "govesb-backup";

  struct Directory {
    std::string path;  // relative to the data directory
    mode_t mode = 0700;
  };
  struct File {
    std::string path;  // relative to the data directory
    // "database" (an online copy), "evidence-segment" (cut where the database's commits end),
    // "evidence-archive", "file" (copied as it is: keys, TLS files, the format file ...).
    std::string kind = "file";
    mode_t mode = 0600;
    uint64_t size = 0;
    std::string sha256;  // hex
  };

  int64_t format_version = kFormatVersion;
  std::string govesb_version;   // the release that made the backup
  int64_t data_dir_format = 0;  // the source directory's (data_dir_format.h)
  bool data_dir_format_recorded = false;
  std::string created_at;                          // RFC 3339, UTC
  std::string source;                              // the data directory's path, for the operator
  std::map<std::string, int64_t> database_schema;  // component -> version, of the copy
  int64_t evidence_committed_through = 0;          // the copy's evidence_commit_state
  int64_t evidence_archived_through = 0;           // the last record in an archive file (0: none)
  int64_t evidence_live_through = 0;               // the last record kept in the segment files
  std::vector<Directory> directories;
  std::vector<File> files;

  std::string ToJson() const;
  // kFailedPrecondition naming what is missing or malformed.
  static Result<Manifest> FromJson(std::string_view text);
};

}  // namespace govesb::backup
