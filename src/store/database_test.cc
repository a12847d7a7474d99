#include "store/database.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/file_size_limit.h"
#include "base/temp_dir.h"
#include "postgres/local_server.h"
#include "postgres/test_server.h"
#include "store/postgres_backend.h"

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

TEST(Database, AWalHookSeesEachCommitAndReplacesSqlitesOwnCheckpoints) {
  TempDir dir;
  auto db = OpenOrDie(dir.path() + "/t.db");
  ASSERT_TRUE(db->Exec("CREATE TABLE t(v BLOB)").ok());
  std::vector<int> seen;
  ASSERT_TRUE(db->SetWalHook([&](int pages) { seen.push_back(pages); }).ok());
  // 1200 commits of a page and more: past SQLite's 1000, where its own hook would have
  // checkpointed and the WAL would have started over.
  for (int i = 0; i < 1200; ++i) {
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(zeroblob(3000))").ok());
  }
  ASSERT_EQ(seen.size(), 1200u);
  for (size_t i = 1; i < seen.size(); ++i) ASSERT_GT(seen[i], seen[i - 1]) << "at commit " << i;
  EXPECT_GT(seen.back(), 1000);

  // Another connection copies it all (nobody reads), without the WAL starting over yet.
  auto other = OpenOrDie(dir.path() + "/t.db");
  auto made = other->CheckpointWal();
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_FALSE(made->busy);
  EXPECT_EQ(made->wal_pages, seen.back());
  EXPECT_EQ(made->copied_pages, made->wal_pages);
  // The next commit starts the WAL over: the hook sees it small again.
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(zeroblob(3000))").ok());
  EXPECT_LT(seen.back(), 10);

  // An empty hook brings SQLite's own back.
  ASSERT_TRUE(db->SetWalHook(nullptr).ok());
  const size_t before = seen.size();
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(zeroblob(3000))").ok());
  EXPECT_EQ(seen.size(), before);
  EXPECT_EQ(CountRows(*other, "t"), 1202);
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

// What a poller adds to DataVersion to see this connection's own writes: TotalChanges counts
// the rows it changed (those of triggers too) and never goes back; InTransaction says whether
// those changes may still roll back.
TEST(Database, TotalChangesCountsThisConnectionsRowsTriggersIncluded) {
  TempDir dir;
  auto a = OpenOrDie(dir.path() + "/t.db");
  auto b = OpenOrDie(dir.path() + "/t.db");
  ASSERT_TRUE(a->Exec("CREATE TABLE t(i INTEGER); CREATE TABLE n(c INTEGER);"
                      " INSERT INTO n VALUES(0);"
                      " CREATE TRIGGER t_count AFTER INSERT ON t"
                      " BEGIN UPDATE n SET c = c + 1; END;")
                  .ok());
  const int64_t a_before = a->TotalChanges();
  const int64_t b_before = b->TotalChanges();
  EXPECT_FALSE(a->InTransaction());
  ASSERT_TRUE(a->Exec("INSERT INTO t VALUES(1), (2)").ok());
  EXPECT_EQ(a->TotalChanges(), a_before + 4) << "two rows and the trigger's two updates";
  EXPECT_EQ(b->TotalChanges(), b_before) << "another connection's rows are not counted";
  {
    auto txn = Transaction::Begin(*a);
    ASSERT_TRUE(txn.ok());
    EXPECT_TRUE(a->InTransaction());
    ASSERT_TRUE(a->Exec("INSERT INTO t VALUES(3)").ok());
  }  // rolled back
  EXPECT_FALSE(a->InTransaction());
  EXPECT_EQ(a->TotalChanges(), a_before + 6) << "a rollback does not take the count back";
  ASSERT_TRUE(a->Exec("BEGIN").ok());
  EXPECT_TRUE(a->InTransaction()) << "a BEGIN run by hand counts too";
  ASSERT_TRUE(a->Exec("ROLLBACK").ok());
  EXPECT_FALSE(a->InTransaction());
}

// The online copy (govesb backup): one committed state, while another connection is in the
// middle of a transaction and its WAL holds commits not yet checkpointed into the file.
TEST(Database, AnOnlineCopyIsOneCommittedStateWhileOthersWrite) {
  TempDir dir;
  const std::string path = dir.path() + "/t.db";
  auto writer = OpenOrDie(path);
  ASSERT_TRUE(writer->Exec("CREATE TABLE t(i INTEGER)").ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES(" + std::to_string(i) + ")").ok());
  }
  {
    auto open = Transaction::Begin(*writer);
    ASSERT_TRUE(open.ok());
    ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES(1000)").ok());  // not committed
    ASSERT_TRUE(BackupSqliteDatabase(path, dir.path() + "/copy.db").ok());
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/copy.db-wal")) << "one file";
  auto copy = OpenOrDie(dir.path() + "/copy.db");
  auto count = copy->Prepare("SELECT count(*), max(i) FROM t");
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(*count->Step());
  EXPECT_EQ(count->ColumnInt64(0), 100);
  EXPECT_EQ(count->ColumnInt64(1), 99);
  // An existing copy is never overwritten; a missing source is an error naming it.
  EXPECT_EQ(BackupSqliteDatabase(path, dir.path() + "/copy.db").code(), StatusCode::kAlreadyExists);
  Status missing = BackupSqliteDatabase(dir.path() + "/absent.db", dir.path() + "/c2.db");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("absent.db"), std::string::npos) << missing.message();
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/c2.db"));
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

TEST(Database, SqliteTextMayHoldNulBytesAndHasRowids) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Exec("CREATE TABLE t(s TEXT)").ok());
  auto insert = db->Prepare("INSERT INTO t(s) VALUES(?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, std::string_view("hello\0world", 11)).ok());
  ASSERT_TRUE(insert->Run().ok());
  EXPECT_EQ(db->LastInsertRowId(), 1);
  auto select = db->Prepare("SELECT s FROM t");
  ASSERT_TRUE(select.ok());
  EXPECT_EQ(select->ColumnCount(), 1);  // known before the first Step on SQLite
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnText(0), std::string("hello\0world", 11));
}

// ---- The same behaviour on both backends ----

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

class DatabaseOnBoth : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (pg()) {
      conninfo_ = postgres::testing::FreshDatabase();
      ASSERT_FALSE(conninfo_.empty());
    }
    db_ = Open();
    ASSERT_NE(db_, nullptr);
  }

  bool pg() const { return GetParam() == Backend::kPostgres; }

  // A new connection to this test's database; `wait_ms` bounds the wait for another writer.
  std::unique_ptr<Database> Open(int wait_ms = 5000) {
    auto db = pg() ? Database::OpenPostgres(conninfo_, {.lock_timeout_ms = wait_ms})
                   : Database::Open(dir_.path() + "/t.db", {.busy_timeout_ms = wait_ms});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return nullptr;
    EXPECT_EQ((*db)->backend(), GetParam());
    return std::move(db).value();
  }

  TempDir dir_;
  std::string conninfo_;
  std::unique_ptr<Database> db_;
};

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseOnBoth,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

// Prepare + Run: SQLite reports SQL errors at Prepare, PostgreSQL at the first Step.
Status RunSql(Database& db, std::string_view sql) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  return stmt->Run();
}

TEST_P(DatabaseOnBoth, BindStepAndColumns) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(id BIGINT PRIMARY KEY, i BIGINT, s TEXT)").ok());
  auto insert = db_->Prepare("INSERT INTO t(id, i, s) VALUES(?, ?, ?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, int64_t{1}).ok());
  ASSERT_TRUE(insert->Bind(2, int64_t{9'000'000'000}).ok());
  ASSERT_TRUE(insert->Bind(3, "Dar es Salaam – ✓").ok());
  ASSERT_TRUE(insert->Run().ok());
  EXPECT_EQ(db_->Changes(), 1);
  ASSERT_TRUE(insert->Reset().ok());
  ASSERT_TRUE(insert->Bind(1, int64_t{2}).ok());
  ASSERT_TRUE(insert->BindNull(2).ok());
  ASSERT_TRUE(insert->Bind(3, "").ok());
  ASSERT_TRUE(insert->Run().ok());
  ASSERT_TRUE(insert->Reset().ok());
  // A NUL byte cannot be stored in PostgreSQL text: a clear error there, never a truncation.
  Status nul = insert->Bind(3, std::string_view("a\0b", 3));
  EXPECT_EQ(nul.ok(), !pg()) << nul.ToString();
  EXPECT_FALSE(insert->Bind(4, int64_t{1}).ok());  // no such parameter

  auto select = db_->Prepare("SELECT i, s, id FROM t ORDER BY id");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnCount(), 3);
  EXPECT_EQ(select->ColumnInt64(0), 9'000'000'000);
  EXPECT_EQ(select->ColumnText(1), "Dar es Salaam – ✓");
  EXPECT_FALSE(select->ColumnIsBlob(1));
  ASSERT_TRUE(*select->Step());
  EXPECT_TRUE(select->ColumnIsNull(0));
  EXPECT_EQ(select->ColumnInt64(0), 0);
  EXPECT_FALSE(select->ColumnIsNull(1));  // "" binds as text, not NULL
  EXPECT_EQ(select->ColumnText(1), "");
  EXPECT_FALSE(*select->Step());
  // Stepping again after the end runs the statement again, as sqlite3_step does.
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt64(2), 1);
}

TEST_P(DatabaseOnBoth, PlaceholdersNumberedRepeatedQuotedAndInComments) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(a TEXT, b TEXT, \"c?\" TEXT)").ok());
  auto insert = db_->Prepare("INSERT INTO t(a, b, \"c?\") VALUES(?1, ?1, '?') -- and ?3");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, "x").ok());
  ASSERT_TRUE(insert->Run().ok());
  auto select = db_->Prepare(
      "SELECT count(*) FROM t /* ? ?9 */ WHERE a = ?2 AND b = ?2 AND \"c?\" = '?'"
      " AND a <> 'it''s ?' AND b <> ?");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(select->Bind(2, "x").ok());
  ASSERT_TRUE(select->Bind(3, "y").ok());  // the bare ? after ?2 is ?3
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt64(0), 1);
  ASSERT_TRUE(select->Reset().ok());  // bindings cleared: NULL matches nothing
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt64(0), 0);
}

TEST_P(DatabaseOnBoth, ErrorsMapToTheSameCodes) {
  Status syntax = RunSql(*db_, "SELEKT 1");
  EXPECT_FALSE(syntax.ok());
  EXPECT_NE(syntax.message().find("syntax error"), std::string::npos) << syntax.message();

  ASSERT_TRUE(db_->Exec("CREATE TABLE u(x TEXT UNIQUE, n BIGINT NOT NULL DEFAULT 0"
                        " CHECK (n >= 0))")
                  .ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO u(x) VALUES('a')").ok());
  Status dup = RunSql(*db_, "INSERT INTO u(x) VALUES('a')");
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists) << dup.ToString();
  EXPECT_NE(dup.message().find(pg() ? "unique" : "UNIQUE"), std::string::npos) << dup.message();
  EXPECT_EQ(RunSql(*db_, "INSERT INTO u(x, n) VALUES('b', -1)").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_FALSE(RunSql(*db_, "INSERT INTO nope VALUES(1)").ok());
  EXPECT_FALSE(db_->Exec("INSERT INTO nope VALUES(1)").ok());
}

TEST_P(DatabaseOnBoth, BlobsRoundTripEveryByte) {
  ASSERT_TRUE(
      db_->Exec(pg() ? "CREATE TABLE b(k BIGINT, v BYTEA)" : "CREATE TABLE b(k, v BLOB)").ok());
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes += std::string("\\x00'\"", 6);
  auto insert = db_->Prepare("INSERT INTO b(k, v) VALUES(?, ?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, int64_t{1}).ok());
  ASSERT_TRUE(insert->BindBlob(2, bytes).ok());
  ASSERT_TRUE(insert->Run().ok());
  ASSERT_TRUE(insert->Reset().ok());
  ASSERT_TRUE(insert->Bind(1, int64_t{2}).ok());
  ASSERT_TRUE(insert->BindBlob(2, "").ok());
  ASSERT_TRUE(insert->Run().ok());
  auto select = db_->Prepare("SELECT v, k FROM b WHERE v = ? OR k = 2 ORDER BY k");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(select->BindBlob(1, bytes).ok());
  ASSERT_TRUE(*select->Step());
  EXPECT_TRUE(select->ColumnIsBlob(0));
  EXPECT_FALSE(select->ColumnIsBlob(1));
  EXPECT_EQ(select->ColumnView(0), bytes);
  EXPECT_EQ(select->ColumnText(0), bytes);
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnView(0), "");
  EXPECT_FALSE(*select->Step());
}

TEST_P(DatabaseOnBoth, ChangesCountsTheLastWrite) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(i BIGINT)").ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(1), (2), (3)").ok());
  auto update = db_->Prepare("UPDATE t SET i = i + 10 WHERE i >= ?");
  ASSERT_TRUE(update.ok());
  ASSERT_TRUE(update->Bind(1, int64_t{2}).ok());
  ASSERT_TRUE(update->Run().ok());
  EXPECT_EQ(db_->Changes(), 2);
  auto select = db_->Prepare("SELECT i FROM t");  // reads do not count
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(select->Run().ok());
  EXPECT_EQ(db_->Changes(), 2);
  auto del = db_->Prepare("DELETE FROM t WHERE i = 99");
  ASSERT_TRUE(del.ok());
  ASSERT_TRUE(del->Run().ok());
  EXPECT_EQ(db_->Changes(), 0);
}

TEST_P(DatabaseOnBoth, AStatementKeepsItsRowWhileAnotherWrites) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(i BIGINT)").ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(1)").ok());
  auto txn = Transaction::Begin(*db_);
  ASSERT_TRUE(txn.ok());
  auto exists = db_->Prepare("SELECT i FROM t WHERE i = 1");
  ASSERT_TRUE(exists.ok());
  ASSERT_TRUE(*exists->Step());
  ASSERT_TRUE(RunSql(*db_, "INSERT INTO t VALUES(2)").ok());
  EXPECT_EQ(exists->ColumnInt64(0), 1);
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(CountRows(*db_, "t"), 2);
}

TEST_P(DatabaseOnBoth, TransactionsRollBackUnlessCommitted) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(i BIGINT)").ok());
  {
    auto txn = Transaction::Begin(*db_);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(1)").ok());
  }
  EXPECT_EQ(CountRows(*db_, "t"), 0);
  {
    auto txn = Transaction::Begin(*db_);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(1)").ok());
    ASSERT_TRUE(txn->Commit().ok());
    EXPECT_FALSE(txn->Commit().ok());  // already finished
  }
  EXPECT_EQ(CountRows(*db_, "t"), 1);
  {
    auto txn = Transaction::Begin(*db_, TransactionMode::kDeferred);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(2)").ok());
    Transaction moved(std::move(txn).value());
    moved.Rollback();
  }
  EXPECT_EQ(CountRows(*db_, "t"), 1);
}

TEST_P(DatabaseOnBoth, NestedTransactionsAreSavepointsOfTheOutermost) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(i BIGINT UNIQUE)").ok());
  {
    auto outer = Transaction::Begin(*db_);
    ASSERT_TRUE(outer.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(1)").ok());
    {
      auto inner = Transaction::Begin(*db_);
      ASSERT_TRUE(inner.ok()) << inner.status().ToString();
      ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(2)").ok());
      // Not finished: the outer one may not commit before it.
      EXPECT_EQ(outer->Commit().code(), StatusCode::kFailedPrecondition);
    }  // rolled back: only its own row goes
    EXPECT_EQ(CountRows(*db_, "t"), 1);
    {
      auto inner = Transaction::Begin(*db_);
      ASSERT_TRUE(inner.ok());
      ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(3)").ok());
      {
        auto third = Transaction::Begin(*db_);  // depth 3
        ASSERT_TRUE(third.ok());
        ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(30)").ok());
        ASSERT_TRUE(third->Commit().ok());
      }
      ASSERT_TRUE(inner->Commit().ok());
    }
    EXPECT_EQ(CountRows(*db_, "t"), 3);
  }  // the outermost rolls back: the committed inner ones go with it
  EXPECT_EQ(CountRows(*db_, "t"), 0);
  {
    auto outer = Transaction::Begin(*db_);
    ASSERT_TRUE(outer.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(4)").ok());
    {
      // A failed statement inside a savepoint: rolling the savepoint back recovers the outer
      // transaction (on PostgreSQL the failure aborted all of it until then).
      auto inner = Transaction::Begin(*db_);
      ASSERT_TRUE(inner.ok());
      EXPECT_EQ(RunSql(*db_, "INSERT INTO t VALUES(4)").code(), StatusCode::kAlreadyExists);
    }
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(5)").ok());
    ASSERT_TRUE(outer->Commit().ok());
  }
  EXPECT_EQ(CountRows(*db_, "t"), 2);
  // After all that the connection is back at depth 0: a new transaction is a real BEGIN.
  auto again = Transaction::Begin(*db_);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(6)").ok());
  ASSERT_TRUE(again->Commit().ok());
  EXPECT_EQ(CountRows(*db_, "t"), 3);
}

TEST_P(DatabaseOnBoth, ImmediateTransactionsExcludeOtherWriters) {
  auto b = Open(/*wait_ms=*/10);
  ASSERT_NE(b, nullptr);
  auto txn = Transaction::Begin(*db_);
  ASSERT_TRUE(txn.ok());
  auto other = Transaction::Begin(*b);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kUnavailable) << other.status().ToString();
  // A reader is not excluded.
  auto reader = Transaction::Begin(*b, TransactionMode::kDeferred);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  reader->Rollback();
  ASSERT_TRUE(txn->Commit().ok());
  auto now = Transaction::Begin(*b);
  EXPECT_TRUE(now.ok()) << now.status().ToString();
}

TEST_P(DatabaseOnBoth, DeferredTransactionsReadOneSnapshot) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(i BIGINT)").ok());
  auto writer = Open();
  ASSERT_NE(writer, nullptr);
  auto txn = Transaction::Begin(*db_, TransactionMode::kDeferred);
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(CountRows(*db_, "t"), 0);
  ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES(1)").ok());
  EXPECT_EQ(CountRows(*db_, "t"), 0);  // still the snapshot of the first read
  txn->Rollback();
  EXPECT_EQ(CountRows(*db_, "t"), 1);
}

TEST_P(DatabaseOnBoth, MigrateAppliesPendingMigrationsOnce) {
  const std::array<std::string_view, 1> v1 = {"CREATE TABLE a(x BIGINT)"};
  EXPECT_EQ(*SchemaVersion(*db_, "comp"), 0);  // before schema_versions exists
  ASSERT_TRUE(Migrate(*db_, "comp", v1).ok());
  EXPECT_EQ(*SchemaVersion(*db_, "comp"), 1);
  ASSERT_TRUE(Migrate(*db_, "comp", v1).ok());  // idempotent
  const std::array<std::string_view, 2> v2 = {"CREATE TABLE a(x BIGINT)",
                                              "CREATE TABLE b(y BIGINT); INSERT INTO b VALUES(7)"};
  ASSERT_TRUE(Migrate(*db_, "comp", v2).ok());
  EXPECT_EQ(*SchemaVersion(*db_, "comp"), 2);
  EXPECT_EQ(CountRows(*db_, "b"), 1);
  // Components are versioned independently.
  EXPECT_EQ(*SchemaVersion(*db_, "other"), 0);
  const std::array<std::string_view, 1> other = {"CREATE TABLE c(z BIGINT)"};
  ASSERT_TRUE(Migrate(*db_, "other", other).ok());
  EXPECT_EQ(*SchemaVersion(*db_, "other"), 1);
  EXPECT_EQ(*SchemaVersion(*db_, "comp"), 2);
  // Inside a transaction too (a missing table must not abort it on PostgreSQL).
  auto txn = Transaction::Begin(*db_);
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(*SchemaVersion(*db_, "comp"), 2);
  ASSERT_TRUE(txn->Commit().ok());
}

TEST_P(DatabaseOnBoth, MigrateRefusesANewerSchema) {
  const std::array<std::string_view, 2> v2 = {"CREATE TABLE a(x BIGINT)",
                                              "CREATE TABLE b(y BIGINT)"};
  ASSERT_TRUE(Migrate(*db_, "comp", v2).ok());
  Status status = Migrate(*db_, "comp", std::span(v2).first(1));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("newer"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("cannot update the comp tables of "), std::string::npos)
      << status.message();
}

TEST_P(DatabaseOnBoth, AFailedMigrationChangesNothing) {
  const std::array<std::string_view, 2> bad = {
      "CREATE TABLE a(x BIGINT)", "CREATE TABLE b(y BIGINT); INSERT INTO nope VALUES(1)"};
  Status status = Migrate(*db_, "comp", bad);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("migration 2"), std::string::npos) << status.message();
  EXPECT_EQ(*SchemaVersion(*db_, "comp"), 1);
  EXPECT_FALSE(RunSql(*db_, "SELECT * FROM b").ok());
}

// ---- PostgreSQL only ----

class OnPostgres : public DatabaseOnBoth {};
INSTANTIATE_TEST_SUITE_P(Backends, OnPostgres, ::testing::Values(Backend::kPostgres), BackendName);

// SQLite's BEGIN IMMEDIATE makes a read-check-write atomic; so must kImmediate on PostgreSQL,
// where READ COMMITTED alone would let two writers both see "absent" and both insert.
TEST_P(OnPostgres, ImmediateTransactionsSerializeReadCheckWrite) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(k TEXT)").ok());  // no UNIQUE: the check is the guard
  auto b = Open();
  auto watcher = Open();
  ASSERT_NE(b, nullptr);
  ASSERT_NE(watcher, nullptr);
  // Inserts k unless it is there; true when it inserted.
  auto insert_if_absent = [](Database& db) -> Result<bool> {
    GOVESB_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
    GOVESB_ASSIGN_OR_RETURN(Statement check, db.Prepare("SELECT count(*) FROM t WHERE k = ?"));
    GOVESB_RETURN_IF_ERROR(check.Bind(1, "k"));
    GOVESB_ASSIGN_OR_RETURN(bool row, check.Step());
    if (!row || check.ColumnInt64(0) != 0) return false;
    GOVESB_RETURN_IF_ERROR(RunSql(db, "INSERT INTO t(k) VALUES('k')"));
    GOVESB_RETURN_IF_ERROR(txn.Commit());
    return true;
  };
  // A checks (absent) and has not written yet when B starts the same sequence.
  auto a_txn = Transaction::Begin(*db_);
  ASSERT_TRUE(a_txn.ok());
  EXPECT_EQ(CountRows(*db_, "t"), 0);
  std::atomic<bool> b_done{false};
  Result<bool> b_inserted = false;
  std::thread other([&] {
    b_inserted = insert_if_absent(*b);
    b_done = true;
  });
  // Until B is either finished (the lock is broken) or waiting for the lock.
  while (!b_done) {
    auto waiting = watcher->Prepare(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    ASSERT_TRUE(waiting.ok());
    ASSERT_TRUE(*waiting->Step());
    if (waiting->ColumnInt64(0) > 0) break;
    std::this_thread::yield();
  }
  ASSERT_TRUE(RunSql(*db_, "INSERT INTO t(k) VALUES('k')").ok());
  ASSERT_TRUE(a_txn->Commit().ok());
  other.join();
  ASSERT_TRUE(b_inserted.ok()) << b_inserted.status().ToString();
  EXPECT_FALSE(*b_inserted) << "B saw the row as absent while A's check-then-insert was open";
  EXPECT_EQ(CountRows(*db_, "t"), 1);
}

TEST_P(OnPostgres, AFailedStatementFailsTheCommit) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(i BIGINT UNIQUE)").ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES(1)").ok());
  auto txn = Transaction::Begin(*db_);
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(RunSql(*db_, "INSERT INTO t VALUES(2)").ok());
  EXPECT_EQ(RunSql(*db_, "INSERT INTO t VALUES(1)").code(), StatusCode::kAlreadyExists);
  Status commit = txn->Commit();
  EXPECT_EQ(commit.code(), StatusCode::kFailedPrecondition) << commit.ToString();
  EXPECT_EQ(CountRows(*db_, "t"), 1);  // nothing of it committed; the connection is usable
}

TEST_P(OnPostgres, UnsupportedCallsSaySoAndThePathHasNoSecret) {
  EXPECT_EQ(db_->DataVersion().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(db_->LastInsertRowId(), 0);
  EXPECT_EQ(db_->path().rfind("postgresql://", 0), 0u) << db_->path();
  auto secret = Database::OpenPostgres(conninfo_ + " password=hunter2");
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();  // trust authentication
  EXPECT_EQ((*secret)->path().find("hunter2"), std::string::npos) << (*secret)->path();
  // RETURNING is the way to learn a new row's id, on both backends.
  ASSERT_TRUE(db_->Exec("CREATE TABLE t(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                        " s TEXT)")
                  .ok());
  auto insert = db_->Prepare("INSERT INTO t(s) VALUES(?) RETURNING id");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, "a").ok());
  ASSERT_TRUE(*insert->Step());
  EXPECT_EQ(insert->ColumnInt64(0), 1);
  EXPECT_EQ(db_->Changes(), 1);
}

// On a server of its own: a restart of the run's shared server would cut every other test.
TEST(PostgresRestart, TheFirstTransactionAfterARestartReconnects) {
  auto server = postgres::LocalServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto opened = Database::OpenPostgres((*server)->conninfo());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Database& db = **opened;
  ASSERT_TRUE(db.Exec("CREATE TABLE t(i BIGINT)").ok());
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ(RunSql(db, "INSERT INTO t VALUES(1)").code(), StatusCode::kUnavailable);
  auto txn = Transaction::Begin(db);
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  ASSERT_TRUE(RunSql(db, "INSERT INTO t VALUES(2)").ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(CountRows(db, "t"), 1);
}

TEST(PostgresRestart, TheFirstStatementAfterARestartFailsAndTheNextReconnects) {
  auto server = postgres::LocalServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto opened = Database::OpenPostgres((*server)->conninfo());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Database& db = **opened;
  ASSERT_TRUE(db.Exec("CREATE TABLE t(i BIGINT)").ok());
  ASSERT_TRUE((*server)->Restart().ok());
  // The loss shows once (the statement may or may not have reached the server) ...
  EXPECT_EQ(RunSql(db, "INSERT INTO t VALUES(1)").code(), StatusCode::kUnavailable);
  // ... and the next statement, with no transaction around it, finds a new connection.
  ASSERT_TRUE(RunSql(db, "INSERT INTO t VALUES(2)").ok());
  EXPECT_EQ(CountRows(db, "t"), 1);
}

TEST(PostgresPlaceholders, TranslatesOutsideQuotesAndComments) {
  auto t = [](std::string_view sql) {
    std::vector<int> slots;
    auto out = internal::TranslatePlaceholders(sql, &slots);
    if (!out.ok()) return "error: " + out.status().message();
    std::string result = *out + " #";
    for (int slot : slots) result += std::to_string(slot);
    return result;
  };
  EXPECT_EQ(t("SELECT ?, ?"), "SELECT $1, $2 #12");
  EXPECT_EQ(t("SELECT ?2, ?, ?1"), "SELECT $2, $3, $1 #123");
  EXPECT_EQ(t("a = ?1 OR b = ?1"), "a = $1 OR b = $1 #1");
  // Gaps (optional conditions that are left out) close up; binding ?2 is then ignored.
  EXPECT_EQ(t("a = ?1 LIMIT ?3"), "a = $1 LIMIT $2 #102");
  EXPECT_EQ(t("a = ?3 AND b = ?"), "a = $1 AND b = $2 #0012");
  EXPECT_EQ(t("'?' || 'it''s ?' || ?"), "'?' || 'it''s ?' || $1 #1");
  EXPECT_EQ(t("E'\\' ?' || ?"), "E'\\' ?' || $1 #1");
  EXPECT_EQ(t("\"col?\" = ? -- ? here\n AND ?"), "\"col?\" = $1 -- ? here\n AND $2 #12");
  EXPECT_EQ(t("/* ?1 */ ? /* ? */"), "/* ?1 */ $1 /* ? */ #1");
  EXPECT_EQ(t("$f$ ? $f$ || $$?$$ || ?"), "$f$ ? $f$ || $$?$$ || $1 #1");
  EXPECT_EQ(t("x$y = ? AND $1"), "x$y = $1 AND $1 #1");
  EXPECT_EQ(t("'unterminated ?"), "'unterminated ? #");
  EXPECT_EQ(t("?0"), "error: parameter ?0 is out of range (1 to 32766)");
  EXPECT_EQ(t("?99999999999"), "error: parameter ?99999999999 is out of range (1 to 32766)");
}

}  // namespace
}  // namespace govesb::store
