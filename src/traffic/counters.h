#pragma once

// Per-minute traffic counters: what every exchange of the bus adds, per minute, API or push
// code, consumer and provider, and how they reach the database. Queries are in query.h.

#include <array>
#include <atomic>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "traffic/histogram.h"

namespace govesb::store {
class Database;
}

namespace govesb::traffic {

// What an exchange was. Part of the key: an API code and a push code may be equal.
enum class Kind : uint8_t { kPull = 0, kIdentity = 1, kPush = 2, kAsyncAnswer = 3 };
inline constexpr int kKindCount = 4;
// "pull", "identity", "push", "async-answer".
std::string_view KindName(Kind k);

// How an exchange ended, as the portal charts it. Errors are every class but kSuccess and
// kProviderDeclined (the provider answered success:false, a business answer such as "record
// not found": not a failure of the bus or of the provider).
enum class Outcome : uint8_t {
  kSuccess = 0,
  kProviderDeclined,  // the provider answered success:false
  kRefusedAuth,       // token, signature, grant or publisher checks
  kRefusedLimit,      // a rate limit (429)
  kRefusedInvalid,    // unreadable request, unknown code
  kRefusedOther,      // replay, disabled provider, a feature not enabled ...
  kProviderFailure,   // unreachable, not an envelope, bad reply signature
  kProviderTimeout,   // no answer within the API's timeout
  kBusFailure,        // the bus could not store or record the exchange, or a bug
};
inline constexpr int kOutcomeCount = 9;
// "success", "provider_declined", "refused_auth", ... (the enumerator in snake case).
std::string_view OutcomeName(Outcome o);
bool IsError(Outcome o);

// Where an exchange ended: with its Status code this decides its Outcome.
enum class Phase : uint8_t {
  kChecks,    // the bus's own checks (parse ... replay)
  kStoring,   // storing a push, an asynchronous answer or an awaited answer durably, or
              // writing the exchange's evidence
  kProvider,  // the provider was called: its failure, timeout or answer
};

// The one mapping from the bus's Status codes to outcome classes:
//   any phase      kOk -> kSuccess; kInternal -> kBusFailure
//   kChecks        kUnauthenticated, kPermissionDenied, kBadSignature -> kRefusedAuth;
//                  kResourceExhausted -> kRefusedLimit; kInvalidArgument, kNotFound ->
//                  kRefusedInvalid; everything else -> kRefusedOther
//   kStoring       kUnavailable, kResourceExhausted -> kBusFailure; the rest as kChecks (an
//                  asynchronous answer nobody awaits is refused while storing it)
//   kProvider      kFailedPrecondition (success:false) -> kProviderDeclined;
//                  kDeadlineExceeded -> kProviderTimeout; everything else -> kProviderFailure
Outcome OutcomeOf(StatusCode code, Phase phase);

// One exchange, as the engine reports it when its answer leaves. The strings are only read
// during Record. Empty consumer or provider: unknown (not authenticated, a push, ...).
struct Observation {
  int64_t at_ms = 0;  // when the exchange began (the bus clock)
  Kind kind = Kind::kPull;
  Outcome outcome = Outcome::kSuccess;
  std::string_view code;      // API or push code, "" when unknown
  std::string_view consumer;  // client_id
  std::string_view provider;  // client_id
  int64_t bus_us = 0;         // time spent in the bus (total minus provider)
  int64_t provider_us = 0;    // time waiting for the provider (0 when not called)
  int64_t request_bytes = 0;
  int64_t response_bytes = 0;
};

// Request and response sizes by bucket (for Prometheus, kept in memory only, not in the
// database): at most 256 bytes, 1 KiB, 4 KiB ... 16 MiB (powers of four), and more.
inline constexpr int kSizeBuckets = 10;
inline constexpr std::array<uint64_t, kSizeBuckets - 1> kSizeBounds = {
    256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20};
int SizeBucketOf(int64_t bytes);

// What one key counted in one minute. Plain value: merged by adding.
struct Counts {
  std::array<uint64_t, kOutcomeCount> by_outcome{};
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
  uint64_t bus_us_sum = 0;
  uint64_t provider_us_sum = 0;
  LatencyHistogram latency;   // total time, for p50/p99
  LatencyHistogram bus;       // bus time (issue 17: Prometheus, bus versus provider time)
  LatencyHistogram provider;  // provider time, of exchanges that called one
  // Not stored in the database (rows read back have none): for the Prometheus totals.
  std::array<uint64_t, kSizeBuckets> request_sizes{};
  std::array<uint64_t, kSizeBuckets> response_sizes{};

  uint64_t requests() const;
  uint64_t errors() const;
  void Add(const Observation& o);
  void Merge(const Counts& other);
};

// A minute's counts of one key, as taken from memory or stored.
struct MinuteRow {
  int64_t minute = 0;  // minutes since the Unix epoch
  Kind kind = Kind::kPull;
  std::string code;
  std::string consumer;
  std::string provider;
  Counts counts;
};

// Everything one key (without the minute) counted since the process started: what /metrics
// shows, as Prometheus counters.
struct KeyTotals {
  Kind kind = Kind::kPull;
  std::string code;
  std::string consumer;
  std::string provider;
  Counts counts;
};

// The code under which observations over the key cap are counted (with empty consumer and
// provider): not a valid API code, so it cannot be mistaken for one.
inline constexpr std::string_view kOverflowCode = "*other*";

struct TrafficOptions {
  // Distinct keys (minute, kind, code, consumer, provider) held in memory between two
  // flushes, over all threads. Beyond it, an observation is counted under kOverflowCode and
  // in overflowed(). Each key costs about 5 KB.
  size_t max_keys = 2048;
  // Rows of minutes older than this are deleted by Flush.
  int retention_days = 8;
  // The node whose counts Flush adds (cluster mode: the node id; at most kMaxNodeLength bytes,
  // else Flush is kInvalidArgument). On PostgreSQL every node adds to rows of its own (the
  // node is part of the key), so nodes flushing the same minute and key never write one row,
  // and the queries sum over nodes. Not stored on SQLite (one bus per file): "" there, the
  // embedded default.
  std::string node;
};
inline constexpr size_t kMaxNodeLength = 128;

// The bus's traffic counters, in memory until flushed to the database.
//
// Record is called by every I/O thread at the end of every exchange. Each thread counts into
// one of kShards shards (chosen once per thread), each a small hash table behind its own
// mutex, which is then almost never contended: a Record is a hash of the key and a lookup,
// and allocates only when a key is new since the last flush.
//
// Flush (one thread at a time, the server's flusher) swaps each shard's table for an empty
// one (the lock is held for the swap only), and adds what it took to the database in one
// transaction: minute rows are upserted by adding counts and merging histograms. If the
// transaction does not commit, what was taken is put back into memory, so every observation
// is either in memory or in a committed row, never in both: a failed or repeated flush cannot
// count anything twice, and several buses may add to one table. A crash loses what was
// recorded since the last flush (the flush interval, a few seconds). Queries read the
// database only, so the current minute is visible up to that interval.
class TrafficCounters {
 public:
  static constexpr size_t kShards = 16;

  explicit TrafficCounters(const Clock& clock, TrafficOptions options = {});
  ~TrafficCounters();
  TrafficCounters(const TrafficCounters&) = delete;
  TrafficCounters& operator=(const TrafficCounters&) = delete;

  // Thread-safe; cheap.
  void Record(const Observation& o);

  // Moves everything recorded so far into the database (see above), then deletes rows older
  // than the retention. Thread-safe, but meant for one flusher.
  Status Flush(store::Database& db);

  // Everything recorded since the start, per key without the minute, ordered by kind, code,
  // consumer and provider: what Flush committed, what it is writing, and what is in memory.
  // Monotonic from one call to the next (a failed flush takes nothing away), so the counts are
  // Prometheus counters. For a scrape: it merges every key of every shard (each shard's lock
  // held while its keys are merged) and copies the totals; a flush writing meanwhile is not
  // waited for. Thread-safe.
  std::vector<KeyTotals> Totals() const;

  // Everything recorded since the last Take or Flush, merged per key; memory is left empty.
  // For Flush and tests: what Take returns leaves Totals too.
  std::vector<MinuteRow> Take();
  // Puts rows back (after a write that failed). Keys over the cap go to the overflow key.
  void Restore(std::vector<MinuteRow> rows);

  // Observations counted under kOverflowCode because of the key cap, since start.
  uint64_t overflowed() const { return overflowed_.load(std::memory_order_relaxed); }

 private:
  struct Shard;
  Shard& ShardOfThisThread();
  void AddToShard(Shard& shard, int64_t minute, Kind kind, std::string_view code,
                  std::string_view consumer, std::string_view provider, const Observation* o,
                  const Counts* counts);

  const Clock& clock_;
  TrafficOptions options_;
  std::array<std::unique_ptr<Shard>, kShards> shards_;
  std::atomic<size_t> keys_{0};
  std::atomic<uint64_t> overflowed_{0};
  std::mutex flush_mutex_;              // one Flush at a time
  int64_t retention_done_minute_ = -1;  // under flush_mutex_
  // Every observation is in exactly one of: a shard, in_flight_ (taken by a flush that is
  // writing it), totals_ (committed). Moving one between them holds totals_mutex_ (then a
  // shard's lock), and so does Totals, which therefore sees each once.
  struct TotalsKey {
    Kind kind;
    std::string code, consumer, provider;
    auto operator<=>(const TotalsKey&) const = default;
  };
  mutable std::mutex totals_mutex_;
  std::map<TotalsKey, Counts> totals_;  // under totals_mutex_
  std::vector<MinuteRow> in_flight_;    // changed under totals_mutex_; read by Flush
};

// Creates or updates the table traffic_minutes (schema component "traffic"): one row per
// minute and key, outcome counts as columns, histograms as compact blobs.
Status MigrateTrafficStore(store::Database& db);

}  // namespace govesb::traffic
