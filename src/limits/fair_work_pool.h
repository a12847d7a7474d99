#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace govesb::limits {

struct FairWorkPoolOptions {
  size_t threads = 1;          // jobs running at once
  size_t waiting_per_key = 4;  // jobs of one key waiting (not yet running)
  size_t waiting_total = 256;  // jobs waiting in all
  std::string thread_name = "govesb-work";
};

struct FairWorkPoolStats {
  uint64_t submitted = 0;
  uint64_t refused = 0;  // over a waiting bound
  uint64_t completed = 0;
  size_t waiting = 0;
  size_t running = 0;
  size_t keys_waiting = 0;
};

// A pool of threads for slow CPU work (a secret hash) that is fair between keys (client ids):
// each key has its own first-in-first-out line, and the threads take one job from each key
// with work in turn, so a key with many jobs waiting delays another key's job by at most one
// of its own per round, not by its whole line. The lines are bounded (per key and in all):
// Submit refuses rather than queue without end.
//
// A job is called with `run` true on a pool thread; jobs still waiting when the pool is
// destroyed are called with `run` false on the destroying thread (so that whoever waits on them
// is always answered). Thread-safe.
class FairWorkPool {
 public:
  using Job = std::function<void(bool run)>;

  explicit FairWorkPool(FairWorkPoolOptions options);
  ~FairWorkPool();
  FairWorkPool(const FairWorkPool&) = delete;
  FairWorkPool& operator=(const FairWorkPool&) = delete;

  // False (and `job` is not kept) when `key`'s line or all lines are full, or when stopping.
  bool Submit(std::string_view key, Job job);

  FairWorkPoolStats Stats() const;
  const FairWorkPoolOptions& options() const { return options_; }

 private:
  void Work();

  const FairWorkPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unordered_map<std::string, std::deque<Job>> lines_;
  std::deque<std::string> turns_;  // keys with waiting jobs, in the order they are served
  size_t waiting_ = 0;
  size_t running_ = 0;
  uint64_t submitted_ = 0;
  uint64_t refused_ = 0;
  uint64_t completed_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace govesb::limits
