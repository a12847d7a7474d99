#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "base/result.h"

namespace govesb::bench {

// `govesb bench token-attack`: `connections` attackers, each a thread with one keep-alive
// connection to a plain-HTTP bus, post client_credentials requests with wrong secrets for one
// client id back to back for `duration`, ignoring any Retry-After (an attacker would). For
// measuring what a brute force costs everyone else (bench/run runs a legitimate `bench run`
// beside it). Loopback use only; stops by itself.
struct TokenAttackOptions {
  std::string url;        // http://HOST:PORT
  std::string client_id;  // the client id attacked (not the legitimate consumer's)
  size_t connections = 100;
  std::chrono::milliseconds duration{10'000};
  std::chrono::milliseconds request_timeout{30'000};
};

struct TokenAttackReport {
  uint64_t attempts = 0;              // answered attempts
  std::map<int, uint64_t> by_status;  // HTTP status -> answers
  uint64_t transport_errors = 0;      // connect/read/write failures, timeouts
  uint64_t connects = 0;              // connections opened (reconnects after a close)
  uint64_t with_retry_after = 0;      // answers carrying Retry-After
  double elapsed_s = 0;
};

Result<TokenAttackReport> RunTokenAttack(const TokenAttackOptions& options);

// {"attempts","attempts_per_s","by_status":{"401":n,…},"with_retry_after","transport_errors",
//  "connects","connections","elapsed_s"}
std::string TokenAttackJson(const TokenAttackReport& report, const TokenAttackOptions& options);

}  // namespace govesb::bench
