#include "postgres/connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "postgres/local_server.h"

namespace govesb::postgres {
namespace {

// One private server for the whole binary; each test gets a database of its own.
LocalServer* server = nullptr;

class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto started = LocalServer::Start();
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
    server = server_.get();
  }
  void TearDown() override {
    server = nullptr;
    server_.reset();
  }

 private:
  std::unique_ptr<LocalServer> server_;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(server, nullptr);
    static std::atomic<int> n{0};
    database_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    ASSERT_TRUE(server->CreateDatabase(database_).ok());
    conn_ = Open();
  }
  std::unique_ptr<Connection> Open() {
    auto c = Connection::Open(server->conninfo(database_));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  std::string database_;
  std::unique_ptr<Connection> conn_;
};

TEST(LocalServerTest, ATemporaryParentThatCannotHoldTheDirectoryIsNamedInTheError) {
  auto started = LocalServer::Start({.temp_parent = "/nonexistent-govesb-parent"});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kInternal);
  EXPECT_NE(started.status().message().find("/nonexistent-govesb-parent"), std::string::npos)
      << started.status().message();
}

TEST_F(PostgresTest, ParametersAndRowsRoundTripAsText) {
  ASSERT_TRUE(conn_
                  ->ExecScript("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, raw BYTEA,"
                               " ok BOOLEAN)")
                  .ok());
  auto inserted = conn_->Exec(
      "INSERT INTO t VALUES ($1, $2, decode($3, 'hex'), $4), "
      "($5, $6, NULL, $7)",
      {int64_t{9'000'000'000}, "Dar es Salaam – ✓", "00ff41", true, 2, std::nullopt, false});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(inserted->affected(), 2);
  auto rows = conn_->Exec("SELECT id, name, raw, ok FROM t ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2);
  EXPECT_EQ(rows->Int64(0, 0), 2);
  EXPECT_TRUE(rows->IsNull(0, 1));
  EXPECT_EQ(rows->Text(0, 1), "");
  EXPECT_FALSE(rows->Bool(0, 3));
  EXPECT_EQ(rows->Int64(1, 0), 9'000'000'000);
  EXPECT_EQ(rows->Text(1, 1), "Dar es Salaam – ✓");
  EXPECT_EQ(rows->Bytes(1, 2), std::string("\x00\xff\x41", 3));
  EXPECT_TRUE(rows->Bool(1, 3));
}

TEST_F(PostgresTest, ErrorsAreStatusValuesByTheirSqlstate) {
  ASSERT_TRUE(conn_->ExecScript("CREATE TABLE u (k TEXT PRIMARY KEY)").ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO u VALUES ($1)", {"a"}).ok());
  auto twice = conn_->Exec("INSERT INTO u VALUES ($1)", {"a"});
  EXPECT_EQ(twice.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(twice.status().message().find("23505"), std::string::npos);
  EXPECT_EQ(conn_->Exec("INSERT INTO u VALUES (NULL)").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(conn_->Exec("SELEC 1").status().code(), StatusCode::kInternal);
  auto slow = Connection::Open(server->conninfo(database_), /*statement_timeout_ms=*/50);
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ((*slow)->Exec("SELECT pg_sleep(2)").status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Connection::Open("host=127.0.0.1 port=1 connect_timeout=2").status().code(),
            StatusCode::kUnavailable);
}

TEST_F(PostgresTest, ATransactionNotCommittedIsRolledBack) {
  ASSERT_TRUE(conn_->ExecScript("CREATE TABLE v (k TEXT)").ok());
  {
    auto txn = Transaction::Begin(*conn_);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(conn_->Exec("INSERT INTO v VALUES ('gone')").ok());
  }
  {
    auto txn = Transaction::Begin(*conn_);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(conn_->Exec("INSERT INTO v VALUES ('kept')").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto rows = conn_->Exec("SELECT k FROM v");
  ASSERT_EQ(rows->size(), 1);
  EXPECT_EQ(rows->Text(0, 0), "kept");
}

// Nodes starting at once: every migration applied exactly once, every node sees the result.
TEST_F(PostgresTest, MigrationsRunOnceWhenManyNodesStartTogether) {
  const std::vector<std::string_view> migrations = {
      "CREATE TABLE applied (n INT); INSERT INTO applied VALUES (1)",
      "INSERT INTO applied VALUES (2); ALTER TABLE applied ADD COLUMN note TEXT",
  };
  std::vector<std::thread> nodes;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i) {
    nodes.emplace_back([&] {
      auto c = Connection::Open(server->conninfo(database_));
      if (!c.ok() || !Migrate(**c, "things", migrations).ok()) failures++;
    });
  }
  for (std::thread& t : nodes) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto rows = conn_->Exec("SELECT n FROM applied ORDER BY n");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2);
  EXPECT_EQ(*SchemaVersion(*conn_, "things"), 2);
  EXPECT_EQ(*SchemaVersion(*conn_, "other"), 0);
  // A binary that knows fewer migrations than the database has refuses to run on it.
  auto older = Migrate(*conn_, "things", {migrations[0]});
  EXPECT_EQ(older.code(), StatusCode::kFailedPrecondition);
  // A broken migration changes nothing and says which one.
  auto broken = Migrate(*conn_, "broken", {"CREATE TABLE b (x INT); SELEC 1"});
  EXPECT_NE(broken.message().find("migration 1 of broken"), std::string::npos);
  EXPECT_EQ(*SchemaVersion(*conn_, "broken"), 0);
  EXPECT_FALSE(conn_->Exec("SELECT * FROM b").ok()) << "rolled back with its version";
}

TEST_F(PostgresTest, AfterAServerRestartStatementsFailAsUnavailableUntilReset) {
  ASSERT_TRUE(server->Restart().ok());
  auto lost = conn_->Exec("SELECT 1");
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().ToString();
  ASSERT_TRUE(conn_->Reset().ok());
  EXPECT_TRUE(conn_->Exec("SELECT 1").ok());
}

}  // namespace
}  // namespace govesb::postgres
