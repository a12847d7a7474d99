#include "registry/snapshot_watcher.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "base/thread_name.h"

namespace govesb::registry {

SnapshotWatcher::SnapshotWatcher(std::unique_ptr<RegistryStore> store,
                                 SnapshotWatcherOptions options)
    : options_(options), store_(std::move(store)) {}

SnapshotWatcher::~SnapshotWatcher() { Stop(); }

void SnapshotWatcher::OnChange(std::function<void(const Snapshot&)> callback) {
  std::lock_guard lock(reload_mutex_);
  on_change_ = std::move(callback);
}

Status SnapshotWatcher::Start() {
  {
    std::lock_guard lock(reload_mutex_);
    if (started_) return FailedPrecondition("the snapshot watcher is already started");
    if (store_ == nullptr) return InvalidArgument("the snapshot watcher has no registry store");
    Result<int64_t> version = store_->ChangeVersion();
    Result<std::shared_ptr<const Snapshot>> first =
        version.ok() ? Snapshot::Load(*store_)
                     : Result<std::shared_ptr<const Snapshot>>(version.status());
    if (!first.ok()) {
      return Status(first.status().code(), "cannot load the registry: " + first.status().message());
    }
    current_.store(std::move(first).value());
    last_version_ = *version;
    started_ = true;
  }
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    NameThisThread("govesb-registry");
    Run();
  });
  return Status::Ok();
}

void SnapshotWatcher::Stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotWatcher::Run() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_) {
    if (stop_cv_.wait_for(lock, options_.poll_interval, [this] { return stop_; })) break;
    lock.unlock();
    Status status = PollOnce();
    (void)status;  // ReloadLocked logs failures
    lock.lock();
  }
}

Status SnapshotWatcher::PollOnce() {
  std::lock_guard lock(reload_mutex_);
  if (!started_) return FailedPrecondition("the snapshot watcher is not started");
  Result<int64_t> version = store_->ChangeVersion();
  if (version.ok() && *version == last_version_ && !failing_) return Status::Ok();
  return ReloadLocked();
}

Status SnapshotWatcher::ReloadNow() {
  std::lock_guard lock(reload_mutex_);
  if (!started_) return FailedPrecondition("the snapshot watcher is not started");
  return ReloadLocked();
}

Status SnapshotWatcher::ReloadLocked() {
  // The version is read before the load: a commit landing in between is picked up by the next
  // poll, never missed.
  Result<int64_t> version = store_->ChangeVersion();
  std::shared_ptr<const Snapshot> previous = current_.load();
  Result<std::shared_ptr<const Snapshot>> next =
      version.ok() ? Snapshot::Load(*store_, previous.get())
                   : Result<std::shared_ptr<const Snapshot>>(version.status());
  if (!next.ok()) {
    if (!failing_) {
      spdlog::warn("registry: reload failed, keeping the previous snapshot: {}",
                   next.status().ToString());
    }
    failing_ = true;
    return next.status();
  }
  if (failing_) spdlog::info("registry: reload succeeded again");
  failing_ = false;
  last_version_ = *version;
  std::shared_ptr<const Snapshot> snapshot = std::move(next).value();
  current_.store(snapshot);
  if (on_change_) on_change_(*snapshot);
  return Status::Ok();
}

}  // namespace govesb::registry
