// What is particular to the SQLite adapter; the contract it shares with every adapter is in
// store_contract_test.cc.
#include "registry/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "registry/registry_testing.h"
#include "registry/snapshot.h"

namespace govesb::registry {
namespace {

using testing::RegistryTest;

TEST(SqliteRegistryStoreOpen, NeedsAnExistingFileAndCreatesNone) {
  testing::TempDir dir;
  auto store = SqliteRegistryStore::Open(dir.path() + "/missing.db");
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/missing.db"));
}

TEST(SqliteRegistryStoreOpen, AnUnmigratedDatabaseCannotBeRead) {
  auto db = store::Database::Open(":memory:");
  ASSERT_TRUE(db.ok());
  SqliteRegistryStore store(**db);
  EXPECT_FALSE(store.ReadSnapshotRows().ok());
  EXPECT_FALSE(Snapshot::Load(**db).ok());
  // No change counter: an error, not a number that would never move.
  auto version = store.ChangeVersion();
  EXPECT_FALSE(version.ok());
  EXPECT_NE(version.status().message().find("registry_version"), std::string::npos)
      << version.status().message();
}

using SqliteRegistryStoreTest = RegistryTest;

TEST_F(SqliteRegistryStoreTest, ADatabaseWithoutTheChangeCounterIsAnError) {
  // A registry at schema 12 (before the counter) that this bus did not migrate.
  AddFixtures();
  ASSERT_TRUE(db_->Exec("DELETE FROM registry_version").ok());
  auto opened = SqliteRegistryStore::Open(dir_.path() + "/govesb.db");
  ASSERT_TRUE(opened.ok());
  auto no_row = (*opened)->ChangeVersion();
  EXPECT_EQ(no_row.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(no_row.status().message().find("registry_version"), std::string::npos);
  ASSERT_TRUE(db_->Exec("DROP TABLE registry_version").ok());
  auto no_table = (*opened)->ChangeVersion();
  EXPECT_FALSE(no_table.ok());
  EXPECT_NE(no_table.status().message().find("registry_version"), std::string::npos)
      << no_table.status().message();
}

// The bus's evidence log and delivery queue commit into the registry's database file many times
// a second. Those commits move PRAGMA data_version, and used to make the watcher rebuild the
// whole snapshot at every poll; the registry's own counter ignores them.
TEST_F(SqliteRegistryStoreTest, CommitsToOtherTablesOfTheFileDoNotMoveChangeVersion) {
  AddFixtures();
  auto opened = SqliteRegistryStore::Open(dir_.path() + "/govesb.db");
  ASSERT_TRUE(opened.ok());
  SqliteRegistryStore& watched = **opened;
  std::unique_ptr<store::Database> observer = Connect();
  const int64_t observed = *observer->DataVersion();
  const int64_t before = *watched.ChangeVersion();

  // Another module's table (as the evidence log and the delivery queue have), written from
  // another connection; signature usage from another store (the usage flusher's); the
  // registry's tables that no Snapshot reads.
  ASSERT_TRUE(db_->Exec("CREATE TABLE scratch(i INTEGER)").ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(db_->Exec("INSERT INTO scratch VALUES(" + std::to_string(i) + ")").ok());
    EXPECT_EQ(*watched.ChangeVersion(), before) << "after commit " << i;
  }
  auto flusher = SqliteRegistryStore::Open(dir_.path() + "/govesb.db");
  ASSERT_TRUE(flusher.ok());
  ASSERT_TRUE(
      (*flusher)
          ->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 3}})
          .ok());
  ASSERT_TRUE(registry_.SetComplianceSetting("window_days", "7").ok());
  // The commits reached the file: data_version moved for every other connection.
  EXPECT_NE(*observer->DataVersion(), observed);
  EXPECT_EQ(*watched.ChangeVersion(), before);

  // A registry change still moves it, once.
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  const int64_t after = *watched.ChangeVersion();
  EXPECT_GT(after, before);
  EXPECT_EQ(*watched.ChangeVersion(), after);
  // A change rolled back does not.
  {
    auto txn = store::Transaction::Begin(*db_);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db_->Exec("UPDATE systems SET name = 'Renamed'").ok());
  }
  EXPECT_EQ(*watched.ChangeVersion(), after);
}

// Commits made through the store's own connection do not move PRAGMA data_version, but they
// move the counter (its triggers run in the writer's transaction), and the store sees them.
TEST_F(SqliteRegistryStoreTest, ChangeVersionSeesItsOwnConnectionsRegistryCommits) {
  AddFixtures();
  SqliteRegistryStore shared(*db_);
  auto before = shared.ChangeVersion();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const int64_t data_version = *db_->DataVersion();
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  EXPECT_EQ(*db_->DataVersion(), data_version);
  auto after = shared.ChangeVersion();
  ASSERT_TRUE(after.ok());
  EXPECT_GT(*after, *before);
  auto rows = shared.ReadSnapshotRows();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->grants.size(), 1u);
  // Its own signature usage writes touch no registry table: no move.
  ASSERT_TRUE(
      shared.RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 1}})
          .ok());
  EXPECT_EQ(*shared.ChangeVersion(), *after);
}

// Inside a transaction on its connection the counter may include changes that will roll back;
// counting them would let a later change elsewhere reach the same number unnoticed.
TEST_F(SqliteRegistryStoreTest, ChangeVersionIsRefusedInsideATransactionOnItsConnection) {
  AddFixtures();
  SqliteRegistryStore shared(*db_);
  const int64_t before = *shared.ChangeVersion();
  {
    auto txn = store::Transaction::Begin(*db_);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db_->Exec("UPDATE systems SET name = 'Renamed'").ok());
    EXPECT_EQ(shared.ChangeVersion().status().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(*shared.ChangeVersion(), before) << "the update rolled back";
  std::unique_ptr<store::Database> other = Connect();
  ASSERT_TRUE(other->Exec("UPDATE systems SET name = 'Renamed'").ok());
  EXPECT_GT(*shared.ChangeVersion(), before);
}

// The triggers only add to the counter. Should someone set it back by hand, one store's values
// still never decrease, and the change is still seen.
TEST_F(SqliteRegistryStoreTest, ACounterSetBackStillMovesChangeVersionForward) {
  AddFixtures();
  auto opened = SqliteRegistryStore::Open(dir_.path() + "/govesb.db");
  ASSERT_TRUE(opened.ok());
  const int64_t before = *(*opened)->ChangeVersion();
  ASSERT_GT(before, 0);
  ASSERT_TRUE(db_->Exec("UPDATE registry_version SET version = 0").ok());
  const int64_t after = *(*opened)->ChangeVersion();
  EXPECT_GT(after, before);
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  EXPECT_GT(*(*opened)->ChangeVersion(), after);
}

TEST_F(SqliteRegistryStoreTest, LoadOverADatabaseIsLoadOverItsStore) {
  AddFixtures();
  auto loaded = Snapshot::Load(*db_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->system_count(), 2u);
  EXPECT_NE((*loaded)->FindApi("GETUSR"), nullptr);
}

}  // namespace
}  // namespace govesb::registry
