#include "registry/snapshot_watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "registry/registry_testing.h"

namespace govesb::registry {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::NewPublicKey;
using testing::RegistryTest;

using SnapshotWatcherTest = RegistryTest;

// Polls `done` until it holds or `limit` passes; returns whether it held.
bool WaitFor(const std::function<bool()>& done, milliseconds limit) {
  const auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

TEST_F(SnapshotWatcherTest, SeesCommitsFromAnotherConnectionWithinASecond) {
  AddFixtures();
  SnapshotWatcher watcher(dir_.path() + "/govesb.db");
  std::atomic<int> changes{0};
  watcher.OnChange([&](const Snapshot&) { ++changes; });
  ASSERT_TRUE(watcher.Start().ok());
  auto first = watcher.Current();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->system_count(), 2u);
  EXPECT_FALSE(first->HasApprovedGrant(consumer_.id, api_.id));

  // registry_ writes through its own connection, not the watcher's.
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  const auto committed = steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return watcher.Current()->HasApprovedGrant(consumer_.id, api_.id); },
                      milliseconds(3000)));
  // The promise is "within a second"; the generous limit above keeps loaded CI machines green.
  EXPECT_LT(steady_clock::now() - committed, milliseconds(1500));
  EXPECT_GE(changes.load(), 1);
  // The snapshot handed out before is unchanged.
  EXPECT_FALSE(first->HasApprovedGrant(consumer_.id, api_.id));

  ASSERT_TRUE(registry_.DisableSystem(consumer_.client_id).ok());
  ASSERT_TRUE(WaitFor([&] { return !watcher.Current()->FindSystem(consumer_.client_id)->enabled; },
                      milliseconds(3000)));
  watcher.Stop();
}

TEST_F(SnapshotWatcherTest, SeesLimitsFallbacksAndReplayPolicyChanges) {
  // The hardening settings reach a running bus the same way (PRAGMA data_version notices any
  // commit of another connection).
  AddFixtures();
  SnapshotWatcher watcher(dir_.path() + "/govesb.db", {.poll_interval = milliseconds(20)});
  ASSERT_TRUE(watcher.Start().ok());
  ASSERT_TRUE(watcher.Current()->FindSystem(consumer_.client_id)->signature_fallbacks);

  ASSERT_TRUE(registry_.SetSignatureFallbacks(consumer_.client_id, false).ok());
  EXPECT_TRUE(WaitFor(
      [&] { return !watcher.Current()->FindSystem(consumer_.client_id)->signature_fallbacks; },
      milliseconds(3000)));
  ASSERT_TRUE(registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = 7}).ok());
  EXPECT_TRUE(WaitFor(
      [&] { return watcher.Current()->FindSystem(consumer_.client_id)->rate_per_second == 7; },
      milliseconds(3000)));
  ASSERT_TRUE(registry_.SetApiRateLimit("GETUSR", {.burst = 9}).ok());
  EXPECT_TRUE(WaitFor([&] { return watcher.Current()->FindApi("GETUSR")->rate_burst == 9; },
                      milliseconds(3000)));
  ASSERT_TRUE(registry_.SetApiReplayPolicy("GETUSR", ReplayPolicy::kRefuse).ok());
  EXPECT_TRUE(WaitFor(
      [&] { return watcher.Current()->FindApi("GETUSR")->replay_policy == ReplayPolicy::kRefuse; },
      milliseconds(3000)));
}

TEST_F(SnapshotWatcherTest, ReloadNowIsImmediate) {
  AddFixtures();
  // A poll interval long enough that only ReloadNow can explain the change.
  SnapshotWatcher watcher(dir_.path() + "/govesb.db", {.poll_interval = std::chrono::hours(1)});
  ASSERT_TRUE(watcher.Start().ok());
  auto added = registry_.AddSystem("EGA", "Late", NewPublicKey(), "https://late.example/");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(watcher.Current()->FindSystem(added->system.client_id), nullptr);
  ASSERT_TRUE(watcher.ReloadNow().ok());
  EXPECT_NE(watcher.Current()->FindSystem(added->system.client_id), nullptr);
}

TEST_F(SnapshotWatcherTest, FailedReloadKeepsThePreviousSnapshot) {
  AddFixtures();
  SnapshotWatcher watcher(dir_.path() + "/govesb.db", {.poll_interval = std::chrono::hours(1)});
  ASSERT_TRUE(watcher.Start().ok());
  auto before = watcher.Current();
  ASSERT_TRUE(db_->Exec("ALTER TABLE grants RENAME TO grants_gone").ok());
  EXPECT_FALSE(watcher.ReloadNow().ok());
  EXPECT_EQ(watcher.Current(), before);
  ASSERT_TRUE(db_->Exec("ALTER TABLE grants_gone RENAME TO grants").ok());
  EXPECT_TRUE(watcher.ReloadNow().ok());
  EXPECT_NE(watcher.Current(), before);
}

TEST_F(SnapshotWatcherTest, StopIsPrompt) {
  AddFixtures();
  SnapshotWatcher watcher(dir_.path() + "/govesb.db", {.poll_interval = std::chrono::hours(1)});
  ASSERT_TRUE(watcher.Start().ok());
  const auto start = steady_clock::now();
  watcher.Stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
  watcher.Stop();  // idempotent
  EXPECT_NE(watcher.Current(), nullptr);
}

TEST_F(SnapshotWatcherTest, StartTwiceFails) {
  SnapshotWatcher watcher(dir_.path() + "/govesb.db");
  ASSERT_TRUE(watcher.Start().ok());
  EXPECT_EQ(watcher.Start().code(), StatusCode::kFailedPrecondition);
}

TEST(SnapshotWatcherStart, FailsWithoutADatabase) {
  testing::TempDir dir;
  SnapshotWatcher missing(dir.path() + "/missing.db");
  EXPECT_FALSE(missing.Start().ok());
  EXPECT_EQ(missing.Current(), nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/missing.db"));

  ASSERT_TRUE(store::Database::Open(dir.path() + "/empty.db").ok());
  SnapshotWatcher unmigrated(dir.path() + "/empty.db");
  Status status = unmigrated.Start();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot load the registry"), std::string::npos)
      << status.message();
  EXPECT_FALSE(unmigrated.ReloadNow().ok());
}

}  // namespace
}  // namespace govesb::registry
