// Accounts: the schema, the shared helpers, and users (create, list, enable/disable, passwords).
// Sessions are in sessions.cc, API tokens in api_tokens.cc.
#include "accounts/accounts.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/json/value.hpp>
#include <utility>

#include "accounts/internal.h"
#include "accounts/render.h"
#include "accounts/validation.h"
#include "admin/journal.h"
#include "admin/service.h"
#include "base/encoding.h"
#include "base/log_safe_fmt.h"
#include "crypto/primitives.h"

namespace govesb::accounts {
namespace {

namespace json = boost::json;

// Migration 1 of component "accounts". Never edit a released migration; append.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE users (
  id                   INTEGER PRIMARY KEY,
  email                TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  display_name         TEXT    NOT NULL,
  role                 TEXT    NOT NULL
                       CHECK (role IN ('operator', 'institution-admin', 'auditor')),
  institution_id       INTEGER REFERENCES institutions(id),
  password_hash        TEXT    NOT NULL,
  must_change_password INTEGER NOT NULL CHECK (must_change_password IN (0, 1)),
  enabled              INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  password_changed_at  INTEGER NOT NULL,
  last_login_at        INTEGER,
  CHECK ((role = 'institution-admin') = (institution_id IS NOT NULL))
);
CREATE TABLE sessions (
  id           TEXT    PRIMARY KEY,  -- hex SHA-256 of the session token; never the token
  user_id      INTEGER NOT NULL REFERENCES users(id),
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,     -- the absolute end; the idle end is last_seen_at + idle
  address      TEXT    NOT NULL,
  user_agent   TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id, created_at);
CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  prefix       TEXT    NOT NULL,         -- "gvb_" and 8 characters, to recognise a token
  token_sha256 TEXT    NOT NULL UNIQUE,  -- hex SHA-256 of the token; never the token
  user_id      INTEGER NOT NULL REFERENCES users(id),
  role         TEXT    NOT NULL CHECK (role IN ('operator', 'institution-admin', 'auditor')),
  name         TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id, id);
)sql";
// Migration 2: API tokens may expire (NULL: never).
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
)sql";
constexpr std::array<std::string_view, 2> kMigrations = {kSchemaV1, kSchemaV2};

}  // namespace

namespace internal {

User ReadUser(const store::Statement& st, int first) {
  User u;
  u.id = st.ColumnInt64(first);
  u.email = st.ColumnText(first + 1);
  u.display_name = st.ColumnText(first + 2);
  u.role = admin::ParseRole(st.ColumnText(first + 3)).value_or(admin::Role::kAuditor);
  u.institution = st.ColumnText(first + 4);
  u.must_change_password = st.ColumnInt64(first + 5) != 0;
  u.enabled = st.ColumnInt64(first + 6) != 0;
  u.created_at_ms = st.ColumnInt64(first + 7);
  u.updated_at_ms = st.ColumnInt64(first + 8);
  u.password_changed_at_ms = st.ColumnInt64(first + 9);
  u.last_login_at_ms = st.ColumnInt64(first + 10);
  return u;
}

std::string TokenHash(std::string_view token) { return HexEncode(crypto::Sha256(token)); }

Status RequireOperator(const admin::Actor& actor, std::string_view what) {
  if (actor.role == admin::Role::kOperator) return Status::Ok();
  return PermissionDenied("the role " + std::string(admin::RoleName(actor.role)) + " may not " +
                          std::string(what));
}

bool IsSelf(const admin::Actor& actor, const User& user) {
  return actor.via != "cli" && !user.email.empty() && actor.account == user.email;
}

}  // namespace internal

using internal::IsSelf;
using internal::RequireOperator;
using internal::UserObject;

Status MigrateAccountsStore(store::Database& db) {
  GOVESB_RETURN_IF_ERROR(admin::MigrateAll(db));
  return store::Migrate(db, "accounts", kMigrations);
}

Accounts::Accounts(store::Database& db, AccountsOptions options)
    : db_(db),
      clock_(options.clock != nullptr ? options.clock : &DefaultClock()),
      hash_password_(options.hash_password ? std::move(options.hash_password)
                                           : registry::SecretHasher(crypto::HashSecret)),
      own_guard_(options.guard == nullptr ? std::make_unique<LoginGuard>(*clock_) : nullptr),
      guard_(options.guard != nullptr ? options.guard : own_guard_.get()),
      options_(std::move(options)) {}

Accounts::~Accounts() = default;

int64_t Accounts::Now() const { return clock_->NowMillis(); }

std::string Accounts::HashPassword(std::string_view password) const {
  return hash_password_(password);
}

bool Accounts::VerifyPassword(std::string_view password, const std::string* encoded) {
  if (encoded != nullptr) return crypto::VerifySecret(password, *encoded);
  // No such user: the same work against a hash of a random password, then false.
  if (dummy_hash_.empty()) dummy_hash_ = HashPassword(crypto::RandomAlphanumeric(24));
  (void)crypto::VerifySecret(password, dummy_hash_);
  return false;
}

Result<std::optional<User>> Accounts::FindUser(std::string_view normalized_email,
                                               std::string* password_hash) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare(std::string(internal::kSelectUser) + " WHERE u.email = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, normalized_email));
  GOVESB_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<User>();
  if (password_hash != nullptr) *password_hash = st.ColumnText(internal::kUserColumns - 1);
  return std::optional<User>(internal::ReadUser(st));
}

Result<User> Accounts::RequireUser(std::string_view email) {
  GOVESB_ASSIGN_OR_RETURN(std::string normalized, NormalizeEmail(email));
  GOVESB_ASSIGN_OR_RETURN(std::optional<User> user, FindUser(normalized, nullptr));
  if (!user.has_value()) return NotFound("no user with the e-mail " + normalized);
  return *std::move(user);
}

Result<User> Accounts::Self(const admin::Actor& actor, std::string* password_hash) {
  Result<std::string> email = NormalizeEmail(actor.account);
  if (!email.ok() || actor.via == "cli") {
    return PermissionDenied(
        "only a user account (signed in to the portal or with an API token) "
        "has a password and API tokens");
  }
  GOVESB_ASSIGN_OR_RETURN(std::optional<User> user, FindUser(*email, password_hash));
  if (!user.has_value()) return NotFound("no user with the e-mail " + *email);
  return *std::move(user);
}

Result<int64_t> Accounts::InstitutionId(std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare("SELECT id FROM institutions WHERE code = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, code));
  GOVESB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return NotFound("no institution with the code '" + LogSafe(code, 64) + "'");
  return st.ColumnInt64(0);
}

Status Accounts::Record(const admin::Actor& actor, std::string_view action, const User& user,
                        json::value before, json::value after) {
  const std::string object = UserObject(user.email);
  admin::Change change{.action = action,
                       .object = object,
                       .object_institution = user.institution,
                       .before = std::move(before),
                       .after = std::move(after)};
  return admin::RecordAction(db_, actor, Now(), change).status();
}

// ---- users ----

Result<NewUser> Accounts::CreateUser(const admin::Actor& actor, const NewUserRequest& request) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "add users"));
  GOVESB_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(request.email));
  std::string_view name_text = request.display_name;
  if (name_text.empty()) name_text = std::string_view(email).substr(0, email.find('@'));
  GOVESB_ASSIGN_OR_RETURN(std::string name, ValidateDisplayName(name_text));
  GOVESB_RETURN_IF_ERROR(ValidateRoleInstitution(request.role, request.institution));
  NewUser created;
  std::string password(request.password);
  if (password.empty()) {
    created.one_time_password = NewOneTimePassword();
    password = created.one_time_password;
  } else {
    GOVESB_RETURN_IF_ERROR(ValidatePassword(password, email));
  }
  // Hashed before the write lock is taken: scrypt takes tens of milliseconds.
  const std::string hash = HashPassword(password);

  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  std::optional<int64_t> institution_id;
  if (!request.institution.empty()) {
    GOVESB_ASSIGN_OR_RETURN(institution_id, InstitutionId(request.institution));
  }
  GOVESB_ASSIGN_OR_RETURN(std::optional<User> existing, FindUser(email, nullptr));
  if (existing.has_value()) return AlreadyExists("a user with the e-mail " + email + " exists");
  const int64_t now = Now();
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare("INSERT INTO users(email, display_name, role, institution_id, password_hash, "
                  "must_change_password, enabled, created_at, updated_at, password_changed_at) "
                  "VALUES(?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, email));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, name));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, admin::RoleName(request.role)));
  GOVESB_RETURN_IF_ERROR(institution_id ? insert.Bind(4, *institution_id) : insert.BindNull(4));
  GOVESB_RETURN_IF_ERROR(insert.Bind(5, hash));
  GOVESB_RETURN_IF_ERROR(insert.Bind(6, int64_t{created.one_time_password.empty() ? 0 : 1}));
  GOVESB_RETURN_IF_ERROR(insert.Bind(7, now));
  GOVESB_RETURN_IF_ERROR(insert.Bind(8, now));
  GOVESB_RETURN_IF_ERROR(insert.Bind(9, now));
  GOVESB_RETURN_IF_ERROR(insert.Run());
  GOVESB_ASSIGN_OR_RETURN(std::optional<User> user, FindUser(email, nullptr));
  GOVESB_CHECK(user.has_value());
  created.user = *std::move(user);
  GOVESB_RETURN_IF_ERROR(Record(actor, "user.add", created.user, nullptr, ToJson(created.user)));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  spdlog::debug("accounts: user {} ({}) added by {}", Untrusted(email),
                admin::RoleName(request.role), Untrusted(actor.account));
  return created;
}

Result<std::vector<User>> Accounts::ListUsers(const admin::Actor& actor) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare(std::string(internal::kSelectUser) + " ORDER BY u.email"));
  std::vector<User> users;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    User user = internal::ReadUser(st);
    if (actor.role == admin::Role::kInstitutionAdmin &&
        (actor.institution.empty() || user.institution != actor.institution) &&
        !IsSelf(actor, user)) {
      continue;
    }
    users.push_back(std::move(user));
  }
  return users;
}

Result<User> Accounts::GetUser(const admin::Actor& actor, std::string_view email) {
  GOVESB_ASSIGN_OR_RETURN(User user, RequireUser(email));
  if (actor.role == admin::Role::kInstitutionAdmin && !IsSelf(actor, user) &&
      (actor.institution.empty() || user.institution != actor.institution)) {
    return PermissionDenied("the user " + user.email + " belongs to another institution");
  }
  return user;
}

Result<User> Accounts::UpdateUser(const admin::Actor& actor, std::string_view email,
                                  const UserUpdate& update) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "change users"));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(User before, RequireUser(email));
  const admin::Role role = update.role.value_or(before.role);
  std::string institution;
  if (update.institution.has_value()) {
    institution = *update.institution;
  } else if (role == admin::Role::kInstitutionAdmin) {
    institution = before.institution;
  }
  GOVESB_RETURN_IF_ERROR(ValidateRoleInstitution(role, institution));
  std::string name = before.display_name;
  if (update.display_name.has_value()) {
    std::string_view text = *update.display_name;
    if (text.empty()) text = std::string_view(before.email).substr(0, before.email.find('@'));
    GOVESB_ASSIGN_OR_RETURN(name, ValidateDisplayName(text));
  }
  std::optional<int64_t> institution_id;
  if (!institution.empty()) {
    GOVESB_ASSIGN_OR_RETURN(institution_id, InstitutionId(institution));
  }
  const bool role_changed = role != before.role;
  const bool institution_changed = institution != before.institution;
  if (!role_changed && !institution_changed && name == before.display_name) {
    return before;  // nothing changes, nothing is recorded
  }
  if (role_changed && before.role == admin::Role::kOperator && before.enabled) {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement count,
        db_.Prepare("SELECT COUNT(*) FROM users WHERE role = 'operator' AND enabled = 1"));
    GOVESB_ASSIGN_OR_RETURN(bool row, count.Step());
    if (row && count.ColumnInt64(0) <= 1) {
      return FailedPrecondition(
          "the last enabled operator cannot be given another role: add another operator first");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement st,
      db_.Prepare("UPDATE users SET display_name = ?, role = ?, institution_id = ?, "
                  "updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, name));
  GOVESB_RETURN_IF_ERROR(st.Bind(2, admin::RoleName(role)));
  GOVESB_RETURN_IF_ERROR(institution_id ? st.Bind(3, *institution_id) : st.BindNull(3));
  GOVESB_RETURN_IF_ERROR(st.Bind(4, Now()));
  GOVESB_RETURN_IF_ERROR(st.Bind(5, before.id));
  GOVESB_RETURN_IF_ERROR(st.Run());
  if (role_changed || institution_changed) {
    // Its sessions carry the old role: it signs in again. Tokens above the new role would be
    // refused anyway (AuthenticateBearer); revoking them says so in the evidence and keeps a
    // later change back from reviving them.
    GOVESB_RETURN_IF_ERROR(EndSessionsOf(before.id).status());
    GOVESB_RETURN_IF_ERROR(RevokeTokensBeyond(actor, before, role, institution).status());
  }
  GOVESB_ASSIGN_OR_RETURN(User after, RequireUser(before.email));
  GOVESB_RETURN_IF_ERROR(Record(actor, "user.update", after, ToJson(before), ToJson(after)));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  spdlog::debug("accounts: user {} changed by {}", Untrusted(after.email),
                Untrusted(actor.account));
  return after;
}

Result<User> Accounts::SetEnabled(const admin::Actor& actor, std::string_view email, bool enabled) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, enabled ? "enable users" : "disable users"));
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(User before, RequireUser(email));
  if (!enabled && before.enabled && before.role == admin::Role::kOperator) {
    GOVESB_ASSIGN_OR_RETURN(
        store::Statement count,
        db_.Prepare("SELECT COUNT(*) FROM users WHERE role = 'operator' AND enabled = 1"));
    GOVESB_ASSIGN_OR_RETURN(bool row, count.Step());
    if (row && count.ColumnInt64(0) <= 1) {
      return FailedPrecondition("the last enabled operator cannot be disabled: add another first");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare("UPDATE users SET enabled = ?, updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, int64_t{enabled ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(st.Bind(2, Now()));
  GOVESB_RETURN_IF_ERROR(st.Bind(3, before.id));
  GOVESB_RETURN_IF_ERROR(st.Run());
  if (!enabled) GOVESB_RETURN_IF_ERROR(EndSessionsOf(before.id).status());
  GOVESB_ASSIGN_OR_RETURN(User after, RequireUser(before.email));
  GOVESB_RETURN_IF_ERROR(Record(actor, enabled ? "user.enable" : "user.disable", after,
                                ToJson(before), ToJson(after)));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return after;
}

Result<User> Accounts::DisableUser(const admin::Actor& actor, std::string_view email) {
  return SetEnabled(actor, email, false);
}

Result<User> Accounts::EnableUser(const admin::Actor& actor, std::string_view email) {
  return SetEnabled(actor, email, true);
}

Status Accounts::SetPassword(const admin::Actor& actor, std::string_view action, const User& before,
                             const std::string& hash, bool must_change) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  const int64_t now = Now();
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement st,
      db_.Prepare("UPDATE users SET password_hash = ?, must_change_password = ?, "
                  "password_changed_at = ?, updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, hash));
  GOVESB_RETURN_IF_ERROR(st.Bind(2, int64_t{must_change ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(st.Bind(3, now));
  GOVESB_RETURN_IF_ERROR(st.Bind(4, now));
  GOVESB_RETURN_IF_ERROR(st.Bind(5, before.id));
  GOVESB_RETURN_IF_ERROR(st.Run());
  GOVESB_RETURN_IF_ERROR(EndSessionsOf(before.id).status());
  GOVESB_ASSIGN_OR_RETURN(User after, RequireUser(before.email));
  GOVESB_RETURN_IF_ERROR(Record(actor, action, after, ToJson(before), ToJson(after)));
  return txn.Commit();
}

Status Accounts::ChangePassword(const admin::Actor& actor, std::string_view old_password,
                                std::string_view new_password) {
  std::string hash;
  GOVESB_ASSIGN_OR_RETURN(User user, Self(actor, &hash));
  GOVESB_RETURN_IF_ERROR(ValidatePassword(new_password, user.email));
  if (crypto::ConstantTimeEquals(old_password, new_password)) {
    return InvalidArgument("the new password must differ from the current one");
  }
  // A stolen session must not become a way to guess the password: the same lock-out as sign-in.
  const limits::Decision decision = guard_->Check(user.email, actor.address);
  if (!decision.allowed) {
    return ResourceExhausted("too many wrong passwords; try again in " +
                             std::to_string(limits::RetryAfterSeconds(decision.retry_after)) +
                             " seconds");
  }
  if (old_password.size() > kMaxPasswordLength || !VerifyPassword(old_password, &hash)) {
    guard_->RecordFailure(user.email, actor.address);
    return Unauthenticated("the current password is wrong");
  }
  GOVESB_RETURN_IF_ERROR(
      SetPassword(actor, "user.change-password", user, HashPassword(new_password), false));
  spdlog::debug("accounts: {} changed its password", Untrusted(user.email));
  return Status::Ok();
}

Result<std::string> Accounts::ResetPassword(const admin::Actor& actor, std::string_view email) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "reset other users' passwords"));
  GOVESB_ASSIGN_OR_RETURN(User user, RequireUser(email));
  std::string password = NewOneTimePassword();
  GOVESB_RETURN_IF_ERROR(
      SetPassword(actor, "user.reset-password", user, HashPassword(password), true));
  spdlog::debug("accounts: the password of {} was reset by {}", Untrusted(user.email),
                Untrusted(actor.account));
  return password;
}

}  // namespace govesb::accounts
