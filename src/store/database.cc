#include "store/database.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "postgres/connection.h"
#include "store/postgres_backend.h"

namespace govesb::store {
namespace {

// The file of a connection, for messages ("" for an in-memory database).
std::string FileOf(sqlite3* db) {
  const char* name = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  return name != nullptr && *name != '\0' ? std::string(name) : std::string();
}

// Whether a write that failed with no OS error kept (SQLite does not always keep one: a failed
// COMMIT's rollback overwrites errno) was for want of room: little space left where `path` is,
// or a file-size limit (ulimit -f) in force.
bool NoRoomToWrite(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  struct statvfs fs {};
  if (::statvfs(parent.empty() ? "." : parent.c_str(), &fs) == 0 &&
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < (uint64_t{16} << 20)) {
    return true;
  }
  rlimit limit{};
  return ::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY;
}

// The SQL a message names: its first line, at most 60 characters.
std::string Quoted(std::string_view sql) {
  std::string_view first = sql.substr(0, sql.find('\n'));
  std::string out = "\"" + std::string(first.substr(0, 60));
  if (first.size() > 60 || first.size() < sql.size()) out += "...";
  return out + "\"";
}

// Maps an SQLite result code to a Status carrying sqlite3_errmsg. Failures that come from the
// environment (a full disk, permissions, a file that cannot be opened, a damaged file) say so
// in an operator's words, naming the file and the OS error (sqlite3_system_errno); what was
// being done follows in parentheses. Busy/locked -> kUnavailable, disk full ->
// kResourceExhausted, out of file descriptors -> kUnavailable, UNIQUE -> kAlreadyExists.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what, std::string_view file = {}) {
  std::string sqlite_text = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  // The OS error behind an I/O, open or full-disk failure (0 when SQLite kept none).
  const bool environment = primary == SQLITE_IOERR || primary == SQLITE_FULL ||
                           primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY ||
                           primary == SQLITE_PERM || primary == SQLITE_CORRUPT ||
                           primary == SQLITE_NOTADB;
  if (!environment) {
    std::string message(what);
    message += ": ";
    message += sqlite_text;
    switch (primary) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return Unavailable(std::move(message));
      case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
          return AlreadyExists(std::move(message));
        }
        return FailedPrecondition(std::move(message));
      default:
        return Internal(std::move(message));
    }
  }
  const int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
  std::string path = file.empty() ? FileOf(db) : std::string(file);
  if (path.empty()) path = "the in-memory database";
  std::string detail = " (while " + std::string(what) + ": " + sqlite_text;
  if (sys != 0) detail += ", " + std::string(std::strerror(sys));
  detail += ")";
  const bool grows = rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_SHMSIZE ||
                     rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_TRUNCATE;
  const bool full = primary == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT || sys == EFBIG ||
                    (grows && sys == 0 && NoRoomToWrite(path));
  if (full) {
    return ResourceExhausted("the disk holding " + path +
                             " is full (or a quota or file-size limit was reached); free some "
                             "space and try again" +
                             detail);
  }
  const bool denied = primary == SQLITE_PERM || sys == EACCES || sys == EPERM || sys == EROFS;
  if (primary == SQLITE_CANTOPEN || (primary == SQLITE_IOERR && denied)) {
    std::string why = sys != 0 ? std::string(std::strerror(sys)) : "cannot open the file";
    if (denied) why = "permission denied";
    // Out of file descriptors: a passing condition, not a fault of the file.
    if (sys == EMFILE || sys == ENFILE)
      return Unavailable("cannot open " + path + ": " + why + detail);
    return FailedPrecondition("cannot open " + path + ": " + why + detail);
  }
  if (primary == SQLITE_PERM || primary == SQLITE_READONLY) {
    return FailedPrecondition("cannot write " + path +
                              ": it is read-only (check the permissions of the file, its -wal "
                              "and -shm files and its directory)" +
                              detail);
  }
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    return FailedPrecondition(path + " is damaged or not a database; restore it from a backup" +
                              detail);
  }
  return Internal("disk I/O error on " + path + detail);
}

std::string_view SynchronousPragma(Synchronous s) {
  switch (s) {
    case Synchronous::kOff:
      return "PRAGMA synchronous=OFF";
    case Synchronous::kNormal:
      return "PRAGMA synchronous=NORMAL";
    case Synchronous::kFull:
      return "PRAGMA synchronous=FULL";
  }
  return "PRAGMA synchronous=FULL";
}

}  // namespace

// ---- Statement ----

void Statement::Finalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Statement::Statement(std::unique_ptr<internal::PgStatement, internal::PgDeleter> pg)
    : db_(nullptr), pg_(std::move(pg)) {}

Status Statement::Bind(int index, int64_t value) {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->Bind(index, value);
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "bind");
  return Status::Ok();
}

Status Statement::Bind(int index, std::string_view value) {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->Bind(index, value);
  // A non-null pointer even for "" so that the value binds as empty text, not NULL.
  const char* data = value.data() != nullptr ? value.data() : "";
  int rc =
      sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "bind");
  return Status::Ok();
}

Status Statement::BindNull(int index) {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->BindNull(index);
  int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "bind");
  return Status::Ok();
}

Result<bool> Statement::Step() {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->Step();
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, "running " + Quoted(sql()));
}

Status Statement::Run() {
  while (true) {
    GOVESB_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

Status Statement::Reset() {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->Reset();
  // sqlite3_reset repeats the last step's error; that error was already reported by Step().
  sqlite3_reset(stmt_.get());
  int rc = sqlite3_clear_bindings(stmt_.get());
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "reset");
  return Status::Ok();
}

int Statement::ColumnCount() const {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->ColumnCount();
  return sqlite3_column_count(stmt_.get());
}

bool Statement::ColumnIsNull(int column) const {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->ColumnIsNull(column);
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt64(int column) const {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->ColumnInt64(column);
  return sqlite3_column_int64(stmt_.get(), column);
}

Status Statement::BindBlob(int index, std::string_view bytes) {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->BindBlob(index, bytes);
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  int rc = sqlite3_bind_blob64(stmt_.get(), index, data, bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "bind");
  return Status::Ok();
}

std::string_view Statement::ColumnView(int column) const {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->ColumnView(column);
  const void* data = sqlite3_column_blob(stmt_.get(), column);
  if (data == nullptr) return {};
  int size = sqlite3_column_bytes(stmt_.get(), column);
  return std::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
}

bool Statement::ColumnIsBlob(int column) const {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->ColumnIsBlob(column);
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_BLOB;
}

std::string Statement::ColumnText(int column) const {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->ColumnText(column);
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  if (text == nullptr) return std::string();
  int size = sqlite3_column_bytes(stmt_.get(), column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string_view Statement::sql() const {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->sql();
  const char* sql = sqlite3_sql(stmt_.get());
  return sql != nullptr ? std::string_view(sql) : std::string_view();
}

// ---- Database ----

void Database::Closer::operator()(sqlite3* db) const {
  // Statements are owned by callers and must be gone already; close_v2 tolerates stragglers.
  sqlite3_close_v2(db);
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const DatabaseOptions& options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // sqlite3_open_v2 hands back a handle even on failure; it must be closed either way.
  std::unique_ptr<Database> db(new Database(path, raw));
  if (rc != SQLITE_OK) return SqliteStatus(raw, rc, "opening the database", path);
  sqlite3_extended_result_codes(raw, 1);
  Status configured = db->Configure(options);
  if (!configured.ok()) {
    // The first reads and writes of the file happen here (WAL, the schema): say what failed.
    if (configured.message().starts_with("cannot open ")) return configured;
    return Status(configured.code(),
                  "cannot open the database " + path + ": " + configured.message());
  }
  return db;
}

Status Database::Configure(const DatabaseOptions& options) {
  int rc = sqlite3_busy_timeout(db_.get(), options.busy_timeout_ms);
  if (rc != SQLITE_OK) return SqliteStatus(db_.get(), rc, "setting the busy timeout");
  // journal_mode answers with the mode actually in force; an in-memory database stays
  // "memory", and that is fine.
  GOVESB_ASSIGN_OR_RETURN(Statement wal, Prepare("PRAGMA journal_mode=WAL"));
  GOVESB_ASSIGN_OR_RETURN(bool has_row, wal.Step());
  if (has_row) {
    std::string mode = wal.ColumnText(0);
    if (mode != "wal" && mode != "memory") {
      return FailedPrecondition("cannot switch to WAL mode (journal_mode is " + mode + ")");
    }
  }
  GOVESB_RETURN_IF_ERROR(Exec(SynchronousPragma(options.synchronous)));
  GOVESB_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
  // Surface "file is not a database" and similar now rather than at the first query.
  return Exec("SELECT count(*) FROM sqlite_schema");
}

Database::~Database() = default;

Status Database::SetWalHook(WalHook hook) {
  if (pg_ != nullptr) return FailedPrecondition("PostgreSQL has no write-ahead log hook");
  wal_hook_ = std::move(hook);
  if (!wal_hook_) {
    // SQLite's own: a checkpoint on the committing thread at 1000 pages.
    int rc = sqlite3_wal_autocheckpoint(db_.get(), 1000);
    return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(db_.get(), rc, "setting checkpoints");
  }
  sqlite3_wal_hook(
      db_.get(),
      [](void* self, sqlite3*, const char*, int pages) -> int {
        static_cast<Database*>(self)->wal_hook_(pages);
        return SQLITE_OK;
      },
      this);
  return Status::Ok();
}

Result<Database::WalCheckpoint> Database::CheckpointWal() {
  if (pg_ != nullptr) return FailedPrecondition("PostgreSQL has no write-ahead log to checkpoint");
  WalCheckpoint out;
  int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &out.wal_pages,
                                     &out.copied_pages);
  if ((rc & 0xff) == SQLITE_BUSY) return WalCheckpoint{.busy = true};
  if (rc != SQLITE_OK) return SqliteStatus(db_.get(), rc, "checkpointing the write-ahead log");
  return out;
}

Status Database::Exec(std::string_view sql) {
  if (pg_ != nullptr) [[unlikely]]
    return pg_->Exec(sql);
  std::string text(sql);  // sqlite3_exec needs NUL termination
  char* error = nullptr;
  int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    sqlite3_free(error);  // the same text as sqlite3_errmsg, which SqliteStatus carries
    return SqliteStatus(db_.get(), rc, "running " + Quoted(sql));
  }
  return Status::Ok();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  if (pg_ != nullptr) [[unlikely]] {
    // A statement outside a transaction after the server went away (a restart, a failover)
    // reconnects first, as the first transaction does; inside one, the loss is the
    // transaction's failure.
    if (transaction_depth_ == 0) GOVESB_RETURN_IF_ERROR(ReconnectIfLost());
    GOVESB_ASSIGN_OR_RETURN(auto stmt, pg_->Prepare(sql));
    return Statement(std::move(stmt));
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), 0, &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(db_.get(), rc, "preparing " + Quoted(sql));
  }
  if (stmt == nullptr) return InvalidArgument("prepare: empty SQL statement");
  return Statement(db_.get(), stmt);
}

Result<int64_t> Database::DataVersion() {
  if (pg_ != nullptr) {
    return FailedPrecondition("DataVersion is not available on PostgreSQL");
  }
  GOVESB_ASSIGN_OR_RETURN(Statement stmt, Prepare("PRAGMA data_version"));
  GOVESB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Internal("PRAGMA data_version returned no row");
  return stmt.ColumnInt64(0);
}

int64_t Database::LastInsertRowId() const {
  if (pg_ != nullptr) return 0;  // unsupported: INSERT … RETURNING id
  return sqlite3_last_insert_rowid(db_.get());
}

int64_t Database::Changes() const {
  if (pg_ != nullptr) return pg_->changes();
  return sqlite3_changes64(db_.get());
}

int64_t Database::TotalChanges() const {
  if (pg_ != nullptr) return 0;  // unsupported
  return sqlite3_total_changes64(db_.get());
}

bool Database::InTransaction() const {
  if (pg_ != nullptr) return transaction_depth_ > 0;
  return sqlite3_get_autocommit(db_.get()) == 0;
}

// ---- Transaction ----

Result<Transaction> Transaction::Begin(Database& db, TransactionMode mode) {
  Transaction txn(db, db.transaction_depth_ + 1);
  txn.db_ = nullptr;  // not begun yet: a failed BEGIN must not be rolled back
  if (txn.depth_ == 1 && db.pg_ != nullptr) {
    GOVESB_RETURN_IF_ERROR(db.pg_->Begin(mode, db.lock_timeout_ms_));
  } else if (txn.depth_ == 1) {
    GOVESB_RETURN_IF_ERROR(
        db.Exec(mode == TransactionMode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  } else {
    GOVESB_RETURN_IF_ERROR(db.Exec("SAVEPOINT " + txn.SavepointName()));
  }
  txn.db_ = &db;
  db.transaction_depth_ = txn.depth_;
  return txn;
}

std::string Transaction::SavepointName() const { return "govesb_sp" + std::to_string(depth_); }

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), depth_(other.depth_) {}

Transaction::~Transaction() { Rollback(); }

Status Transaction::Commit() {
  if (db_ == nullptr) return FailedPrecondition("transaction already finished");
  if (db_->transaction_depth_ != depth_) {
    return FailedPrecondition("a transaction nested in this one is still open");
  }
  if (depth_ > 1) {
    Status released = db_->Exec("RELEASE " + SavepointName());
    if (!released.ok()) {
      Rollback();
      return released;
    }
    db_->transaction_depth_ = depth_ - 1;
    db_ = nullptr;
    return Status::Ok();
  }
  Status status = db_->pg_ != nullptr ? db_->pg_->Commit() : db_->Exec("COMMIT");
  if (!status.ok()) {
    // A failed COMMIT (SQLITE_BUSY, disk full) leaves the transaction open: roll it back so the
    // connection is usable again.
    Rollback();
    return status;
  }
  db_->transaction_depth_ = 0;
  db_ = nullptr;
  return Status::Ok();
}

void Transaction::Rollback() {
  if (db_ == nullptr) return;
  // Ignoring the results is deliberate: ROLLBACK fails only when no transaction is active
  // (SQLite already rolled back on an I/O error), which is the state we want; after such an
  // error a savepoint is gone with its transaction.
  if (depth_ > 1) {
    (void)db_->Exec("ROLLBACK TO " + SavepointName());
    (void)db_->Exec("RELEASE " + SavepointName());
  } else {
    (void)db_->Exec("ROLLBACK");
  }
  // On PostgreSQL, what failed is undone: the (outer) transaction can go on.
  if (db_->pg_ != nullptr) db_->pg_->ClearFailed();
  db_->transaction_depth_ = depth_ - 1;
  db_ = nullptr;
}

// ---- Migrations ----

Result<int64_t> SchemaVersion(Database& db, std::string_view component) {
  GOVESB_ASSIGN_OR_RETURN(
      Statement exists,
      db.Prepare(
          db.pg_ != nullptr
              ? "SELECT 1 WHERE to_regclass('schema_versions') IS NOT NULL"
              : "SELECT 1 FROM sqlite_schema WHERE type='table' AND name='schema_versions'"));
  GOVESB_ASSIGN_OR_RETURN(bool has_table, exists.Step());
  if (!has_table) return int64_t{0};
  GOVESB_ASSIGN_OR_RETURN(Statement stmt,
                          db.Prepare("SELECT version FROM schema_versions WHERE component=?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, component));
  GOVESB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : int64_t{0};
}

namespace {

Status MigrateOnce(Database& db, std::string_view component,
                   std::span<const std::string_view> migrations) {
  GOVESB_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS schema_versions ("
              " component TEXT PRIMARY KEY,"
              " version INTEGER NOT NULL)"));
  const int64_t target = static_cast<int64_t>(migrations.size());
  int64_t from = -1;  // the version found first
  while (true) {
    // Re-read inside the write transaction: another process may be migrating concurrently.
    GOVESB_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
    GOVESB_ASSIGN_OR_RETURN(int64_t version, SchemaVersion(db, component));
    if (version > target) {
      return FailedPrecondition("the " + std::string(component) + " schema in " + db.path() +
                                " is at version " + std::to_string(version) +
                                ", newer than this govesb supports (" + std::to_string(target) +
                                "): use a govesb at least as new as the one that wrote it");
    }
    if (from < 0) from = version;
    if (version == target) {
      // An upgrade is logged (a new database's tables being made is not).
      if (from > 0 && from < target) {
        spdlog::info("store: the {} tables of {} were migrated from schema version {} to {}",
                     component, db.path(), from, target);
      }
      return Status::Ok();  // nothing to commit; the txn rolls back
    }
    Status applied = db.Exec(migrations[static_cast<size_t>(version)]);
    if (!applied.ok()) {
      return Status(applied.code(), std::string(component) + " schema migration " +
                                        std::to_string(version + 1) + ": " + applied.message());
    }
    GOVESB_ASSIGN_OR_RETURN(
        Statement bump,
        db.Prepare("INSERT INTO schema_versions(component, version) VALUES(?, ?)"
                   " ON CONFLICT(component) DO UPDATE SET version=excluded.version"));
    GOVESB_RETURN_IF_ERROR(bump.Bind(1, component));
    GOVESB_RETURN_IF_ERROR(bump.Bind(2, version + 1));
    GOVESB_RETURN_IF_ERROR(bump.Run());
    GOVESB_RETURN_IF_ERROR(txn.Commit());
  }
}

}  // namespace

Status Migrate(Database& db, std::string_view component,
               std::span<const std::string_view> migrations) {
  Status status =
      db.pg_ != nullptr
          ? postgres::Migrate(db.pg_->conn(), component,
                              std::vector<std::string_view>(migrations.begin(), migrations.end()))
          : MigrateOnce(db, component, migrations);
  if (status.ok()) return status;
  const std::string file = db.path() == ":memory:" ? "the in-memory database" : db.path();
  return Status(status.code(), "cannot update the " + std::string(component) + " tables of " +
                                   file + ": " + status.message());
}

Status BackupSqliteDatabase(const std::string& source, const std::string& destination,
                            int busy_timeout_ms) {
  std::error_code ec;
  if (std::filesystem::exists(destination, ec)) {
    return AlreadyExists("the copy " + destination + " already exists");
  }
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  // The source read and written as usual (no create: a missing file is an error); the copy
  // made new.
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(source.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, Closer> from(raw);
  if (rc != SQLITE_OK) return SqliteStatus(from.get(), rc, "cannot open the database", source);
  sqlite3_busy_timeout(from.get(), busy_timeout_ms);
  raw = nullptr;
  rc = sqlite3_open_v2(destination.c_str(), &raw,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, Closer> to(raw);
  auto failed = [&](Status status) {
    to.reset();
    std::filesystem::remove(destination, ec);
    return status;
  };
  if (rc != SQLITE_OK) {
    return failed(SqliteStatus(to.get(), rc, "cannot create the copy", destination));
  }
  sqlite3_backup* backup = sqlite3_backup_init(to.get(), "main", from.get(), "main");
  if (backup == nullptr) {
    return failed(SqliteStatus(to.get(), sqlite3_errcode(to.get()),
                               "cannot start copying " + source, destination));
  }
  // All pages in one step: one read transaction on the source, so the copy is the database as
  // of one commit (in WAL mode the bus's writer is not held up meanwhile). A step that finds
  // the source locked (a WAL being recovered) is tried again until the busy timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  do {
    rc = sqlite3_backup_step(backup, -1);
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } while ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
           std::chrono::steady_clock::now() < deadline);
  const int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return failed(SqliteStatus(from.get(), rc, "cannot copy the database " + source, source));
  }
  if (finished != SQLITE_OK) {
    return failed(SqliteStatus(to.get(), finished, "cannot write the copy", destination));
  }
  // The copy in one file: its WAL (if any) folded in before the connection closes.
  rc = sqlite3_wal_checkpoint_v2(to.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return failed(SqliteStatus(to.get(), rc, "cannot write the copy", destination));
  }
  if (sqlite3_close_v2(to.release()) != SQLITE_OK) {
    return failed(Internal("cannot close the copy " + destination));
  }
  return Status::Ok();
}

}  // namespace govesb::store
