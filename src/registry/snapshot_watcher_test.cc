#include "registry/snapshot_watcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "registry/registry_testing.h"
#include "registry/sqlite_store.h"

namespace govesb::registry {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::NewPublicKey;
using testing::RegistryTest;

using SnapshotWatcherTest = RegistryTest;

// A store on a connection of its own to the fixture's database (not registry_'s).
std::unique_ptr<RegistryStore> OpenStore(const std::string& path) {
  auto store = SqliteRegistryStore::Open(path);
  GOVESB_CHECK(store.ok());
  return std::move(store).value();
}

// Whether a change made elsewhere reaches the watcher within a second is part of every
// adapter's contract: store_contract_test.cc.

TEST_F(SnapshotWatcherTest, ReloadNowIsImmediate) {
  AddFixtures();
  // A poll interval long enough that only ReloadNow can explain the change.
  SnapshotWatcher watcher(OpenStore(dir_.path() + "/govesb.db"),
                          {.poll_interval = std::chrono::hours(1)});
  ASSERT_TRUE(watcher.Start().ok());
  auto added = registry_.AddSystem("EGA", "Late", NewPublicKey(), "https://late.example/");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(watcher.Current()->FindSystem(added->system.client_id), nullptr);
  ASSERT_TRUE(watcher.ReloadNow().ok());
  EXPECT_NE(watcher.Current()->FindSystem(added->system.client_id), nullptr);
}

TEST_F(SnapshotWatcherTest, FailedReloadKeepsThePreviousSnapshot) {
  AddFixtures();
  SnapshotWatcher watcher(OpenStore(dir_.path() + "/govesb.db"),
                          {.poll_interval = std::chrono::hours(1)});
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
  SnapshotWatcher watcher(OpenStore(dir_.path() + "/govesb.db"),
                          {.poll_interval = std::chrono::hours(1)});
  ASSERT_TRUE(watcher.Start().ok());
  const auto start = steady_clock::now();
  watcher.Stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
  watcher.Stop();  // idempotent
  EXPECT_NE(watcher.Current(), nullptr);
}

TEST_F(SnapshotWatcherTest, StartTwiceFails) {
  SnapshotWatcher watcher(OpenStore(dir_.path() + "/govesb.db"));
  ASSERT_TRUE(watcher.Start().ok());
  EXPECT_EQ(watcher.Start().code(), StatusCode::kFailedPrecondition);
}

TEST(SnapshotWatcherStart, FailsWithoutARegistry) {
  testing::TempDir dir;
  SnapshotWatcher none(nullptr);
  EXPECT_EQ(none.Start().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(none.Current(), nullptr);

  ASSERT_TRUE(store::Database::Open(dir.path() + "/empty.db").ok());
  SnapshotWatcher unmigrated(OpenStore(dir.path() + "/empty.db"));
  Status status = unmigrated.Start();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot load the registry"), std::string::npos)
      << status.message();
  EXPECT_EQ(unmigrated.Current(), nullptr);
  EXPECT_FALSE(unmigrated.ReloadNow().ok());
}

}  // namespace
}  // namespace govesb::registry
