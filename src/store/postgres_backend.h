#pragma once

// The PostgreSQL backend of store::Database (private to the store module): a Database holds a
// PgDatabase, a Statement a PgStatement, and each of their methods hands over to these when
// set. Written on postgres::Connection.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "postgres/connection.h"
#include "store/database.h"

namespace govesb::store::internal {

// The SQL with SQLite's `?` and `?N` placeholders turned into PostgreSQL's `$N` (a bare `?`
// takes the largest number so far plus one, as in SQLite). The numbers in use are renumbered
// $1, $2 … without gaps (PostgreSQL cannot type a parameter the SQL does not mention):
// `(*slots)[n - 1]` is the $ number of SQLite's parameter n, 0 when unused; slots->size() is
// the largest SQLite number. Quoted text ('…', E'…', "…", $tag$…$tag$) and comments (--,
// /* */) are copied unchanged. kInvalidArgument for `?0` or a number above 32766.
Result<std::string> TranslatePlaceholders(std::string_view sql, std::vector<int>* slots);

// The backend state of one connection.
class PgDatabase {
 public:
  explicit PgDatabase(std::unique_ptr<postgres::Connection> conn) : conn_(std::move(conn)) {}

  postgres::Connection& conn() { return *conn_; }
  // A script without parameters (Database::Exec); an error marks the transaction failed.
  Status Exec(std::string_view sql);
  // Database::Prepare: translates, does not contact the server.
  Result<std::unique_ptr<PgStatement, PgDeleter>> Prepare(std::string_view sql);

  // Transaction support (Transaction::Begin/Commit at depth 1).
  Status Begin(TransactionMode mode, int64_t lock_timeout_ms);
  Status Commit();
  // A statement failed: PostgreSQL aborted the transaction, and COMMIT would silently roll it
  // back. Cleared by BEGIN and by ROLLBACK TO a savepoint.
  void MarkFailed() { failed_ = true; }
  void ClearFailed() { failed_ = false; }

  int64_t changes() const { return changes_; }
  void set_changes(int64_t n) { changes_ = n; }

 private:
  std::unique_ptr<postgres::Connection> conn_;
  int64_t changes_ = 0;
  bool failed_ = false;
};

class PgStatement {
 public:
  PgStatement(PgDatabase* db, std::string sql, std::string translated, std::vector<int> slots);

  Status Bind(int index, int64_t value);
  Status Bind(int index, std::string_view value);
  Status BindNull(int index);
  Status BindBlob(int index, std::string_view bytes);
  Result<bool> Step();
  Status Reset();

  int ColumnCount() const { return rows_ ? rows_->columns() : 0; }
  bool ColumnIsNull(int column) const;
  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  std::string_view ColumnView(int column) const;
  bool ColumnIsBlob(int column) const;
  std::string_view sql() const { return sql_; }

 private:
  bool HasColumn(int column) const {
    return rows_ && row_ >= 0 && row_ < rows_->size() && column >= 0 && column < rows_->columns();
  }
  // The value of SQLite's parameter `index`, or null with *status set.
  postgres::Param* Slot(int index, Status* status);

  PgDatabase* db_;
  std::string sql_;
  std::string translated_;
  bool counts_changes_;     // an INSERT, UPDATE or DELETE (as SQLite's changes() counts)
  std::vector<int> slots_;  // see TranslatePlaceholders
  std::vector<postgres::Param> params_;    // by $ number - 1
  postgres::Param ignored_{std::nullopt};  // binds of numbers the SQL does not use
  std::optional<postgres::Rows> rows_;     // set from the first Step until done or Reset
  int row_ = -1;
  // Decoded bytea values of the current row, by column (ColumnView points into them).
  mutable std::vector<std::optional<std::string>> decoded_;
};

}  // namespace govesb::store::internal
