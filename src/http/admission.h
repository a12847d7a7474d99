#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace govesb::http {

// Counts open connections in total and per client address, and decides whether a new one is
// admitted. The accept loop calls TryAdmit; each admitted connection calls Release exactly
// once when it closes, from whichever I/O thread it lives on (hence the mutex: one short
// critical section per accept and per close, never on the request path).
class ConnectionAdmission {
 public:
  enum class Verdict { kAdmit, kOverTotal, kOverAddress };

  // max_per_address 0: no per-address cap.
  ConnectionAdmission(size_t max_total, size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // Counts the connection when it is admitted.
  Verdict TryAdmit(const std::string& address);
  void Release(const std::string& address);

  size_t open() const;
  size_t open_from(const std::string& address) const;
  size_t max_total() const { return max_total_; }
  size_t max_per_address() const { return max_per_address_; }

 private:
  const size_t max_total_;
  const size_t max_per_address_;
  mutable std::mutex mu_;
  size_t open_ = 0;
  std::unordered_map<std::string, size_t> per_address_;
};

// Counters of HttpServer, for /metrics (see PrometheusText).
struct HttpServerStats {
  size_t open_connections = 0;
  size_t max_connections = 0;        // the effective cap (after SafeConnectionLimit)
  uint64_t refused_total = 0;        // over max_connections
  uint64_t refused_per_address = 0;  // over max_connections_per_address
  uint64_t handshake_timeouts = 0;   // TLS connections that did not finish the handshake in time
  uint64_t accept_errors = 0;        // accept() failures (EMFILE, ENFILE, ENOBUFS, ...)
  uint64_t memory_trims = 0;         // times freed memory was handed back after a burst
};

// Prometheus text exposition of the stats: govesb_http_connections_open,
// govesb_http_connections_max, govesb_http_connections_refused_total{reason="total|per_address"},
// govesb_http_tls_handshake_timeouts_total, govesb_http_accept_errors_total,
// govesb_http_memory_trims_total.
std::string PrometheusText(const HttpServerStats& stats);

// File descriptors kept free for everything that is not a client connection: the database
// and evidence files, connections to providers and subscribers, logs. At least 512, or a fifth
// of the limit when that is more.
size_t ReservedFileDescriptors(size_t open_file_limit);

// The connection cap actually used: `requested`, but never more than the open-file limit
// minus ReservedFileDescriptors (and at least 1). open_file_limit 0: unknown, `requested`.
size_t SafeConnectionLimit(size_t requested, size_t open_file_limit);

// Raises this process's soft RLIMIT_NOFILE to its hard limit and returns the soft limit now in
// force (0 when it cannot be read). Call once at start, from the main thread.
size_t RaiseOpenFileLimit();

// The current soft RLIMIT_NOFILE (0 when it cannot be read).
size_t OpenFileLimit();

// Hands memory freed by the allocator back to the operating system (tcmalloc's
// MallocExtension_ReleaseFreeMemory where the binary links tcmalloc, else glibc malloc_trim).
// Costs milliseconds with a large heap: call it rarely (HttpServer does after bursts of
// closes, from a timer). Returns false where not supported.
bool ReleaseFreeMemory();

}  // namespace govesb::http
