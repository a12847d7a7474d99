#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "bench/histogram.h"
#include "bench/workload.h"

namespace govesb::bench {

// How a request can fail, as the generator sees it.
enum class ErrorKind {
  kTransport,  // connect, TLS, reset, closed, timeout, unreadable HTTP
  kHttp4xx,    // any non-2xx status below 500 (401: token; 413: body too large ...)
  kHttp5xx,
  kRefused,  // HTTP 2xx but the envelope does not start {"data":{"success":true
  kUnsent,   // open loop: scheduled in the window but still queued when the drain limit passed
};
inline constexpr size_t kErrorKinds = 5;
// "transport", "http_4xx", "http_5xx", "refused", "unsent".
std::string_view ErrorKindName(ErrorKind kind);

// A snapshot handed to LoadOptions::on_progress, on the generator's thread.
struct Progress {
  double elapsed_s = 0;    // since the start of the warmup
  std::string_view phase;  // "warmup", "measure", "drain"
  uint64_t completed = 0;  // responses (and failures) so far, warmup included
  uint64_t ok = 0;
  uint64_t errors = 0;
  double recent_rps = 0;     // completions per second over the last interval
  double recent_p99_ms = 0;  // p99 latency of the ok responses of the last interval
  size_t in_flight = 0;
  size_t backlog = 0;  // open loop: due requests waiting for a free connection
};

struct LoadOptions {
  // Bus base URL, http:// or https:// (a path prefix is kept); requests go to
  // <url>/engine/esb/request, or /engine/esb/push-request in push mode.
  std::string url;
  std::string ca_file;       // extra CA to trust for https
  std::string access_token;  // sent as "Authorization: Bearer <token>" (none when empty)
  // Post to `url` itself instead of <url>/engine/esb/...: the provider stub, or a reverse proxy
  // in front of it (the pass-through reference rows of the benchmark).
  bool exact_url = false;
  size_t connections = 64;
  std::chrono::duration<double> duration{10.0};  // measured window
  std::chrono::duration<double> warmup{2.0};     // before it, excluded from every figure
  // Open loop: requests scheduled every 1/rate seconds from the start, whatever the answers,
  // with latency measured from the scheduled time (so a stalled bus cannot hide its queueing:
  // no coordinated omission). 0: closed loop, each connection sends its next request as soon
  // as the previous answer arrived, and latency is measured from the send.
  double rate = 0;
  // Per request: connect (if needed), send and complete answer. Also how long the generator
  // waits after the window for answers and queued requests.
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds progress_interval{1000};
  std::function<void(const Progress&)> on_progress;  // optional
};

struct LoadReport {
  Mode mode = Mode::kRequest;
  size_t connections = 0;
  double duration_s = 0;
  double warmup_s = 0;
  double rate_target = 0;  // 0: closed loop
  // Requests started (closed loop: sent; open loop: scheduled) inside the measured window.
  uint64_t requests = 0;  // ok + all errors
  uint64_t ok = 0;
  std::array<uint64_t, kErrorKinds> errors{};
  std::array<std::string, kErrorKinds> first_error;  // a sample message per kind
  // From the end of the warmup to the end of the window or the last answer of a request of
  // the window, whichever is later.
  double elapsed_s = 0;
  double throughput_rps = 0;  // requests / elapsed_s
  double ok_rps = 0;          // ok / elapsed_s
  Histogram latency_ns;       // ok responses of the window
  // Closed loop with more requests than pre-signed envelopes: how many requests of the run
  // (warmup included) re-sent an envelope (same body and signature) already sent.
  uint64_t reused_envelopes = 0;
  uint64_t warmup_requests = 0;    // completed requests started during the warmup
  uint64_t connects = 0;           // connections opened, including reconnects
  uint64_t closed_while_idle = 0;  // found unusable (ended by the server) before reuse, reopened
  size_t body_size = 0;
  std::string curve;  // of the consumer key (filled by RunBench)
  size_t presigned = 0;

  uint64_t error_total() const;
};

// Drives `requests` at the bus with one thread and its own io_context: `connections`
// keep-alive HTTP/1.1 connections (plain or TLS), each a coroutine. The generator never signs
// or verifies during the run; a response is judged by its status and the first bytes of its
// body. Blocking: returns when the window is over and the answers to it are in (bounded by
// the timeout). Fails only when no connection at all can be opened at the start.
Result<LoadReport> RunLoad(const RequestSet& requests, const LoadOptions& options);

// A one-line summary of a Progress, for a terminal status line.
std::string ProgressLine(const Progress& progress);
// The report as one JSON object (see README.md) and as a readable table.
std::string LoadReportJson(const LoadReport& report);
std::string LoadReportTable(const LoadReport& report);

}  // namespace govesb::bench
