#pragma once

// Reading the persisted traffic counters for the admin API's charts and tables. Queries read
// the database only: the current minute appears as far as the bus has flushed it (the server
// flushes every few seconds).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/database.h"
#include "traffic/counters.h"

namespace govesb::traffic {

// Which side of an exchange the systems of a filter must be on.
enum class Role { kEither, kConsumer, kProvider };

struct SeriesFilter {
  int64_t from_ms = 0;       // rounded down to its minute
  int64_t to_ms = 0;         // exclusive; rounded up to a minute
  int step_minutes = 1;      // 1 to 1440; ignored by Totals
  std::string code;          // an API or push code; "": every code
  std::optional<Kind> kind;  // none: every kind
  // client_ids (an institution's systems); empty: every system. With kEither a row matches
  // when its consumer or its provider is one of them.
  std::vector<std::string> systems;
  Role role = Role::kEither;
};

// Limits on a filter (bad input is refused with InvalidArgument, changing nothing).
inline constexpr int64_t kMaxPoints = 10'080;  // a week of minutes
inline constexpr size_t kMaxSystems = 1'000;
inline constexpr size_t kMaxCodeLength = 128;

// What a set of exchanges came to. Latency is the total time (bus and provider) per
// exchange, from merged histograms (within 6.25%, see histogram.h); 0 when there were none.
struct Figures {
  uint64_t requests = 0;
  std::array<uint64_t, kOutcomeCount> by_outcome{};  // indexed by Outcome
  uint64_t errors = 0;                               // see IsError
  int64_t p50_us = 0;
  int64_t p99_us = 0;
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
};

struct Point {
  int64_t start_ms = 0;  // the first minute of the step
  Figures figures;
};

// One point per step from from_ms to to_ms, empty steps included (zero figures), oldest
// first.
Result<std::vector<Point>> Series(store::Database& db, const SeriesFilter& filter);

enum class GroupBy {
  kCode,    // per API or push code (rows with an unknown code are left out)
  kSystem,  // per system that took part, as consumer or provider (with `systems`, only those)
};

struct TotalsRow {
  std::string key;  // the code or the client_id
  Figures figures;
};

// The busiest codes or systems over the filter's range, most requests first, at most `limit`
// (1 to 1000).
Result<std::vector<TotalsRow>> Totals(store::Database& db, const SeriesFilter& filter, GroupBy by,
                                      size_t limit = 50);

}  // namespace govesb::traffic
