#pragma once

// The bus's in-memory defences of one node, shared by every I/O thread: rate limits per system
// and per (system, API), lock-outs of failed credentials per client id and per address, the
// replay window, and the counts of signature variants per system (which the server flushes into
// the registry, so operators see which systems still need fallbacks). All thread-safe; bounded
// in memory; nothing here blocks.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "limits/failure_lockout.h"
#include "limits/keyed_rate_limiter.h"
#include "limits/rate.h"
#include "registry/model.h"
#include "registry/snapshot.h"
#include "replay/replay_window.h"
#include "wire/envelope.h"

namespace govesb::engine {

struct GuardOptions {
  // Requests per second (with burst) of one system, unless the registry sets its own.
  limits::Rate system_rate{500, 1000};
  // Requests per second of one consumer to one API, unless the API sets its own. Unlimited.
  limits::Rate api_rate{0, 0};
  // Failed client_credentials attempts, per client id and per client address (an address may
  // be a whole institution behind NAT: more free failures).
  limits::LockoutPolicy token_client{};
  limits::LockoutPolicy token_address{.free_failures = 20};
  // Replay window: the signed bytes each system sent are remembered this long (0: off).
  replay::ReplayWindowOptions replay{};
  bool replay_enabled = true;
};

// Verifications by signature variant, per system, since the last Take.
class SignatureUsageCounter {
 public:
  explicit SignatureUsageCounter(const Clock& clock) : clock_(clock) {}
  void Count(int64_t system_id, wire::SignatureVariant variant);
  // A request whose signed data showed the form the system signs in (wire::SignedStyle); taken
  // as usage entries "serialisation-jackson" / "serialisation-node".
  void CountStyle(int64_t system_id, wire::JsonStyle style);
  // The counts gathered since the last call (system ids, variant names, first and last use),
  // emptied; for Registry::RecordSignatureUsage.
  std::vector<registry::SignatureUsage> Take();
  // Totals since start, by variant (for /metrics).
  std::array<uint64_t, 4> Totals() const;
  // Totals since start per system id, by variant (for /metrics), ordered by system id.
  std::vector<std::pair<int64_t, std::array<uint64_t, 4>>> TotalsBySystem() const;

 private:
  struct Counts {
    std::array<int64_t, 4> count{};
    std::array<int64_t, 4> first_at{};
    std::array<int64_t, 4> last_at{};
  };
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<int64_t, Counts> pending_;
  struct StyleCounts {
    std::array<int64_t, 2> count{};
    std::array<int64_t, 2> first_at{};
    std::array<int64_t, 2> last_at{};
  };
  std::unordered_map<int64_t, StyleCounts> pending_styles_;
  // Since start (under mu_, taken by Count already): bounded by the registry's systems.
  std::unordered_map<int64_t, std::array<uint64_t, 4>> by_system_;
  std::array<std::atomic<uint64_t>, 4> totals_{};
};

// Token requests by what became of them, per consumer system (for /metrics). Only client ids
// of the registry become keys ("" for every other), so the keys are bounded by the registry.
class TokenCounter {
 public:
  enum class Outcome : uint8_t {
    kIssued = 0,
    kRefusedInvalid,      // not a client-credentials request (400, 405) or no credentials
    kRefusedCredentials,  // unknown client id or wrong secret (401)
    kRefusedLimit,        // locked out after failures, or the checks' lines full (429)
    kUnavailable,         // the bus is shutting down (503)
  };
  static constexpr int kOutcomes = 5;
  static std::string_view Name(Outcome o);

  // `client_id`: a registry system's, or "". Takes a short lock (token requests are few next to
  // exchanges, and each costs a secret check or a cache lookup already).
  void Count(std::string_view client_id, Outcome outcome);
  void AppendPrometheus(std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::array<uint64_t, kOutcomes>, std::less<>> counts_;
};

class Guards {
 public:
  Guards(const Clock& clock, GuardOptions options);

  const GuardOptions& options() const { return options_; }

  // The rate of a system, or of a consumer of an API, as the registry sets it (0: the bus
  // default, -1: unlimited).
  limits::Rate SystemRate(const registry::System& system) const;
  limits::Rate ApiRate(const registry::Api& api) const;

  // Cluster mode: the rates are the cluster's, and each of the `live_nodes` nodes behind an even
  // balancer enforces its share (rate and burst divided by it, a burst of at least 1). Set from
  // the heartbeats; 1 (the default) in the embedded default. Any thread.
  void SetClusterShare(int64_t live_nodes) {
    share_.store(live_nodes < 1 ? 1 : live_nodes, std::memory_order_relaxed);
  }
  int64_t cluster_share() const { return share_.load(std::memory_order_relaxed); }

  limits::KeyedRateLimiter& system_rates() { return system_rates_; }
  limits::KeyedRateLimiter& api_rates() { return api_rates_; }
  limits::FailureLockout& token_clients() { return token_clients_; }
  limits::FailureLockout& token_addresses() { return token_addresses_; }
  // Null when the replay window is off.
  replay::ReplayWindow* replay() { return options_.replay_enabled ? &replay_ : nullptr; }
  SignatureUsageCounter& usage() { return usage_; }

  // Counted as they happen, for /metrics.
  std::atomic<uint64_t> replays_refused{0};
  std::atomic<uint64_t> replays_recorded{0};  // pulls answered although repeated

  TokenCounter& tokens() { return tokens_; }

  // Prometheus text of every counter above and of the limiters. `snapshot` names the systems
  // of the signature counts (systems no longer in it are left out).
  void AppendPrometheus(const registry::Snapshot& snapshot, std::string& out) const;

 private:
  GuardOptions options_;
  limits::KeyedRateLimiter system_rates_;
  limits::KeyedRateLimiter api_rates_;
  limits::FailureLockout token_clients_;
  limits::FailureLockout token_addresses_;
  replay::ReplayWindow replay_;
  SignatureUsageCounter usage_;
  TokenCounter tokens_;
  std::atomic<int64_t> share_{1};
};

}  // namespace govesb::engine
