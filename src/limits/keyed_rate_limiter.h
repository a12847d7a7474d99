#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/clock.h"
#include "limits/keyed_table.h"
#include "limits/rate.h"
#include "limits/stats.h"

namespace govesb::limits {

struct KeyedRateLimiterOptions {
  size_t max_keys = 100'000;  // memory bound (~150 bytes a key, plus keys over 15 bytes)
  size_t shards = 16;
};

// Token buckets per key, in memory on one node: requests per system (int64 key), per system
// and API (two int64 keys), per client address (string key). The rate is given on each call
// (the caller looks it up in its configuration), so one limiter serves keys with different
// rates; a key's bucket keeps its tokens when its rate changes, up to the new burst.
//
// Use one limiter for one kind of key: an int64 key is stored as its 8 bytes, which a string
// key of the same bytes would share.
//
// Thread-safe: any thread may call; keys are spread over `shards` mutexes, each held for a
// map lookup and a few arithmetic operations (no I/O, no waiting). The Clock is read once per
// call and must outlive the limiter. Memory is bounded by max_keys: see KeyedTable.
class KeyedRateLimiter {
 public:
  explicit KeyedRateLimiter(const Clock& clock, KeyedRateLimiterOptions options = {});

  // Takes `cost` tokens from the key's bucket at `rate`. An unlimited rate is allowed without
  // touching the table.
  Decision Admit(std::string_view key, const Rate& rate, double cost = 1);
  Decision Admit(int64_t key, const Rate& rate, double cost = 1);
  Decision Admit(int64_t key, int64_t subkey, const Rate& rate, double cost = 1);

  LimiterStats Stats() const;

 private:
  struct Entry {
    TokenBucket bucket;
    Rate rate;  // the last rate used, to tell when the bucket is full again
  };

  const Clock& clock_;
  internal::KeyedTable<Entry> table_;
  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace govesb::limits
