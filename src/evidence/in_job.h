#pragma once

#include "base/status.h"
#include "evidence/record.h"
#include "store/group_commit.h"

namespace govesb::evidence {

// The seam through which another module's write job appends evidence in its own transaction
// (EvidenceLog::AppendInJob: a push, its deliveries and their evidence in one commit). A commit
// participant of the group-commit writer that keeps an evidence chain implements it (the
// PostgreSQL chain, pg_chain.h); the embedded log's SegmentWriter is reached directly, without
// this interface, on its fast path.
class InJobAppender {
 public:
  virtual ~InJobAppender() = default;
  // Appends `records` (in order, numbered after every record appended before them) inside the
  // job running on `ctx`: they commit with the job's other writes, or are undone with them when
  // the job or its batch fails. Called on the writer thread, from the job.
  virtual Status AppendInJob(store::WriteContext& ctx, const PreparedRecords& records) = 0;
};

}  // namespace govesb::evidence
