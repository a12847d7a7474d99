#include "limits/fair_work_pool.h"

#include <algorithm>
#include <utility>

#include "base/thread_name.h"

namespace govesb::limits {

FairWorkPool::FairWorkPool(FairWorkPoolOptions options) : options_(std::move(options)) {
  const size_t n = std::max<size_t>(1, options_.threads);
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { Work(); });
}

FairWorkPool::~FairWorkPool() {
  std::unordered_map<std::string, std::deque<Job>> left;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    left.swap(lines_);
    turns_.clear();
    waiting_ = 0;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  for (auto& [key, line] : left) {
    for (Job& job : line) job(false);
  }
}

bool FairWorkPool::Submit(std::string_view key, Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || waiting_ >= options_.waiting_total) {
      ++refused_;
      return false;
    }
    auto [it, added] = lines_.try_emplace(std::string(key));
    if (it->second.size() >= options_.waiting_per_key) {
      ++refused_;
      return false;
    }
    if (it->second.empty()) turns_.push_back(it->first);
    it->second.push_back(std::move(job));
    ++waiting_;
    ++submitted_;
  }
  wake_.notify_one();
  return true;
}

void FairWorkPool::Work() {
  NameThisThread(options_.thread_name);
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !turns_.empty(); });
    if (stopping_) return;
    // The key whose turn it is gives one job, and goes to the back if it has more.
    std::string key = std::move(turns_.front());
    turns_.pop_front();
    auto it = lines_.find(key);
    Job job = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) {
      lines_.erase(it);
    } else {
      turns_.push_back(std::move(key));
    }
    --waiting_;
    ++running_;
    lock.unlock();
    job(true);
    job = nullptr;  // whatever the job holds is released outside the lock
    lock.lock();
    --running_;
    ++completed_;
  }
}

FairWorkPoolStats FairWorkPool::Stats() const {
  std::lock_guard lock(mu_);
  return FairWorkPoolStats{.submitted = submitted_,
                           .refused = refused_,
                           .completed = completed_,
                           .waiting = waiting_,
                           .running = running_,
                           .keys_waiting = turns_.size()};
}

}  // namespace govesb::limits
