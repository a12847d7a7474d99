#pragma once

#include <cstdint>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "evidence/files.h"
#include "evidence/store.h"

namespace govesb::evidence {

// The evidence log's upkeep, one round at a time on the bus's evidence thread (one thread
// calls it): seal the records written since the last checkpoint (EvidenceStore::Seal), index
// the committed records (IndexCommitted), and archive the checkpoints older than the
// retention (Archive), through the store's port; and between those
// rounds, every `index_interval_ms`, index the records committed since (RunIndexing), so that a
// search reads from the files only the last second or so of records, not a whole interval's.
//
// A round that fails on a file (IsFileFailure: "cannot open the evidence segment ...: Too many
// open files") is not damage and is not reported as damage: it is logged once per kind of
// failure, as a warning, and the next round waits, twice as long after each such failure (the
// interval, then 2, 4, 8 ... times it, at most `max_backoff_ms`). The first round that works
// again says so. Any other failure (damage to the log, kInternal) is logged as an error every
// round, with no back-off.
class EvidenceMaintenance {
 public:
  struct Options {
    int64_t interval_ms = 60'000;      // between rounds (the caller's timer)
    int64_t index_interval_ms = 1000;  // between indexings (the caller's timer)
    int64_t max_backoff_ms = 10 * 60'000;
    int64_t retention_ms = 0;  // 0: nothing is archived (the store knows where archives go)
  };

  EvidenceMaintenance(EvidenceStore& store, const Clock& clock, Options options)
      : store_(store), clock_(clock), options_(std::move(options)) {}

  // Runs one round now, unless a back-off after a file failure says to wait (then nothing is
  // done and the result is Ok). The result is the round's first failure.
  Status RunRound();
  // Between rounds, every index_interval_ms (the caller's timer): only the indexing of the
  // records committed since the last (EvidenceStore::IndexCommitted). Nothing while backing off; a
  // file failure backs off as a round's does.
  Status RunIndexing();

  // When the next round may run (the clock's ms); 0 when no back-off is pending.
  int64_t next_round_ms() const { return next_round_ms_; }
  // Rounds in a row that failed on a file.
  int file_failures() const { return file_failures_; }

 private:
  Status Round();
  void Failed(const char* step, const Status& status);
  // The back-off after a round or indexing that ended with `status` at `now`.
  Status Settle(int64_t now, Status status);

  EvidenceStore& store_;
  const Clock& clock_;
  Options options_;
  int64_t next_round_ms_ = 0;
  int file_failures_ = 0;
  std::string last_logged_;  // the kind of file failure logged last ("" after a success)
};

}  // namespace govesb::evidence
