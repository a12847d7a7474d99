#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace govesb::limits {

// What a limiter has done since it was made. Counters only grow; keys is the current number
// of tracked keys.
struct LimiterStats {
  uint64_t admitted = 0;   // Admit/Check calls that were allowed
  uint64_t refused = 0;    // ... that were refused (a 429 each)
  uint64_t evictions = 0;  // keys forgotten while still holding state (the table was full)
  uint64_t keys = 0;       // keys tracked now
  uint64_t failures = 0;   // FailureLockout: failures recorded
  uint64_t lockouts = 0;   // FailureLockout: failures that started or lengthened a lock
};

struct NamedLimiterStats {
  std::string_view name;  // the `limiter` label: "system", "system_api", "token_client", ...
  LimiterStats stats;
};

// Appends the Prometheus text exposition of the given limiters, one family each with a
// `limiter` label:
//   govesb_rate_limit_admitted_total, govesb_rate_limited_total (refused),
//   govesb_rate_limit_evictions_total, govesb_rate_limit_keys (gauge),
//   govesb_rate_limit_failures_total, govesb_rate_limit_lockouts_total.
// Names are the caller's constants (not escaped).
void AppendPrometheus(std::string& out, std::span<const NamedLimiterStats> limiters);

}  // namespace govesb::limits
