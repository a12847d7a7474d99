// What is particular to the SQLite adapter; the contract it shares with every adapter is in
// store_contract_test.cc.
#include "registry/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>

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
  EXPECT_TRUE(store.ChangeVersion().ok());
}

using SqliteRegistryStoreTest = RegistryTest;

// PRAGMA data_version counts other connections' commits only: a store sharing the writer's
// connection would miss every change. That is why each watcher opens its own.
TEST_F(SqliteRegistryStoreTest, ChangeVersionIgnoresItsOwnConnectionsCommits) {
  AddFixtures();
  SqliteRegistryStore shared(*db_);
  auto before = shared.ChangeVersion();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  auto after = shared.ChangeVersion();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);
  // The rows are read all the same.
  auto rows = shared.ReadSnapshotRows();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->grants.size(), 1u);
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
