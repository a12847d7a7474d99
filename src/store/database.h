#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace govesb::store {

namespace internal {
// The PostgreSQL backend (postgres_backend.h): kept out of this header so that users of the
// store see neither libpq nor the postgres module.
class PgDatabase;
class PgStatement;
struct PgDeleter {
  void operator()(PgDatabase* db) const;
  void operator()(PgStatement* stmt) const;
};
}  // namespace internal

// Which engine a Database runs on. SQLite is the embedded default; PostgreSQL is cluster mode
// (issue 15), for the admin/write side (docs in src/store/README.md).
enum class Backend { kSqlite, kPostgres };

// PRAGMA synchronous. kNormal is safe with WAL against process crashes (a power loss may lose
// the last commits, never corrupt); kFull fsyncs every commit, for durable queues.
enum class Synchronous { kOff, kNormal, kFull };

struct DatabaseOptions {
  Synchronous synchronous = Synchronous::kNormal;
  int busy_timeout_ms = 5000;
  // false: the file must already exist (SQLITE_OPEN_CREATE is not passed).
  bool create = true;
};

struct PostgresOptions {
  // Every statement is cancelled after this long (kDeadlineExceeded); 0: no limit.
  int64_t statement_timeout_ms = 30'000;
  // How long Transaction::Begin(kImmediate) waits for another writer's transaction to end
  // before kUnavailable, as busy_timeout_ms does on SQLite.
  int64_t lock_timeout_ms = 5'000;
};

// A prepared statement. Move-only; owns its sqlite3_stmt. Used by one thread at a time, on
// the thread that uses its Database. Must not outlive the Database it was prepared on.
//
// Bind indexes are 1-based (as in SQLite), column indexes 0-based.
//
// On PostgreSQL, `?` and `?N` become `$N`; the statement runs at its first Step with the values
// bound so far (unbound ones are NULL) and its rows are buffered, so several statements may be
// open at once. SQL errors surface at that first Step, not at Prepare. ColumnCount is known
// after the first Step. Text must not contain NUL bytes (kInvalidArgument). A BLOB is sent as
// bytea hex text, so its parameter must have type bytea in the SQL's context (a bytea column,
// a comparison with one); bytea columns are read back decoded.
class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  Status Bind(int index, int64_t value);
  // The text is copied (SQLITE_TRANSIENT).
  Status Bind(int index, std::string_view value);
  Status Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Status Bind(int index, const std::string& value) { return Bind(index, std::string_view(value)); }
  Status BindNull(int index);
  // Binds bytes as a BLOB (copied).
  Status BindBlob(int index, std::string_view bytes);

  // Advances: true when a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps to completion, for statements that return no rows (INSERT/UPDATE/DELETE).
  Status Run();
  // Ready to step again from the start; bindings are cleared.
  Status Reset();

  int ColumnCount() const;
  bool ColumnIsNull(int column) const;
  int64_t ColumnInt64(int column) const;
  // "" for NULL.
  std::string ColumnText(int column) const;
  // The column's bytes without a copy (text or blob), valid until the next Step, Reset or
  // column read of another type; "" for NULL.
  std::string_view ColumnView(int column) const;
  // True when the column's value is a BLOB.
  bool ColumnIsBlob(int column) const;

  // The SQL text, for error messages.
  std::string_view sql() const;

 private:
  friend class Database;
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  explicit Statement(std::unique_ptr<internal::PgStatement, internal::PgDeleter> pg);

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  // Set on PostgreSQL only (then stmt_ is null): every method branches on it once.
  std::unique_ptr<internal::PgStatement, internal::PgDeleter> pg_;
};

// One SQLite connection. Not thread-safe: a Database and its Statements are used by one thread
// at a time (the connection is opened with SQLITE_OPEN_NOMUTEX). Several connections (in this
// or other processes) may share the file; WAL lets readers proceed while one writer commits,
// and writers wait for each other up to busy_timeout_ms.
//
// Every connection runs with journal_mode=WAL, the chosen synchronous level and
// foreign_keys=ON.
class Database {
 public:
  // Opens (and by default creates) the database file at `path`. ":memory:" works for tests.
  // Failures of the environment name the file and what an operator can do: "the disk holding
  // <path> is full; free some space and try again", "cannot open <path>: permission denied",
  // "<path> is damaged or not a database; restore it from a backup" (docs/errors.md).
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                const DatabaseOptions& options = {});
  // Connects to PostgreSQL (a libpq connection string or postgresql:// URI). The same API then
  // runs there; see Statement, Transaction and the notes on DataVersion and LastInsertRowId.
  // path() is the server and database, without user or password.
  static Result<std::unique_ptr<Database>> OpenPostgres(const std::string& conninfo,
                                                        const PostgresOptions& options = {});

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more ';'-separated statements, discarding any rows.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);

  // PRAGMA data_version: changes when ANOTHER connection commits a change to the file. Cheap
  // (no I/O beyond the WAL index); poll it to learn that the content changed.
  // kFailedPrecondition on PostgreSQL (unsupported there).
  Result<int64_t> DataVersion();

  // Rowid of the last successful INSERT on this connection. Unsupported on PostgreSQL, where it
  // is always 0: use INSERT … RETURNING id (which works on both).
  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection (on PostgreSQL: run
  // through a Statement; Exec does not count).
  int64_t Changes() const;
  // Rows inserted, updated or deleted through this connection since it was opened, those of
  // trigger programs included (sqlite3_total_changes64); it never goes down, not even at a
  // rollback. With DataVersion (other connections' commits) it tells a poller that the content
  // may have changed through this connection too. 0 on PostgreSQL (unsupported).
  int64_t TotalChanges() const;
  // Whether a transaction is open on this connection (a Transaction, or a BEGIN run by hand).
  bool InTransaction() const;

  // PostgreSQL: opens the connection again when it was lost (a server restart), as the next
  // outermost Transaction::Begin does; for code that runs BEGIN itself (the group-commit
  // writer). Call outside a transaction. Ok at once when connected, and on SQLite.
  Status ReconnectIfLost();

  // SQLite's write-ahead log, on this connection (kFailedPrecondition on PostgreSQL).
  // SetWalHook: `hook` is called on the committing thread after each commit made through this
  // connection, with the pages the WAL then holds. It replaces the checkpoint SQLite would
  // otherwise make on that thread once the WAL holds 1000 pages: a hook that wants one there
  // calls CheckpointWal. An empty hook brings SQLite's own back.
  using WalHook = std::function<void(int pages)>;
  Status SetWalHook(WalHook hook);
  // A passive checkpoint: copies into the database file what the WAL holds, as far as the
  // readers' snapshots allow, without waiting for or blocking writers. Another connection's
  // checkpoint in progress is not an error: `busy`, and nothing done.
  struct WalCheckpoint {
    int wal_pages = 0;     // in the WAL
    int copied_pages = 0;  // of those, in the database file now
    bool busy = false;     // another connection was making one
  };
  Result<WalCheckpoint> CheckpointWal();

  const std::string& path() const { return path_; }
  Backend backend() const { return pg_ != nullptr ? Backend::kPostgres : Backend::kSqlite; }

 private:
  friend class Transaction;
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  friend Status Migrate(Database&, std::string_view, std::span<const std::string_view>);
  friend Result<int64_t> SchemaVersion(Database&, std::string_view);
  Database(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  // The settings every connection runs with (busy timeout, WAL, synchronous, foreign keys).
  Status Configure(const DatabaseOptions& options);

  std::string path_;
  std::unique_ptr<sqlite3, Closer> db_;
  int transaction_depth_ = 0;  // Transactions open on this connection (nested: savepoints)
  // Set on PostgreSQL only (then db_ is null).
  std::unique_ptr<internal::PgDatabase, internal::PgDeleter> pg_;
  int64_t lock_timeout_ms_ = 0;  // PostgresOptions::lock_timeout_ms
  WalHook wal_hook_;             // SetWalHook's (SQLite holds a pointer to it)
};

enum class TransactionMode {
  // Takes the write lock at the first write; a read-only transaction sees one consistent
  // snapshot of the database from its first read to its end.
  kDeferred,
  // Takes the write lock at BEGIN, so checks made inside the transaction stay true until
  // COMMIT. Use it for every read-check-write sequence.
  kImmediate,
};

// BEGIN on creation, ROLLBACK on destruction unless Commit() succeeded. Move-only.
//
// On PostgreSQL: kImmediate is BEGIN plus a transaction-scoped advisory lock on one key for the
// whole database (pg_advisory_xact_lock), so immediate transactions of all connections and
// nodes run one at a time as SQLite's write lock makes them; waiting longer than
// PostgresOptions::lock_timeout_ms is kUnavailable. kDeferred is BEGIN ISOLATION LEVEL
// REPEATABLE READ (one snapshot, no lock). A failed statement aborts the whole transaction
// (SQLite aborts only the statement): roll back, or roll back to a savepoint (an inner
// Transaction); committing it fails. A connection lost outside a transaction is re-opened at
// the next Begin.
// Transactions nest: one begun while another is open on the same Database is a SAVEPOINT
// inside it (its mode is the outer one's), whose Commit releases it into the outer transaction
// and whose rollback undoes only what was done since it began. Nothing is durable until the
// outermost commits. So a caller can make several operations, each with its own transaction,
// one atomic unit (a registry change and the record of who made it). Inner transactions must
// end before outer ones (RAII scopes do this).
class [[nodiscard]] Transaction {
 public:
  static Result<Transaction> Begin(Database& db,
                                   TransactionMode mode = TransactionMode::kImmediate);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Status Commit();
  // Explicit rollback; the destructor does the same.
  void Rollback();

 private:
  Transaction(Database& db, int depth) : db_(&db), depth_(depth) {}
  std::string SavepointName() const;
  Database* db_;  // null once committed or rolled back
  int depth_;     // 1: the outermost (BEGIN/COMMIT); more: a savepoint
};

// Brings a schema up to date. `migrations[i]` is the SQL that takes `component`'s schema from
// version i to version i+1; versions are recorded per component in the table
// `schema_versions(component, version)`, so that several modules (registry, queues, evidence)
// can keep their tables in one database file without sharing one counter. Each migration runs
// in its own immediate transaction together with its version bump. Fails (changing nothing)
// when the database holds a newer version than `migrations` knows: an older binary must not
// run on a newer schema.
//
// On PostgreSQL this is postgres::Migrate: each migration runs as a script in its own
// transaction under an advisory lock on the component, so nodes starting together apply each
// exactly once. The texts must be valid there (per-backend lists are the callers' choice).
Status Migrate(Database& db, std::string_view component,
               std::span<const std::string_view> migrations);

// The version `component`'s schema is at (0 when never migrated).
Result<int64_t> SchemaVersion(Database& db, std::string_view component);

// Copies the SQLite database file `source` into the new file `destination` while the bus and
// other processes go on using it: SQLite's online backup API on connections of its own, every
// page in one step under one read transaction, so that the copy is the database as of one
// commit (WAL: the writers are not held up meanwhile). The copy is one file (no -wal beside
// it), in the source's journal mode. kAlreadyExists when `destination` exists; on any failure
// the partial copy is removed. Never changes the source's content.
Status BackupSqliteDatabase(const std::string& source, const std::string& destination,
                            int busy_timeout_ms = 5000);

}  // namespace govesb::store
