#include "postgres/connection.h"

#include <libpq-fe.h>

#include <charconv>
#include <functional>

namespace govesb::postgres {

void Rows::Free::operator()(pg_result* r) const { PQclear(r); }

int Rows::size() const { return result_ ? PQntuples(result_.get()) : 0; }

int Rows::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

bool Rows::IsBytes(int col) const {
  constexpr Oid kByteaOid = 17;  // pg_type.dat
  return result_ && PQftype(result_.get(), col) == kByteaOid;
}

bool Rows::IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) == 1; }

std::string_view Rows::Text(int row, int col) const {
  if (IsNull(row, col)) return {};
  return {PQgetvalue(result_.get(), row, col),
          static_cast<size_t>(PQgetlength(result_.get(), row, col))};
}

int64_t Rows::Int64(int row, int col) const {
  std::string_view t = Text(row, col);
  int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

bool Rows::Bool(int row, int col) const { return Text(row, col) == "t"; }

std::string Rows::Bytes(int row, int col) const {
  std::string_view t = Text(row, col);
  if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return std::string(t);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
  };
  std::string out;
  out.reserve((t.size() - 2) / 2);
  for (size_t i = 2; i + 1 < t.size(); i += 2) {
    out.push_back(static_cast<char>((nibble(t[i]) << 4) | nibble(t[i + 1])));
  }
  return out;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo,
                                                     int64_t statement_timeout_ms) {
  pg_conn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Internal("PostgreSQL: out of memory opening a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Unavailable("cannot connect to PostgreSQL: " + why);
  }
  std::unique_ptr<Connection> c(new Connection(conn, conninfo));
  // Quiet notices (they would go to stderr), and a bound on every statement.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  GOVESB_RETURN_IF_ERROR(
      c->Exec("SET statement_timeout = " + std::to_string(statement_timeout_ms)).status());
  return c;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

Status Connection::Reset() {
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable(std::string("cannot reconnect to PostgreSQL: ") + PQerrorMessage(conn_));
  }
  return Status::Ok();
}

Status Connection::ErrorOf(pg_result* result, std::string_view what) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  std::string words = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  while (!words.empty() && (words.back() == '\n' || words.back() == ' ')) words.pop_back();
  std::string message = std::string(what) + ": " + words;
  if (!sqlstate.empty()) message += " (SQLSTATE " + sqlstate + ")";
  if (sqlstate == "23505") return AlreadyExists(message);
  if (sqlstate == "23503" || sqlstate == "23514" || sqlstate == "23502") {
    return FailedPrecondition(message);
  }
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    return Unavailable(message);
  }
  if (sqlstate == "57014") return DeadlineExceeded(message);
  if (sqlstate == "53100") return ResourceExhausted(message);
  // Connection exceptions (08...), the server shutting down (57P01..57P03), or no SQLSTATE at
  // all with the connection gone.
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P") || (sqlstate.empty() && !ok())) {
    return Unavailable(message);
  }
  return Internal(message);
}

Result<Rows> Connection::Exec(std::string_view sql, const std::vector<Param>& params) {
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p.text ? p.text->c_str() : nullptr);
  Rows rows;
  rows.result_.reset(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0));
  ExecStatusType status = rows.result_ ? PQresultStatus(rows.result_.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ErrorOf(rows.result_.get(), "PostgreSQL");
  }
  const char* affected = PQcmdTuples(rows.result_.get());
  if (affected != nullptr && *affected != '\0') {
    std::from_chars(affected, affected + std::char_traits<char>::length(affected), rows.affected_);
  }
  return rows;
}

Status Connection::ExecScript(std::string_view sql) {
  std::string text(sql);
  std::unique_ptr<pg_result, Rows::Free> result(PQexec(conn_, text.c_str()));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ErrorOf(result.get(), "PostgreSQL");
  }
  return Status::Ok();
}

Result<Transaction> Transaction::Begin(Connection& conn, Isolation isolation) {
  std::string_view begin =
      isolation == Isolation::kSerializable     ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
      : isolation == Isolation::kRepeatableRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                                                : "BEGIN";
  GOVESB_RETURN_IF_ERROR(conn.Exec(begin).status());
  return Transaction(conn);
}

Transaction::~Transaction() {
  if (conn_ != nullptr) (void)conn_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  Connection* conn = conn_;
  conn_ = nullptr;
  if (conn == nullptr) return FailedPrecondition("transaction already ended");
  return conn->Exec("COMMIT").status();
}

namespace {

constexpr std::string_view kVersionsTable =
    "CREATE TABLE IF NOT EXISTS schema_versions ("
    " component TEXT PRIMARY KEY, version BIGINT NOT NULL)";

// A stable 63-bit key for the advisory lock of a component.
int64_t LockKey(std::string_view component) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : component) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h >> 1);
}

}  // namespace

Result<int64_t> SchemaVersion(Connection& conn, std::string_view component) {
  GOVESB_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Exec("SELECT version FROM schema_versions WHERE component = $1", {component}));
  return rows.empty() ? 0 : rows.Int64(0, 0);
}

Status Migrate(Connection& conn, std::string_view component,
               const std::vector<std::string_view>& migrations) {
  {
    // The table itself, under a lock of its own (CREATE TABLE IF NOT EXISTS races otherwise).
    GOVESB_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn));
    GOVESB_RETURN_IF_ERROR(
        conn.Exec("SELECT pg_advisory_xact_lock($1)", {LockKey("schema_versions")}).status());
    GOVESB_RETURN_IF_ERROR(conn.Exec(kVersionsTable).status());
    GOVESB_RETURN_IF_ERROR(txn.Commit());
  }
  for (size_t i = 0; i < migrations.size(); ++i) {
    GOVESB_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn));
    GOVESB_RETURN_IF_ERROR(
        conn.Exec("SELECT pg_advisory_xact_lock($1)", {LockKey(component)}).status());
    GOVESB_ASSIGN_OR_RETURN(int64_t version, SchemaVersion(conn, component));
    if (version > static_cast<int64_t>(migrations.size())) {
      return FailedPrecondition("the database's schema of " + std::string(component) +
                                " is version " + std::to_string(version) +
                                ", newer than this binary knows (" +
                                std::to_string(migrations.size()) + "): upgrade the binary");
    }
    if (version > static_cast<int64_t>(i)) continue;  // applied (by us or another node)
    Status applied = conn.ExecScript(migrations[i]);
    if (!applied.ok()) {
      return Status(applied.code(), "migration " + std::to_string(i + 1) + " of " +
                                        std::string(component) + ": " + applied.message());
    }
    GOVESB_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO schema_versions (component, version) VALUES ($1, $2)"
                  " ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                  {component, static_cast<int64_t>(i + 1)})
            .status());
    GOVESB_RETURN_IF_ERROR(txn.Commit());
  }
  return Status::Ok();
}

}  // namespace govesb::postgres
