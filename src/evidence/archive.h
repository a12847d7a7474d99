#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "evidence/store.h"
#include "store/database.h"

namespace govesb::evidence {

struct ArchiveOptions {
  std::string archive_dir;  // created when missing
  // Records sealed by checkpoints made before this time (ms since the epoch) are archived.
  int64_t cutoff_ms = 0;
  // An archive file holds whole checkpoints, at most about this many records (a single larger
  // checkpoint still goes into one file).
  int64_t max_records_per_file = 200'000;
};

// Retention: moves the records of whole signed checkpoints made before `cutoff_ms` out of the
// live log (segment files) into sealed gzip archive files (format in records.h), so that the
// live log stays small. Each file is written, fsync'd and renamed into place, then listed in
// evidence_archives (and its records' index rows deleted) in one transaction; a crash
// between the two leaves the records live (the file is written again next time). Segment
// files whose records are all archived are then deleted (the one being appended to never). The
// chain continues across files: each header carries the chain value before its first record.
// Refuses (changing nothing) when the records to archive do not match their stored hashes or
// chain: archiving must never launder a damaged log.
Result<ArchiveSummary> ArchiveSealed(store::Database& db, const ArchiveOptions& options);

}  // namespace govesb::evidence
