// Accounts: API tokens for scripts ("Authorization: Bearer gvb_…").
#include <spdlog/spdlog.h>

#include <algorithm>

#include "accounts/accounts.h"
#include "accounts/internal.h"
#include "accounts/render.h"
#include "accounts/validation.h"
#include "admin/journal.h"
#include "admin/render.h"
#include "base/log_safe_fmt.h"
#include "crypto/primitives.h"

namespace govesb::accounts {
namespace {

constexpr std::string_view kTokenPrefix = "gvb_";
constexpr size_t kTokenRandomLength = 40;  // [A-Za-z0-9]: about 238 bits
constexpr size_t kShownPrefixLength = 12;  // "gvb_" and 8 characters
constexpr std::string_view kUnknownToken = "unknown API token";

// Token columns, then the user's (kSelectUser's, from column 9).
std::string SelectToken() {
  return "SELECT t.id, t.prefix, t.role, t.name, t.created_at, COALESCE(t.last_used_at, 0), "
         "COALESCE(t.revoked_at, 0), t.token_sha256, COALESCE(t.expires_at, 0), " +
         std::string(internal::kSelectUser).substr(7) + " JOIN api_tokens t ON t.user_id = u.id";
}
constexpr int kUserFirst = 9;

bool ExpiredAt(int64_t expires_at_ms, int64_t now_ms) {
  return expires_at_ms != 0 && now_ms >= expires_at_ms;
}

ApiToken ReadToken(const store::Statement& st, const User& user, int64_t now_ms) {
  ApiToken t;
  t.id = st.ColumnInt64(0);
  t.prefix = st.ColumnText(1);
  t.role = admin::ParseRole(st.ColumnText(2)).value_or(admin::Role::kAuditor);
  t.name = st.ColumnText(3);
  t.created_at_ms = st.ColumnInt64(4);
  t.last_used_at_ms = st.ColumnInt64(5);
  t.revoked_at_ms = st.ColumnInt64(6);
  t.expires_at_ms = st.ColumnInt64(8);
  t.expired = ExpiredAt(t.expires_at_ms, now_ms);
  t.user_email = user.email;
  if (t.role == admin::Role::kInstitutionAdmin) t.institution = user.institution;
  return t;
}

}  // namespace

Result<NewApiToken> Accounts::CreateApiToken(const admin::Actor& actor, std::string_view name,
                                             admin::Role scope,
                                             std::optional<int64_t> expires_in_days) {
  GOVESB_ASSIGN_OR_RETURN(User user, Self(actor));
  GOVESB_RETURN_IF_ERROR(ValidateTokenName(name));
  if (expires_in_days.has_value()) {
    GOVESB_RETURN_IF_ERROR(ValidateTokenExpiryDays(*expires_in_days));
  }
  // Not above the user's role, nor above the role the actor now acts with (a token cannot make
  // a stronger one).
  if (!ScopeWithin(scope, user.role) || !ScopeWithin(scope, actor.role)) {
    return PermissionDenied("a token's role may not be above its user's: the role " +
                            std::string(admin::RoleName(actor.role)) + " may not create " +
                            std::string(admin::RoleName(scope)) + " tokens");
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  const int64_t now = Now();
  // Active: neither revoked nor expired.
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement count,
      db_.Prepare("SELECT COUNT(*) FROM api_tokens WHERE user_id = ? AND "
                  "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"));
  GOVESB_RETURN_IF_ERROR(count.Bind(1, user.id));
  GOVESB_RETURN_IF_ERROR(count.Bind(2, now));
  GOVESB_ASSIGN_OR_RETURN(bool row, count.Step());
  if (row && count.ColumnInt64(0) >= static_cast<int64_t>(options_.max_tokens_per_user)) {
    return FailedPrecondition("a user may have at most " +
                              std::to_string(options_.max_tokens_per_user) +
                              " active API tokens: revoke one first");
  }
  NewApiToken created;
  created.secret = std::string(kTokenPrefix) + crypto::RandomAlphanumeric(kTokenRandomLength);
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare("INSERT INTO api_tokens(prefix, token_sha256, user_id, role, name, created_at, "
                  "expires_at) VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, created.secret.substr(0, kShownPrefixLength)));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, internal::TokenHash(created.secret)));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, user.id));
  GOVESB_RETURN_IF_ERROR(insert.Bind(4, admin::RoleName(scope)));
  GOVESB_RETURN_IF_ERROR(insert.Bind(5, name));
  GOVESB_RETURN_IF_ERROR(insert.Bind(6, now));
  constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;
  GOVESB_RETURN_IF_ERROR(expires_in_days ? insert.Bind(7, now + *expires_in_days * kDayMs)
                                         : insert.BindNull(7));
  GOVESB_ASSIGN_OR_RETURN(bool inserted, insert.Step());
  if (!inserted) return Internal("the new API token got no id");
  const int64_t id = insert.ColumnInt64(0);
  GOVESB_RETURN_IF_ERROR(insert.Reset());
  GOVESB_ASSIGN_OR_RETURN(created.token, GetApiToken(id));
  const std::string object = internal::TokenObject(created.token.id);
  admin::Change change{.action = "api-token.add",
                       .object = object,
                       .object_institution = user.institution,
                       .before = nullptr,
                       .after = ToJson(created.token)};
  GOVESB_RETURN_IF_ERROR(admin::RecordAction(db_, actor, now, change).status());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  spdlog::debug("accounts: {} created API token {} ({})", Untrusted(user.email),
                created.token.prefix, admin::RoleName(scope));
  return created;
}

Result<ApiToken> Accounts::GetApiToken(int64_t token_id) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement st, db_.Prepare(SelectToken() + " WHERE t.id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, token_id));
  GOVESB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return NotFound("no API token " + std::to_string(token_id));
  return ReadToken(st, internal::ReadUser(st, kUserFirst), Now());
}

Result<std::vector<ApiToken>> Accounts::ListApiTokens(const admin::Actor& actor,
                                                      std::string_view email) {
  User user;
  if (email.empty()) {
    GOVESB_ASSIGN_OR_RETURN(user, Self(actor));
  } else {
    GOVESB_ASSIGN_OR_RETURN(user, RequireUser(email));
    if (actor.role == admin::Role::kInstitutionAdmin && !internal::IsSelf(actor, user)) {
      return PermissionDenied("an institution-admin sees its own API tokens only");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare(SelectToken() + " WHERE u.id = ? ORDER BY t.id"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, user.id));
  std::vector<ApiToken> tokens;
  const int64_t now = Now();
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    tokens.push_back(ReadToken(st, user, now));
  }
  return tokens;
}

Result<int64_t> Accounts::RevokeTokensBeyond(const admin::Actor& actor, const User& before,
                                             admin::Role role, std::string_view institution) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement st,
      db_.Prepare(SelectToken() + " WHERE u.id = ? AND t.revoked_at IS NULL ORDER BY t.id"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, before.id));
  const int64_t now = Now();
  std::vector<ApiToken> beyond;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    // Read with the user as it was: an institution-admin token names the institution it was for.
    ApiToken t = ReadToken(st, before, now);
    const bool left_institution =
        t.role == admin::Role::kInstitutionAdmin && t.institution != institution;
    if (!ScopeWithin(t.role, role) || left_institution) beyond.push_back(std::move(t));
  }
  GOVESB_RETURN_IF_ERROR(st.Reset());
  for (const ApiToken& t : beyond) {
    GOVESB_ASSIGN_OR_RETURN(store::Statement revoke,
                            db_.Prepare("UPDATE api_tokens SET revoked_at = ? WHERE id = ?"));
    GOVESB_RETURN_IF_ERROR(revoke.Bind(1, now));
    GOVESB_RETURN_IF_ERROR(revoke.Bind(2, t.id));
    GOVESB_RETURN_IF_ERROR(revoke.Run());
    ApiToken after = t;
    after.revoked_at_ms = now;
    const std::string object = internal::TokenObject(t.id);
    admin::Change change{.action = "api-token.revoke",
                         .object = object,
                         .object_institution = before.institution,
                         .before = ToJson(t),
                         .after = ToJson(after)};
    GOVESB_RETURN_IF_ERROR(admin::RecordAction(db_, actor, now, change).status());
    spdlog::debug("accounts: API token {} of {} revoked: its user's role changed", t.prefix,
                  Untrusted(before.email));
  }
  return static_cast<int64_t>(beyond.size());
}

Result<ApiToken> Accounts::RevokeApiToken(const admin::Actor& actor, int64_t token_id) {
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(ApiToken before, GetApiToken(token_id));
  GOVESB_ASSIGN_OR_RETURN(User owner, RequireUser(before.user_email));
  if (!internal::IsSelf(actor, owner)) {
    GOVESB_RETURN_IF_ERROR(internal::RequireOperator(actor, "revoke other users' API tokens"));
  }
  if (before.revoked_at_ms != 0) return before;  // already: nothing changes, nothing recorded
  const int64_t now = Now();
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare("UPDATE api_tokens SET revoked_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, now));
  GOVESB_RETURN_IF_ERROR(st.Bind(2, token_id));
  GOVESB_RETURN_IF_ERROR(st.Run());
  GOVESB_ASSIGN_OR_RETURN(ApiToken after, GetApiToken(token_id));
  const std::string object = internal::TokenObject(token_id);
  admin::Change change{.action = "api-token.revoke",
                       .object = object,
                       .object_institution = owner.institution,
                       .before = ToJson(before),
                       .after = ToJson(after)};
  GOVESB_RETURN_IF_ERROR(admin::RecordAction(db_, actor, now, change).status());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  spdlog::debug("accounts: API token {} of {} revoked by {}", after.prefix, Untrusted(owner.email),
                Untrusted(actor.account));
  return after;
}

Result<Principal> Accounts::AuthenticateBearer(std::string_view token, std::string_view address) {
  if (token.size() != kTokenPrefix.size() + kTokenRandomLength ||
      !token.starts_with(kTokenPrefix)) {
    return Unauthenticated(std::string(kUnknownToken));
  }
  // Looked up by its hash: how long the lookup takes says nothing about the token.
  const std::string hash = internal::TokenHash(token);
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare(SelectToken() + " WHERE t.token_sha256 = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, hash));
  GOVESB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found || !crypto::ConstantTimeEquals(st.ColumnText(7), hash)) {
    return Unauthenticated(std::string(kUnknownToken));
  }
  const User user = internal::ReadUser(st, kUserFirst);
  const int64_t now = Now();
  const ApiToken t = ReadToken(st, user, now);
  GOVESB_RETURN_IF_ERROR(st.Reset());
  if (t.revoked_at_ms != 0) return Unauthenticated("this API token has been revoked");
  if (t.expired) {
    return Unauthenticated("this API token expired at " + admin::IsoTime(t.expires_at_ms) +
                           ": create a new one");
  }
  if (!user.enabled) return Unauthenticated("the account of this API token is disabled");
  if (!ScopeWithin(t.role, user.role)) {
    return Unauthenticated("this API token's role is above its user's now");
  }
  if (now - t.last_used_at_ms >= options_.touch_interval.count()) {
    GOVESB_ASSIGN_OR_RETURN(store::Statement touch,
                            db_.Prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"));
    GOVESB_RETURN_IF_ERROR(touch.Bind(1, now));
    GOVESB_RETURN_IF_ERROR(touch.Bind(2, t.id));
    GOVESB_RETURN_IF_ERROR(touch.Run());
  }
  Principal p;
  p.actor =
      admin::Actor{.account = user.email,
                   .role = t.role,
                   .institution = t.institution,
                   .address = std::string(address.substr(0, std::min<size_t>(address.size(), 64))),
                   .via = "api"};
  p.user_id = user.id;
  p.api_token_id = t.id;
  return p;
}

}  // namespace govesb::accounts
