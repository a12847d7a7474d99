#pragma once

// What the operating system says about this process (Linux /proc/self), for /metrics: CPU
// time, memory, open descriptors, threads, start time.

#include <cstdint>
#include <string>

#include "base/result.h"

namespace govesb {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  uint64_t resident_bytes = 0;    // RSS
  uint64_t virtual_bytes = 0;     // address space
  int64_t open_fds = 0;           // descriptors open now
  int64_t max_fds = 0;            // the soft RLIMIT_NOFILE
  int64_t threads = 0;            //
  double start_time_seconds = 0;  // since the Unix epoch
};

// Reads /proc/self/stat, /proc/self/fd and /proc/stat (boot time). kUnavailable where /proc
// cannot be read. Costs a few system calls and a directory listing: for a scrape, not a loop.
Result<ProcessStats> ReadProcessStats();

// The standard process_* families of Prometheus clients (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds) and process_threads.
void AppendProcessMetrics(const ProcessStats& stats, std::string& out);

}  // namespace govesb
