#include "store/postgres_backend.h"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <string>
#include <utility>

namespace govesb::store {
namespace internal {
namespace {

// The one key of the database-wide write lock that kImmediate transactions take ("govesb!").
constexpr int64_t kImmediateLockKey = 0x676f7665736221;

// The SQL a message names: its first line, at most 60 characters (as on SQLite).
std::string Quoted(std::string_view sql) {
  std::string_view first = sql.substr(0, sql.find('\n'));
  std::string out = "\"" + std::string(first.substr(0, 60));
  if (first.size() > 60 || first.size() < sql.size()) out += "...";
  return out + "\"";
}

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Whether the statement's first keyword makes SQLite count its changes.
bool CountsChanges(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[i])) != 0 || sql[i] == '(') {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      size_t end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end;
    } else if (sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      break;
    }
  }
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])) != 0) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
  }
  return word == "INSERT" || word == "UPDATE" || word == "DELETE";
}

// "postgresql://host:port/dbname" from a connection string, without user or password.
std::string Describe(const std::string& conninfo) {
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), nullptr);
  if (options == nullptr) return "the PostgreSQL database";
  std::string host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view key = o->keyword;
    if (key == "host") host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  std::string out = "postgresql://" + host;
  if (!port.empty()) out += ":" + port;
  return out + "/" + dbname;
}

}  // namespace

void PgDeleter::operator()(PgDatabase* db) const { delete db; }
void PgDeleter::operator()(PgStatement* stmt) const { delete stmt; }

Result<std::string> TranslatePlaceholders(std::string_view sql, std::vector<int>* slots) {
  constexpr int kMaxParams = 32766;  // SQLite's default SQLITE_MAX_VARIABLE_NUMBER
  std::string out;
  out.reserve(sql.size() + 8);
  int highest = 0;
  std::vector<std::pair<size_t, int>> at;  // where in `out` each placeholder goes, its number
  size_t i = 0;
  // Copies sql[i, end) and moves on.
  auto copy_to = [&](size_t end) {
    out.append(sql.substr(i, end - i));
    i = end;
  };
  while (i < sql.size()) {
    const char c = sql[i];
    const bool after_ident = i > 0 && IsIdentChar(sql[i - 1]);
    if (c == '\'' || c == '"') {
      // E'…' strings escape with backslashes; otherwise a doubled quote is a quote.
      const bool backslashes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                               !(i > 1 && IsIdentChar(sql[i - 2]));
      size_t j = i + 1;
      while (j < sql.size()) {
        if (backslashes && sql[j] == '\\') {
          j += 2;
        } else if (sql[j] == c) {
          if (j + 1 < sql.size() && sql[j + 1] == c) {
            j += 2;
          } else {
            break;
          }
        } else {
          ++j;
        }
      }
      copy_to(std::min(j + 1, sql.size()));
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      copy_to(end == std::string_view::npos ? sql.size() : end);
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      copy_to(end == std::string_view::npos ? sql.size() : end + 2);
    } else if (c == '$' && !after_ident) {
      // A dollar quote $tag$…$tag$ ($1 is a parameter: copied as it is).
      size_t j = i + 1;
      while (j < sql.size() && IsIdentChar(sql[j]) && sql[j] != '$') ++j;
      const bool tag = j < sql.size() && sql[j] == '$' &&
                       (j == i + 1 || std::isdigit(static_cast<unsigned char>(sql[i + 1])) == 0);
      if (!tag) {
        copy_to(i + 1);
        continue;
      }
      std::string_view delimiter = sql.substr(i, j - i + 1);
      size_t end = sql.find(delimiter, j + 1);
      copy_to(end == std::string_view::npos ? sql.size() : end + delimiter.size());
    } else if (c == '?') {
      size_t j = i + 1;
      int number = 0;
      if (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) {
        while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) {
          if (number <= kMaxParams) number = number * 10 + (sql[j] - '0');
          ++j;
        }
        if (number < 1 || number > kMaxParams) {
          return InvalidArgument("parameter " + std::string(sql.substr(i, j - i)) +
                                 " is out of range (1 to " + std::to_string(kMaxParams) + ")");
        }
      } else {
        number = highest + 1;
        if (number > kMaxParams) return InvalidArgument("too many parameters");
      }
      highest = std::max(highest, number);
      at.emplace_back(out.size(), number);
      i = j;
    } else {
      copy_to(i + 1);
    }
  }
  // Numbers in use become $1, $2 … in their order, without gaps: PostgreSQL cannot type a
  // parameter the SQL does not mention.
  slots->assign(static_cast<size_t>(highest), 0);
  for (const auto& [pos, number] : at) (*slots)[static_cast<size_t>(number - 1)] = 1;
  int next = 0;
  for (int& slot : *slots) slot = slot != 0 ? ++next : 0;
  std::string result;
  result.reserve(out.size() + 3 * at.size());
  size_t from = 0;
  for (const auto& [pos, number] : at) {
    result.append(out, from, pos - from);
    result += '$';
    result += std::to_string((*slots)[static_cast<size_t>(number - 1)]);
    from = pos;
  }
  result.append(out, from, std::string::npos);
  return result;
}

// ---- PgDatabase ----

Status PgDatabase::Exec(std::string_view sql) {
  Status status = conn_->ExecScript(sql);
  if (status.ok()) return status;
  failed_ = true;
  return Status(status.code(), "running " + Quoted(sql) + ": " + status.message());
}

Result<std::unique_ptr<PgStatement, PgDeleter>> PgDatabase::Prepare(std::string_view sql) {
  std::vector<int> slots;
  GOVESB_ASSIGN_OR_RETURN(std::string translated, TranslatePlaceholders(sql, &slots));
  std::string_view rest = translated;
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front())) != 0) {
    rest.remove_prefix(1);
  }
  if (rest.empty()) return InvalidArgument("prepare: empty SQL statement");
  return std::unique_ptr<PgStatement, PgDeleter>(
      new PgStatement(this, std::string(sql), std::move(translated), std::move(slots)));
}

Status PgDatabase::Begin(TransactionMode mode, int64_t lock_timeout_ms) {
  // After the server went away (a restart, a failover), the first transaction reconnects.
  if (!conn_->ok()) GOVESB_RETURN_IF_ERROR(conn_->Reset());
  failed_ = false;
  if (mode == TransactionMode::kDeferred) {
    return Exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  }
  // One round trip; a lock not granted in time is SQLSTATE 55P03, kUnavailable.
  Status locked = Exec("BEGIN; SET LOCAL lock_timeout = " + std::to_string(lock_timeout_ms) +
                       "; SELECT pg_advisory_xact_lock(" + std::to_string(kImmediateLockKey) + ")");
  if (!locked.ok()) {
    (void)conn_->ExecScript("ROLLBACK");  // the BEGIN may have run
    failed_ = false;
  }
  return locked;
}

Status PgDatabase::Commit() {
  if (failed_) {
    (void)conn_->ExecScript("ROLLBACK");
    failed_ = false;
    return FailedPrecondition(
        "cannot commit: a statement of this transaction failed, and PostgreSQL rolled it back");
  }
  return Exec("COMMIT");
}

// ---- PgStatement ----

PgStatement::PgStatement(PgDatabase* db, std::string sql, std::string translated,
                         std::vector<int> slots)
    : db_(db),
      sql_(std::move(sql)),
      translated_(std::move(translated)),
      counts_changes_(CountsChanges(translated_)),
      slots_(std::move(slots)) {
  int used = 0;
  for (int slot : slots_) used = std::max(used, slot);
  params_.assign(static_cast<size_t>(used), postgres::Param(std::nullopt));
}

postgres::Param* PgStatement::Slot(int index, Status* status) {
  if (index < 1 || index > static_cast<int>(slots_.size())) {
    *status = Internal("bind: parameter " + std::to_string(index) + " is out of range (" +
                       Quoted(sql_) + " has " + std::to_string(slots_.size()) + ")");
    return nullptr;
  }
  const int slot = slots_[static_cast<size_t>(index - 1)];
  // A number below the highest that the SQL does not use: SQLite accepts the bind and ignores
  // it, and so does this.
  return slot == 0 ? &ignored_ : &params_[static_cast<size_t>(slot - 1)];
}

Status PgStatement::Bind(int index, int64_t value) {
  Status status;
  postgres::Param* slot = Slot(index, &status);
  if (slot != nullptr) *slot = postgres::Param(value);
  return status;
}

Status PgStatement::Bind(int index, std::string_view value) {
  Status status;
  postgres::Param* slot = Slot(index, &status);
  if (slot == nullptr) return status;
  if (value.find('\0') != std::string_view::npos) {
    return InvalidArgument("bind: PostgreSQL text cannot hold a NUL byte (parameter " +
                           std::to_string(index) + " of " + Quoted(sql_) + ")");
  }
  *slot = postgres::Param(value);
  return status;
}

Status PgStatement::BindNull(int index) {
  Status status;
  postgres::Param* slot = Slot(index, &status);
  if (slot != nullptr) *slot = postgres::Param(std::nullopt);
  return status;
}

Status PgStatement::BindBlob(int index, std::string_view bytes) {
  Status status;
  postgres::Param* slot = Slot(index, &status);
  if (slot == nullptr) return status;
  // bytea's hex input format.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 + 2 * bytes.size());
  hex += "\\x";
  for (unsigned char b : bytes) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xf];
  }
  *slot = postgres::Param(hex);
  return status;
}

Result<bool> PgStatement::Step() {
  if (!rows_) {
    Result<postgres::Rows> rows = db_->conn().Exec(translated_, params_);
    if (!rows.ok()) {
      db_->MarkFailed();
      return Status(rows.status().code(),
                    "running " + Quoted(sql_) + ": " + rows.status().message());
    }
    rows_.emplace(std::move(rows).value());
    row_ = -1;
    if (counts_changes_) db_->set_changes(rows_->affected());
  }
  ++row_;
  decoded_.assign(static_cast<size_t>(rows_->columns()), std::nullopt);
  if (row_ < rows_->size()) return true;
  // Done: the next Step runs the statement again (sqlite3_step resets itself after DONE).
  rows_.reset();
  row_ = -1;
  return false;
}

Status PgStatement::Reset() {
  rows_.reset();
  row_ = -1;
  for (postgres::Param& p : params_) p = postgres::Param(std::nullopt);
  return Status::Ok();
}

bool PgStatement::ColumnIsNull(int column) const {
  return !HasColumn(column) || rows_->IsNull(row_, column);
}

int64_t PgStatement::ColumnInt64(int column) const {
  if (!HasColumn(column)) return 0;
  std::string_view t = rows_->Text(row_, column);
  if (t == "t") return 1;  // a boolean expression, as SQLite gives 1 or 0
  if (t == "f") return 0;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec == std::errc() && end == t.data() + t.size()) return v;
  double d = 0;  // a real (1e+15, 2.5) converts as SQLite's does, truncated
  auto [dend, dec] = std::from_chars(t.data(), t.data() + t.size(), d);
  if (dec == std::errc() && d >= -9.2e18 && d <= 9.2e18) return static_cast<int64_t>(d);
  return v;
}

std::string PgStatement::ColumnText(int column) const { return std::string(ColumnView(column)); }

std::string_view PgStatement::ColumnView(int column) const {
  if (!HasColumn(column)) return {};
  if (!rows_->IsBytes(column)) return rows_->Text(row_, column);
  std::optional<std::string>& decoded = decoded_[static_cast<size_t>(column)];
  if (!decoded) decoded = rows_->Bytes(row_, column);
  return *decoded;
}

bool PgStatement::ColumnIsBlob(int column) const {
  return HasColumn(column) && rows_->IsBytes(column) && !rows_->IsNull(row_, column);
}

}  // namespace internal

// ---- Database on PostgreSQL ----

Status Database::ReconnectIfLost() {
  if (pg_ == nullptr || pg_->conn().ok()) return Status::Ok();
  pg_->ClearFailed();
  return pg_->conn().Reset();
}

Result<std::unique_ptr<Database>> Database::OpenPostgres(const std::string& conninfo,
                                                         const PostgresOptions& options) {
  if (options.lock_timeout_ms < 0 || options.statement_timeout_ms < 0) {
    return InvalidArgument("PostgreSQL timeouts cannot be negative");
  }
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<postgres::Connection> conn,
                          postgres::Connection::Open(conninfo, options.statement_timeout_ms));
  std::unique_ptr<Database> db(new Database(internal::Describe(conninfo), nullptr));
  db->pg_.reset(new internal::PgDatabase(std::move(conn)));
  db->lock_timeout_ms_ = options.lock_timeout_ms;
  return db;
}

}  // namespace govesb::store
