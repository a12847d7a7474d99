#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "base/result.h"
#include "bench/loadgen.h"
#include "bench/workload.h"

namespace govesb::bench {

// `govesb bench run`: a consumer profile (as written by SetupBench or used by `govesb call`),
// a token from the bus through the SDK, pre-signed envelopes, then RunLoad.
struct BenchRunOptions {
  std::string url;      // bus base URL; empty: the profile's "url"
  std::string profile;  // JSON file: url, client_id, client_secret, private_key,
                        // esb_public_key, [ca_file], [api_code]
  std::string ca_file;  // empty: the profile's "ca_file", if any
  Mode mode = Mode::kRequest;
  std::string code;  // apiCode / pushCode; empty: the profile's "api_code", else "BNCH01"
  size_t connections = 64;
  double duration_s = 10;
  double warmup_s = 2;
  double rate = 0;  // 0: closed loop
  size_t body_size = 1024;
  bool birth_record = false;  // WorkloadOptions::birth_record
  std::chrono::milliseconds timeout{30'000};
  // Closed loop: at most this many envelopes, and no more than presign_budget of signing (on
  // every core). Open loop signs ceil(rate * (warmup + duration) * 1.1), whatever it takes.
  size_t max_pool = 200'000;
  std::chrono::milliseconds presign_budget{3000};
  // No token, and requests go to `url` itself: for measuring the provider stub directly or
  // through a reverse proxy (the reference rows), not the bus.
  bool raw = false;
  std::function<void(const Progress&)> on_progress;
  std::function<void(const std::string&)> on_note;  // "pre-signing ..." lines
};

Result<LoadReport> RunBench(const BenchRunOptions& options);

}  // namespace govesb::bench
