#include "store/database.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/file_size_limit.h"
#include "base/temp_dir.h"

namespace govesb::store {
namespace {

using ::govesb::TempDir;

std::unique_ptr<Database> OpenOrDie(const std::string& path) {
  auto db = Database::Open(path);
  GOVESB_CHECK(db.ok());
  return std::move(db).value();
}

int64_t CountRows(Database& db, std::string_view table) {
  auto stmt = db.Prepare("SELECT count(*) FROM " + std::string(table));
  GOVESB_CHECK(stmt.ok());
  auto row = stmt->Step();
  GOVESB_CHECK(row.ok() && *row);
  return stmt->ColumnInt64(0);
}

TEST(Database, OpensWithWalAndForeignKeys) {
  TempDir dir;
  auto db = OpenOrDie(dir.path() + "/t.db");
  auto mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->ColumnText(0), "wal");
  auto fk = db->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  ASSERT_TRUE(*fk->Step());
  EXPECT_EQ(fk->ColumnInt64(0), 1);
  auto sync = db->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(*sync->Step());
  EXPECT_EQ(sync->ColumnInt64(0), 1);  // NORMAL
}

TEST(Database, SynchronousIsAnOption) {
  TempDir dir;
  auto db = Database::Open(dir.path() + "/t.db", {.synchronous = Synchronous::kFull});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto sync = (*db)->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(*sync->Step());
  EXPECT_EQ(sync->ColumnInt64(0), 2);  // FULL
}

TEST(Database, BindStepAndColumns) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER, s TEXT)").ok());
  auto insert = db->Prepare("INSERT INTO t(i, s) VALUES(?, ?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, int64_t{42}).ok());
  ASSERT_TRUE(insert->Bind(2, std::string_view("hello\0world", 11)).ok());
  ASSERT_TRUE(insert->Run().ok());
  EXPECT_EQ(db->Changes(), 1);
  EXPECT_EQ(db->LastInsertRowId(), 1);
  ASSERT_TRUE(insert->Reset().ok());
  ASSERT_TRUE(insert->BindNull(1).ok());
  ASSERT_TRUE(insert->Bind(2, "").ok());
  ASSERT_TRUE(insert->Run().ok());

  auto select = db->Prepare("SELECT i, s FROM t ORDER BY rowid");
  ASSERT_TRUE(select.ok());
  EXPECT_EQ(select->ColumnCount(), 2);
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt64(0), 42);
  EXPECT_EQ(select->ColumnText(1), std::string("hello\0world", 11));
  ASSERT_TRUE(*select->Step());
  EXPECT_TRUE(select->ColumnIsNull(0));
  EXPECT_FALSE(select->ColumnIsNull(1));  // "" binds as text, not NULL
  EXPECT_EQ(select->ColumnText(1), "");
  EXPECT_FALSE(*select->Step());
}

TEST(Database, ErrorsCarrySqliteMessage) {
  auto db = OpenOrDie(":memory:");
  auto bad = db->Prepare("SELEKT 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("syntax error"), std::string::npos)
      << bad.status().message();

  ASSERT_TRUE(db->Exec("CREATE TABLE u(x TEXT UNIQUE)").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO u VALUES('a')").ok());
  auto dup = db->Prepare("INSERT INTO u VALUES('a')");
  ASSERT_TRUE(dup.ok());
  Status status = dup->Run();
  EXPECT_EQ(status.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(status.message().find("UNIQUE"), std::string::npos) << status.message();

  EXPECT_FALSE(db->Exec("INSERT INTO nope VALUES(1)").ok());
}

TEST(Database, NotADatabaseIsAClearError) {
  TempDir dir;
  std::string path = dir.path() + "/garbage.db";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("this is not an sqlite file, not at all, and long enough to have a header", f);
    std::fclose(f);
  }
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("not a database"), std::string::npos)
      << db.status().message();
}

TEST(Database, NoCreateOptionRequiresAnExistingFile) {
  TempDir dir;
  auto db = Database::Open(dir.path() + "/missing.db", {.create = false});
  EXPECT_FALSE(db.ok());
}

TEST(Transaction, RollsBackUnlessCommitted) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER)").ok());
  {
    auto txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(1)").ok());
  }
  EXPECT_EQ(CountRows(*db, "t"), 0);
  {
    auto txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(1)").ok());
    ASSERT_TRUE(txn->Commit().ok());
    EXPECT_FALSE(txn->Commit().ok());  // already finished
  }
  EXPECT_EQ(CountRows(*db, "t"), 1);
  {
    auto txn = Transaction::Begin(*db, TransactionMode::kDeferred);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(2)").ok());
    Transaction moved(std::move(txn).value());
    moved.Rollback();
  }
  EXPECT_EQ(CountRows(*db, "t"), 1);
}

TEST(Transaction, NestedTransactionsAreSavepointsOfTheOutermost) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER)").ok());
  {
    auto outer = Transaction::Begin(*db);
    ASSERT_TRUE(outer.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(1)").ok());
    {
      auto inner = Transaction::Begin(*db);
      ASSERT_TRUE(inner.ok()) << inner.status().ToString();
      ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(2)").ok());
      // Not finished: the outer one may not commit before it.
      EXPECT_EQ(outer->Commit().code(), StatusCode::kFailedPrecondition);
    }  // rolled back: only its own row goes
    EXPECT_EQ(CountRows(*db, "t"), 1);
    {
      auto inner = Transaction::Begin(*db);
      ASSERT_TRUE(inner.ok());
      ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(3)").ok());
      ASSERT_TRUE(inner->Commit().ok());
    }
    EXPECT_EQ(CountRows(*db, "t"), 2);
  }  // the outermost rolls back: the committed inner one goes with it
  EXPECT_EQ(CountRows(*db, "t"), 0);
  {
    auto outer = Transaction::Begin(*db);
    ASSERT_TRUE(outer.ok());
    {
      auto inner = Transaction::Begin(*db);
      ASSERT_TRUE(inner.ok());
      ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(4)").ok());
      ASSERT_TRUE(inner->Commit().ok());
    }
    ASSERT_TRUE(outer->Commit().ok());
  }
  EXPECT_EQ(CountRows(*db, "t"), 1);
  // After all that the connection is back at depth 0: a new transaction is a real BEGIN.
  auto again = Transaction::Begin(*db);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(5)").ok());
  ASSERT_TRUE(again->Commit().ok());
  EXPECT_EQ(CountRows(*db, "t"), 2);
}

TEST(Transaction, ImmediateTransactionsExcludeOtherWriters) {
  TempDir dir;
  auto a = OpenOrDie(dir.path() + "/t.db");
  auto b = Database::Open(dir.path() + "/t.db", {.busy_timeout_ms = 10});
  ASSERT_TRUE(b.ok());
  auto txn = Transaction::Begin(*a);
  ASSERT_TRUE(txn.ok());
  auto other = Transaction::Begin(**b);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kUnavailable);
}

TEST(Database, DataVersionChangesOnlyForOtherConnectionsCommits) {
  TempDir dir;
  auto a = OpenOrDie(dir.path() + "/t.db");
  auto b = OpenOrDie(dir.path() + "/t.db");
  ASSERT_TRUE(a->Exec("CREATE TABLE t(i INTEGER)").ok());
  auto before = b->DataVersion();
  ASSERT_TRUE(before.ok());
  auto own_before = a->DataVersion();
  ASSERT_TRUE(own_before.ok());
  ASSERT_TRUE(a->Exec("INSERT INTO t VALUES(1)").ok());
  auto after = b->DataVersion();
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*before, *after);
  auto own_after = a->DataVersion();
  ASSERT_TRUE(own_after.ok());
  EXPECT_EQ(*own_before, *own_after);
  auto again = b->DataVersion();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*after, *again);
}

TEST(Migrate, AppliesPendingMigrationsOnce) {
  TempDir dir;
  auto db = OpenOrDie(dir.path() + "/t.db");
  const std::array<std::string_view, 1> v1 = {"CREATE TABLE a(x INTEGER)"};
  ASSERT_TRUE(Migrate(*db, "comp", v1).ok());
  EXPECT_EQ(*SchemaVersion(*db, "comp"), 1);
  ASSERT_TRUE(Migrate(*db, "comp", v1).ok());  // idempotent
  const std::array<std::string_view, 2> v2 = {"CREATE TABLE a(x INTEGER)",
                                              "CREATE TABLE b(y INTEGER); INSERT INTO b VALUES(7)"};
  ASSERT_TRUE(Migrate(*db, "comp", v2).ok());
  EXPECT_EQ(*SchemaVersion(*db, "comp"), 2);
  EXPECT_EQ(CountRows(*db, "b"), 1);
  // Components are versioned independently.
  EXPECT_EQ(*SchemaVersion(*db, "other"), 0);
  const std::array<std::string_view, 1> other = {"CREATE TABLE c(z INTEGER)"};
  ASSERT_TRUE(Migrate(*db, "other", other).ok());
  EXPECT_EQ(*SchemaVersion(*db, "other"), 1);
  EXPECT_EQ(*SchemaVersion(*db, "comp"), 2);
}

TEST(Migrate, RefusesANewerSchema) {
  auto db = OpenOrDie(":memory:");
  const std::array<std::string_view, 2> v2 = {"CREATE TABLE a(x)", "CREATE TABLE b(y)"};
  ASSERT_TRUE(Migrate(*db, "comp", v2).ok());
  Status status = Migrate(*db, "comp", std::span(v2).first(1));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("newer"), std::string::npos) << status.message();
}

TEST(Migrate, AFailedMigrationChangesNothing) {
  auto db = OpenOrDie(":memory:");
  const std::array<std::string_view, 2> bad = {"CREATE TABLE a(x)",
                                               "CREATE TABLE b(y); INSERT INTO nope VALUES(1)"};
  Status status = Migrate(*db, "comp", bad);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("migration 2"), std::string::npos) << status.message();
  EXPECT_EQ(*SchemaVersion(*db, "comp"), 1);
  EXPECT_FALSE(db->Prepare("SELECT * FROM b").ok());
}

// Regression (issue 13): starting on a full disk said only "prepare: disk I/O error".
TEST(Database, AFullDiskOnOpeningSaysSoAndNamesTheFile) {
  TempDir dir;
  const std::string path = dir.path() + "/govesb.db";
  std::optional<Result<std::unique_ptr<Database>>> opened;
  {
    FileSizeLimit full(0);  // no file can grow: as on a full disk
    opened.emplace(Database::Open(path));
  }
  Result<std::unique_ptr<Database>>& db = *opened;
  ASSERT_FALSE(db.ok());
  const std::string& m = db.status().message();
  EXPECT_EQ(db.status().code(), StatusCode::kResourceExhausted) << m;
  EXPECT_NE(m.find("the disk holding " + path + " is full"), std::string::npos) << m;
  EXPECT_NE(m.find("File too large"), std::string::npos) << "the OS error: " << m;
  EXPECT_NE(m.find("free some space and try again"), std::string::npos) << m;
  EXPECT_NE(m.find("while "), std::string::npos) << "what was being done: " << m;
  // With room again it opens.
  EXPECT_TRUE(Database::Open(path).ok());
}

TEST(Database, AFullDiskWhileMigratingSaysSo) {
  TempDir dir;
  const std::string path = dir.path() + "/govesb.db";
  auto db = OpenOrDie(path);
  ASSERT_TRUE(db->Exec("CREATE TABLE seed(x)").ok());
  std::string big = "CREATE TABLE big(x); INSERT INTO big VALUES(zeroblob(1000000))";
  const std::array<std::string_view, 1> migrations = {big};
  Status status;
  {
    FileSizeLimit full(64 << 10);
    status = Migrate(*db, "comp", migrations);
  }
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.message();
  EXPECT_NE(status.message().find("cannot update the comp tables of " + path), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("is full"), std::string::npos) << status.message();
  EXPECT_EQ(*SchemaVersion(*db, "comp"), 0);
}

TEST(Database, AFileThatCannotBeOpenedIsNamed) {
  TempDir dir;
  const std::string path = dir.path() + "/no-such-dir/govesb.db";
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(db.status().message().rfind("cannot open " + path + ": ", 0), 0u)
      << db.status().message();
}

}  // namespace
}  // namespace govesb::store
