#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "base/result.h"
#include "store/group_commit.h"

namespace govesb::bench {

// The floor under the bus's latency at a given rate on this machine: the work no bus can
// leave out, done by the smallest program that does it, without HTTP, JSON, routing or
// sockets. One thread (the "I/O" thread) takes arrivals evenly spaced at `rate` (open loop)
// and does for each what the bus's I/O thread must: SHA-256 of a 1 KB data text, two
// secp256k1 verifications and two signatures (through the crypto module the bus uses), plus
// `extra_us` of busy work standing for whatever else a bus does per exchange. Then it hands
// the exchange's evidence bytes to a writer thread, which appends each batch to a file
// preallocated with zeros and syncs it with fdatasync (natural group commit: the arrivals
// during a sync share the next; a commit starts no sooner than `min_commit_interval_us` after
// the previous one started, as the bus's writer does while the bus is busy), and wakes the first
// thread, which takes each exchange's latency from its scheduled arrival to the moment it sees the
// commit: when the bus could answer.
//
// Run it with the bus's CPU affinity (`taskset -c 0`) and the same rate as a bus row, and
// its p99 is what that rate costs on this core and disk whatever the bus does; the bus's p99
// beyond it is the bus's own.
struct FloorModelOptions {
  double rate = 1000;                         // arrivals per second
  std::chrono::milliseconds duration{10000};  // measured, after `warmup`
  std::chrono::milliseconds warmup{1000};
  double extra_us = 0;           // busy work per exchange besides the crypto
  size_t evidence_bytes = 3500;  // an exchange's four evidence records, as the bus writes
  // The least time between the starts of two commits: the bus's default (which it applies while
  // busy, as the model is at a bus row's rate).
  int64_t min_commit_interval_us = store::kDefaultMinCommitIntervalUs;
  std::string directory;  // where the file goes (the bus's data directory's disk)
};

struct FloorModelResult {
  uint64_t exchanges = 0;  // completed in the measured span
  double completed_per_s = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  double cpu_us_per_exchange = 0;  // the process's user + system time (both threads)
  double commits_per_s = 0;
  double exchanges_per_commit = 0;
};

// Runs the model on the calling thread (plus its writer thread) and removes its file.
// InvalidArgument for a rate that is not positive or above 1,000,000/s, a duration under
// 100 ms, an interval that is negative or over 100 ms, or a directory that is missing; the file's
// own errors as they come.
Result<FloorModelResult> RunFloorModel(const FloorModelOptions& options);

std::string FloorModelJson(const FloorModelOptions& options, const FloorModelResult& result);

}  // namespace govesb::bench
