#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "registry/snapshot.h"
#include "registry/store.h"

namespace govesb::registry {

struct SnapshotWatcherOptions {
  // How often the store is asked whether the registry changed (RegistryStore::ChangeVersion:
  // one tiny query at most, often none on SQLite, so polling is cheap).
  std::chrono::milliseconds poll_interval{200};
};

// Keeps a current registry Snapshot. Owns a RegistryStore of its own (its own connection) and
// a background thread that polls the store's ChangeVersion for changes made elsewhere (the
// admin API, the CLI, another process or node) and reloads, so that registry changes take
// effect without a restart. A failed reload keeps the previous snapshot and logs a warning; it
// is retried at every poll. The store is used by one thread at a time (under a mutex).
//
// Current() may be called from any thread at any time and is cheap (an atomic shared_ptr
// load). Start/Stop/OnChange are for the owner's thread.
class SnapshotWatcher {
 public:
  // `store` is the watcher's alone from now on.
  explicit SnapshotWatcher(std::unique_ptr<RegistryStore> store,
                           SnapshotWatcherOptions options = {});
  SnapshotWatcher(const SnapshotWatcher&) = delete;
  SnapshotWatcher& operator=(const SnapshotWatcher&) = delete;
  ~SnapshotWatcher();  // Stop()s

  // Called with the new snapshot after every successful reload (not for the initial load), on
  // the thread that reloaded. Must not call back into the watcher. Set it before Start().
  void OnChange(std::function<void(const Snapshot&)> callback);

  // Loads the first snapshot from the store (fails, with the store's error, if it cannot: a
  // missing store, an unmigrated database). Then starts polling. Only once.
  Status Start();
  // Stops and joins the polling thread promptly. Idempotent. Current() keeps working.
  void Stop();

  // The latest snapshot; nullptr only before a successful Start().
  std::shared_ptr<const Snapshot> Current() const { return current_.load(); }

  // Reloads right away, whether or not anything changed. For tests and admin hooks.
  Status ReloadNow();

  // One poll, as the polling thread makes every poll_interval: reloads when the store's change
  // version moved since the last successful load, or when that reload failed. Ok when nothing
  // moved; the reload's error when it fails; kFailedPrecondition before Start(). For tests
  // (a long poll_interval and this make polls happen exactly when a test wants them).
  Status PollOnce();

 private:
  // Requires reload_mutex_.
  Status ReloadLocked();
  void Run();

  const SnapshotWatcherOptions options_;
  std::function<void(const Snapshot&)> on_change_;

  std::atomic<std::shared_ptr<const Snapshot>> current_;

  std::mutex reload_mutex_;  // guards store_, started_, last_version_, failing_
  std::unique_ptr<RegistryStore> store_;
  bool started_ = false;
  int64_t last_version_ = -1;
  bool failing_ = false;

  std::mutex stop_mutex_;  // guards stop_
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace govesb::registry
