#pragma once

// A thin RAII layer over libpq for the cluster-mode adapters: one connection, parameterised
// statements (text parameters and results), transactions, and errors as Status values mapped
// from PostgreSQL's SQLSTATE codes. Nothing here knows a table of the bus.
//
// Threading: a Connection belongs to one thread at a time (libpq connections are not
// thread-safe); give each thread its own. Statements block the calling thread: never call them
// on an I/O thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

struct pg_conn;
struct pg_result;

namespace govesb::postgres {

// One statement parameter, sent as text ($1, $2 ...); nullopt is SQL NULL.
struct Param {
  std::optional<std::string> text;
  Param(std::string_view v) : text(std::string(v)) {}  // NOLINT(runtime/explicit)
  Param(const std::string& v) : text(v) {}             // NOLINT(runtime/explicit)
  Param(const char* v) : text(std::string(v)) {}       // NOLINT(runtime/explicit)
  Param(int64_t v) : text(std::to_string(v)) {}        // NOLINT(runtime/explicit)
  Param(int v) : text(std::to_string(v)) {}            // NOLINT(runtime/explicit)
  Param(bool v) : text(v ? "true" : "false") {}        // NOLINT(runtime/explicit)
  Param(std::nullopt_t) {}                             // NOLINT(runtime/explicit)
};

// The rows a statement returned (text format). Cheap to move; owns the libpq result.
class Rows {
 public:
  Rows() = default;
  int size() const;
  bool empty() const { return size() == 0; }
  // How many columns each row has.
  int columns() const;
  // Whether a column is of type bytea (Bytes decodes it).
  bool IsBytes(int col) const;
  bool IsNull(int row, int col) const;
  std::string_view Text(int row, int col) const;  // "" for NULL
  int64_t Int64(int row, int col) const;          // 0 for NULL or not a number
  bool Bool(int row, int col) const;              // PostgreSQL's "t"
  // A bytea column (hex output format, "\x..."), decoded.
  std::string Bytes(int row, int col) const;
  // How many rows an INSERT, UPDATE or DELETE touched.
  int64_t affected() const { return affected_; }

 private:
  friend class Connection;
  struct Free {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Free> result_;
  int64_t affected_ = 0;
};

class Connection {
 public:
  // Connects with a libpq connection string or URI ("postgresql://user@host:port/db"). The
  // session runs with a statement timeout of `statement_timeout_ms` (0: none).
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo,
                                                  int64_t statement_timeout_ms = 30'000);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with $1.. parameters. Errors: unique violation → kAlreadyExists,
  // foreign key / check / not-null violation → kFailedPrecondition, serialization failure or
  // deadlock → kUnavailable (retry), connection lost / server shutting down → kUnavailable,
  // statement timeout → kDeadlineExceeded, disk full → kResourceExhausted, else kInternal. The
  // message names the SQLSTATE and PostgreSQL's words.
  Result<Rows> Exec(std::string_view sql, const std::vector<Param>& params = {});
  // Several statements without parameters (migrations).
  Status ExecScript(std::string_view sql);

  // Whether the connection is still usable (false after the server went away).
  bool ok() const;
  // Drops and re-opens the connection (after the server restarted).
  Status Reset();
  const std::string& conninfo() const { return conninfo_; }

 private:
  Connection(pg_conn* conn, std::string conninfo) : conn_(conn), conninfo_(std::move(conninfo)) {}
  Status ErrorOf(pg_result* result, std::string_view what) const;

  pg_conn* conn_;
  std::string conninfo_;
};

// BEGIN … COMMIT; ROLLBACK on destruction unless committed. Not nestable.
class Transaction {
 public:
  enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };
  static Result<Transaction> Begin(Connection& conn,
                                   Isolation isolation = Isolation::kReadCommitted);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Connection& conn) : conn_(&conn) {}
  Connection* conn_;
};

// Applies the migrations of `component` not yet applied (schema_versions holds one version per
// component; migration i brings it to version i + 1), each in its own transaction, under a
// transaction-scoped advisory lock on the component: nodes starting at once apply each
// migration exactly once, the others wait and then see it applied.
Status Migrate(Connection& conn, std::string_view component,
               const std::vector<std::string_view>& migrations);
Result<int64_t> SchemaVersion(Connection& conn, std::string_view component);

}  // namespace govesb::postgres
