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

// The bus's evidence log, delivery queue and usage flusher commit into the registry's database
// file many times a second; none of that may rebuild the snapshot. A registry change must.
TEST_F(SnapshotWatcherTest, CommitsOutsideTheRegistryCauseNoReload) {
  AddFixtures();
  // Polls happen only when the test calls PollOnce.
  SnapshotWatcher watcher(OpenStore(dir_.path() + "/govesb.db"),
                          {.poll_interval = std::chrono::hours(1)});
  int reloads = 0;
  watcher.OnChange([&](const Snapshot&) { ++reloads; });
  ASSERT_TRUE(watcher.Start().ok());
  const auto first = watcher.Current();

  ASSERT_TRUE(db_->Exec("CREATE TABLE scratch(i INTEGER)").ok());
  std::unique_ptr<RegistryStore> flusher = OpenStore(dir_.path() + "/govesb.db");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(db_->Exec("INSERT INTO scratch VALUES(" + std::to_string(i) + ")").ok());
    ASSERT_TRUE(
        flusher->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 1}})
            .ok());
    ASSERT_TRUE(watcher.PollOnce().ok());
  }
  EXPECT_EQ(reloads, 0);
  EXPECT_EQ(watcher.Current(), first);

  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  ASSERT_TRUE(watcher.PollOnce().ok());
  EXPECT_EQ(reloads, 1);
  EXPECT_TRUE(watcher.Current()->HasApprovedGrant(consumer_.id, api_.id));
  ASSERT_TRUE(watcher.PollOnce().ok());
  EXPECT_EQ(reloads, 1) << "one change, one reload";
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
  EXPECT_EQ(watcher.PollOnce().code(), StatusCode::kFailedPrecondition);
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
