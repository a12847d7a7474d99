#include "cluster/lane_work.h"

#include <spdlog/spdlog.h>

#include <future>

#include "base/clock.h"
#include "base/log_safe_fmt.h"
#include "base/thread_name.h"

namespace govesb::cluster {

namespace {

// Retry delays of a wake-up that could not be handled, by delivery attempt.
milliseconds NakDelay(uint64_t delivery_count) {
  const int64_t ms = 250LL << std::min<uint64_t>(delivery_count, 5);  // 0.5 s … 8 s
  return milliseconds(ms);
}

}  // namespace

LaneWork::LaneWork(nats::Connection& nats, delivery::LaneStore& lanes,
                   delivery::DeliveryQueue& queue, LaneWorkOptions options)
    : nats_(nats), lanes_(lanes), queue_(queue), options_(std::move(options)) {}

Result<std::unique_ptr<LaneWork>> LaneWork::Create(nats::Connection& nats,
                                                   delivery::LaneStore& lanes,
                                                   delivery::DeliveryQueue& queue,
                                                   LaneWorkOptions options) {
  if (options.node_id.empty()) return InvalidArgument("a node id is needed");
  if (options.renew_every.count() <= 0 || options.renew_every * 2 > options.lease) {
    return InvalidArgument("leases must be renewed at least twice per lease period");
  }
  nats::StreamConfig stream;
  stream.name = options.stream;
  stream.subjects = {options.subject};
  stream.replicas = options.replicas;
  stream.retention = nats::Retention::kWorkQueue;
  // A wake-up older than this is stale: the sweepers wake lanes whose work is still there.
  stream.max_age = milliseconds(3'600'000);
  nats::ConsumerConfig consumer;
  consumer.durable = options.durable;
  consumer.ack_wait = options.ack_wait;
  consumer.max_deliver = options.max_deliver;
  consumer.max_ack_pending = 20'000;
  // JetStream's API answers slowly while its servers elect leaders (a server restarting, a busy
  // machine): a timeout then is not a reason to give up the start, only to ask again.
  const auto deadline = std::chrono::steady_clock::now() + options.setup_timeout;
  auto backoff = milliseconds(250);
  for (int attempt = 1;; ++attempt) {
    Status ensured = nats.EnsureStream(stream);
    if (ensured.ok()) ensured = nats.EnsureConsumer(options.stream, consumer);
    if (ensured.ok()) break;
    if (ensured.code() == StatusCode::kInvalidArgument ||
        std::chrono::steady_clock::now() + backoff > deadline) {
      return ensured;
    }
    spdlog::warn("cluster: the work stream is not ready (try {}): {}; asking again", attempt,
                 ensured.message());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(4'000));
  }
  return std::unique_ptr<LaneWork>(new LaneWork(nats, lanes, queue, std::move(options)));
}

LaneWork::~LaneWork() {
  StopTaking();
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
  }
  wake_.notify_all();
  publish_wake_.notify_all();
  if (work_thread_.joinable()) work_thread_.join();
  if (publish_thread_.joinable()) publish_thread_.join();
}

int64_t LaneWork::Now() const { return SystemClock().NowMillis(); }

Status LaneWork::Start(delivery::Dispatcher& dispatcher) {
  dispatcher_ = &dispatcher;
  {
    std::lock_guard lock(mutex_);
    renewed_at_ms_ = Now();
  }
  // A missing consumer fails the start; the fetch thread binds its own (one per thread).
  GOVESB_RETURN_IF_ERROR(nats_.Pull(options_.stream, options_.durable).status());
  fetch_thread_ = std::thread([this] {
    NameThisThread("govesb-lanes");
    FetchLoop();
  });
  work_thread_ = std::thread([this] {
    NameThisThread("govesb-lanework");
    WorkLoop();
  });
  publish_thread_ = std::thread([this] {
    NameThisThread("govesb-wakeups");
    PublishLoop();
  });
  Enqueue([this] { Sweep(); });  // lanes left by nodes that stopped or died before this start
  return Status::Ok();
}

void LaneWork::StopTaking() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (fetch_thread_.joinable()) fetch_thread_.join();
}

LaneWork::Stats LaneWork::stats() const {
  Stats s;
  {
    std::lock_guard lock(mutex_);
    s.lanes_held = static_cast<int64_t>(held_.size());
  }
  s.lanes_taken = lanes_taken_.load();
  s.wakeups_published = published_.load();
  s.wakeups_fetched = fetched_.load();
  s.publish_failures = publish_failures_.load();
  s.lanes_lost = lanes_lost_.load();
  s.wakeups_skipped = wakeups_skipped_.load();
  return s;
}

// ---- fetching wake-ups (fetch thread) ----

void LaneWork::FetchLoop() {
  std::unique_ptr<nats::PullConsumer> consumer;
  bool failing = false;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (consumer == nullptr) {
      auto bound = nats_.Pull(options_.stream, options_.durable);
      if (!bound.ok()) {
        if (!failing)
          spdlog::warn("cluster: cannot fetch delivery work: {}", bound.status().message());
        failing = true;
        std::this_thread::sleep_for(milliseconds(250));
        continue;
      }
      consumer = std::move(bound).value();
    }
    auto batch = consumer->Fetch(options_.fetch_batch, milliseconds(500));
    if (!batch.ok()) {
      if (!failing)
        spdlog::warn("cluster: cannot fetch delivery work: {}", batch.status().message());
      failing = true;
      if (batch.status().code() != StatusCode::kDeadlineExceeded) {
        std::this_thread::sleep_for(milliseconds(250));
      }
      continue;
    }
    if (failing) spdlog::info("cluster: fetching delivery work again");
    failing = false;
    for (nats::Message& message : *batch) {
      fetched_.fetch_add(1);
      HandleWakeUp(message);
    }
  }
}

void LaneWork::HandleWakeUp(nats::Message& message) {
  const std::string lane(message.data());
  auto retry_later = [&](const Status& why) {
    if (message.delivery_count() >= static_cast<uint64_t>(options_.max_deliver)) {
      (void)message.Term();  // the sweepers wake the lane again once it can be handled
    } else {
      (void)message.Nak(NakDelay(message.delivery_count()));
    }
    spdlog::warn("cluster: wake-up of lane {} not handled now (try {}): {}", Untrusted(lane),
                 message.delivery_count(), why.message());
  };
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      (void)message.Nak();  // another node takes it
      return;
    }
    if (held_.contains(lane)) {
      // Held here: the lane is reloaded before its lease is let go, which finds this work.
      (void)message.Ack();
      return;
    }
  }
  const int64_t now = Now();
  auto leased = lanes_.TryLease(lane, options_.node_id, now, now + options_.lease.count());
  if (!leased.ok()) return retry_later(leased.status());
  if (!*leased) {
    // Another node holds it, and reloads it before letting go.
    (void)message.Ack();
    return;
  }
  auto pending = lanes_.LoadLane(lane, 0, options_.lane_batch);
  if (!pending.ok()) {
    (void)lanes_.ReleaseLease(lane, options_.node_id);
    return retry_later(pending.status());
  }
  if (pending->empty()) {
    (void)lanes_.ReleaseLease(lane, options_.node_id);
    (void)message.Ack();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    held_.insert(lane);
  }
  lanes_taken_.fetch_add(1);
  dispatcher_->TakeLane(lane, std::move(pending).value());
  (void)message.Ack();
}

// ---- the work thread: drains, renewals, sweeps ----

void LaneWork::Enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_all();
}

void LaneWork::WorkLoop() {
  auto next_renew = std::chrono::steady_clock::now() + options_.renew_every;
  auto next_sweep = std::chrono::steady_clock::now() + options_.sweep_every;
  std::unique_lock lock(mutex_);
  while (!shut_down_) {
    wake_.wait_until(lock, std::min(next_renew, next_sweep),
                     [this] { return shut_down_ || !tasks_.empty(); });
    if (shut_down_) break;
    std::deque<std::function<void()>> tasks;
    tasks.swap(tasks_);
    lock.unlock();
    for (auto& task : tasks) task();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_renew) {
      next_renew = now + options_.renew_every;
      Renew();
      std::unordered_set<std::string> retry;
      {
        std::lock_guard retry_lock(mutex_);
        retry.swap(retry_drain_);
      }
      for (const std::string& lane : retry) Drain(lane);
    }
    if (now >= next_sweep) {
      next_sweep = now + options_.sweep_every;
      Sweep();
    }
    lock.lock();
  }
}

Status LaneWork::SyncQueue() {
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  queue_.Sync([done](Status s) { done->set_value(std::move(s)); });
  return result.get();
}

void LaneWork::LaneDrained(const std::string& lane) {
  Enqueue([this, lane] { Drain(lane); });
}

void LaneWork::Drain(const std::string& lane) {
  {
    std::lock_guard lock(mutex_);
    if (!held_.contains(lane)) return;  // dropped meanwhile
  }
  // The lane's outcomes must be durable before anyone reloads it (here or on another node).
  Status synced = SyncQueue();
  auto pending = synced.ok() ? lanes_.LoadLane(lane, 0, options_.lane_batch)
                             : Result<std::vector<delivery::PendingDelivery>>(synced);
  if (!pending.ok()) {
    // Keep the lease (renewals go on) and try again shortly.
    spdlog::warn("cluster: cannot reload lane {}: {}", Untrusted(lane), pending.status().message());
    std::lock_guard lock(mutex_);
    retry_drain_.insert(lane);  // at the next renewal
    return;
  }
  if (!pending->empty()) {
    dispatcher_->TakeLane(lane, std::move(pending).value());
    return;
  }
  {
    std::lock_guard lock(mutex_);
    held_.erase(lane);
  }
  Status released = lanes_.ReleaseLease(lane, options_.node_id);
  if (!released.ok()) {
    spdlog::warn("cluster: cannot let go of lane {} (it expires): {}", Untrusted(lane),
                 released.message());
  }
  // Work accepted while this node held the lane had its wake-up dropped here: look once more.
  auto left = lanes_.LoadLane(lane, 0, 1);
  if (!left.ok() || !left->empty()) {
    Publish(lane, "r:" + lane + ":" + std::to_string(left.ok() ? left->front().id : Now()));
  }
}

void LaneWork::Renew() {
  int64_t held = 0;
  int64_t renewed_at = 0;
  {
    std::lock_guard lock(mutex_);
    held = static_cast<int64_t>(held_.size());
    renewed_at = renewed_at_ms_;
  }
  const int64_t now = Now();
  if (held == 0) {
    std::lock_guard lock(mutex_);
    renewed_at_ms_ = now;
    return;
  }
  auto renewed = lanes_.RenewLeases(options_.node_id, now, now + options_.lease.count());
  if (renewed.ok()) {
    std::lock_guard lock(mutex_);
    renewed_at_ms_ = now;
    return;
  }
  if (now - renewed_at < options_.lease.count()) {
    spdlog::warn("cluster: cannot renew the leases of {} lanes (retrying): {}", held,
                 renewed.status().message());
    return;
  }
  // The leases may have expired, and other nodes may hold the lanes now: deliver nothing more.
  std::unordered_set<std::string> lost;
  {
    std::lock_guard lock(mutex_);
    lost.swap(held_);
  }
  spdlog::error("cluster: the leases of {} lanes could not be renewed for {} ms: dropping them",
                lost.size(), now - renewed_at);
  for (const std::string& lane : lost) dispatcher_->DropLane(lane);
  lanes_lost_.fetch_add(static_cast<int64_t>(lost.size()));
}

void LaneWork::Sweep() {
  const int64_t now = Now();
  auto lanes = lanes_.LanesWithPendingWork(now, options_.sweep_limit);
  if (!lanes.ok()) {
    if (!sweep_failing_) {
      spdlog::warn("cluster: cannot look for lanes without a holder: {}", lanes.status().message());
    }
    sweep_failing_ = true;
    return;
  }
  sweep_failing_ = false;
  // Every node sweeps; wake-ups of one period share an id, so the stream keeps one per lane.
  const std::string period = std::to_string(now / options_.sweep_every.count());
  for (std::string& lane : *lanes) {
    {
      std::lock_guard lock(mutex_);
      if (held_.contains(lane)) continue;
    }
    std::string id = "s:" + lane + ":" + period;
    Publish(std::move(lane), std::move(id));
  }
}

void LaneWork::RedeliveriesMade() {
  Enqueue([this] {
    // Lanes held here may have older deliveries pending again: hand them over (known ids are
    // ignored); the others are found by the sweep.
    std::vector<std::string> held;
    {
      std::lock_guard lock(mutex_);
      held.assign(held_.begin(), held_.end());
    }
    for (const std::string& lane : held) {
      auto pending = lanes_.LoadLane(lane, 0, options_.lane_batch);
      if (pending.ok() && !pending->empty())
        dispatcher_->TakeLane(lane, std::move(pending).value());
    }
    Sweep();
  });
}

// ---- publishing wake-ups (publish thread: a NATS outage blocks nothing else) ----

void LaneWork::Wake(std::vector<std::pair<std::string, int64_t>> lanes) {
  for (auto& [lane, first_id] : lanes) {
    {
      // Held here: the work is committed already, and this node reloads the lane before it
      // lets go of it, and looks once more after (Drain): no wake-up needed.
      std::lock_guard lock(mutex_);
      if (held_.contains(lane)) {
        wakeups_skipped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    std::string id = "d:" + std::to_string(first_id);
    Publish(std::move(lane), std::move(id));
  }
}

void LaneWork::Publish(std::string lane, std::string msg_id) {
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    // One queued wake-up per lane is enough.
    if (!queued_lanes_.insert(lane).second) return;
    to_publish_.emplace_back(std::move(lane), std::move(msg_id));
  }
  publish_wake_.notify_all();
}

void LaneWork::PublishLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    publish_wake_.wait(lock, [this] { return shut_down_ || !to_publish_.empty(); });
    if (to_publish_.empty()) return;  // shut down with nothing left
    auto [lane, msg_id] = std::move(to_publish_.front());
    to_publish_.pop_front();
    queued_lanes_.erase(lane);
    const bool shutting = shut_down_;
    lock.unlock();
    auto ack = nats_.Publish(options_.subject, lane, msg_id,
                             shutting ? milliseconds(500) : milliseconds(0));
    if (ack.ok()) {
      published_.fetch_add(1);
      if (publish_failing_) spdlog::info("cluster: publishing wake-ups again");
      publish_failing_ = false;
    } else {
      // The sweepers find the lane (its work has no holder).
      publish_failures_.fetch_add(1);
      if (!publish_failing_) {
        spdlog::warn("cluster: cannot publish a wake-up (the sweepers will): {}",
                     ack.status().message());
      }
      publish_failing_ = true;
    }
    lock.lock();
  }
}

// ---- stopping ----

void LaneWork::HandBack() {
  StopTaking();
  std::unordered_set<std::string> held;
  {
    std::lock_guard lock(mutex_);
    held.swap(held_);
  }
  if (held.empty()) return;
  Status synced = SyncQueue();
  if (!synced.ok()) {
    spdlog::warn("cluster: outcomes not all durable at stop ({}); leases left to expire",
                 synced.message());
    return;
  }
  const std::string stamp = std::to_string(Now());
  for (const std::string& lane : held) {
    (void)lanes_.ReleaseLease(lane, options_.node_id);
    Publish(lane, "h:" + lane + ":" + stamp);
  }
  spdlog::info("cluster: handed back {} lanes", held.size());
}

}  // namespace govesb::cluster
