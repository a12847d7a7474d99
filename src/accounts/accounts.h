#pragma once

// Accounts of the admin API and the portal: users with a role, their sign-in sessions and their
// API tokens. The admin HTTP listener calls these with what it read from the request (cookie,
// Authorization header, client address) and gets an admin::Actor to hand to the admin service
// layer; the admin CLI creates the first operator with CreateUser.
//
// Secrets. Only hashes are stored: passwords as scrypt (crypto::HashSecret: N=2^15, r=8, p=1,
// 32 MiB and tens of milliseconds a hash, the parameters in the encoding so they can be raised
// later), session tokens and API tokens as SHA-256 (they are 256 and 238 random bits, so a fast
// hash is enough). The CSRF token of a session is derived from its session token
// (HMAC-SHA256(session token, "csrf")), so it needs no storage and can be given again on any
// authenticated request. Secrets are compared in constant time and never logged; an unknown
// e-mail costs the same scrypt verification as a wrong password.
//
// Roles. Only operators manage other users. Anyone may change their own password and create,
// list and revoke their own API tokens. A token's role is at most its user's: an operator's
// token may be operator or auditor, an institution-admin's is institution-admin of the same
// institution, an auditor's is auditor.
//
// Every change of an account (user added, disabled, enabled, password reset or changed, sessions
// ended by an operator, token created or revoked) is recorded with admin::RecordAction in the same
// transaction as the change, with no secret in its detail. Sign-ins are logged and counted
// (LoginGuard), not recorded as admin actions.
//
// Errors: kUnauthenticated for bad credentials, expired sessions and unknown or revoked tokens
// (one message for a wrong password and an unknown e-mail), kPermissionDenied, kInvalidArgument
// with a message a person understands, kResourceExhausted when sign-ins are throttled, kNotFound,
// kAlreadyExists, kFailedPrecondition (the last enabled operator cannot be disabled or demoted).
//
// Threading: an Accounts works on one store::Database connection, like admin::AdminService: one
// per thread. The LoginGuard it is given is thread-safe and shared by all of them. Password
// hashing is slow on purpose: never call Login, CreateUser, ChangePassword or ResetPassword on an
// I/O thread.

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/login_guard.h"
#include "admin/actor.h"
#include "base/clock.h"
#include "base/result.h"
#include "registry/registry.h"
#include "store/database.h"

namespace govesb::accounts {

// Creates or upgrades the accounts tables (component "accounts") and, first, those of the admin
// layer they refer to (admin::MigrateAll: the registry's institutions, admin_actions, and the
// delivery, evidence and traffic stores the admin layer reads), on SQLite or on PostgreSQL
// (cluster mode), each module with its backend's schema.
Status MigrateAccountsStore(store::Database& db);

struct User {
  int64_t id = 0;
  std::string email;  // lower case
  std::string display_name;
  admin::Role role = admin::Role::kAuditor;
  std::string institution;  // the institution's code (institution-admin only), else ""
  bool must_change_password = false;
  bool enabled = true;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t password_changed_at_ms = 0;
  int64_t last_login_at_ms = 0;  // 0: never
};

struct NewUserRequest {
  std::string_view email = {};
  std::string_view display_name = {};  // empty: the part of the e-mail before '@'
  admin::Role role = admin::Role::kAuditor;
  std::string_view institution = {};  // required for, and only for, institution-admin
  // Empty: a one-time password is generated (and must be changed at the first sign-in);
  // otherwise it must meet the password policy and the user need not change it.
  std::string_view password = {};
};

// A change of a user (UpdateUser). What is not given stays as it is; the result meets the rules
// of a new user (an institution for, and only for, an institution-admin).
struct UserUpdate {
  std::optional<admin::Role> role = std::nullopt;
  // An institution's code. Not given: kept while the role stays institution-admin, dropped when
  // the role becomes one without an institution. "" given: none.
  std::optional<std::string> institution = std::nullopt;
  // "" given: the part of the e-mail before '@' (as when the user was added).
  std::optional<std::string> display_name = std::nullopt;
};

struct NewUser {
  User user;
  std::string one_time_password;  // "" when the request gave a password; shown once
};

struct LoginRequest {
  std::string_view email = {};
  std::string_view password = {};
  std::string_view address = {};     // the client's address
  std::string_view user_agent = {};  // kept, cut to 256 bytes, to show the user its sessions
};

// A new session. `token` goes into the session cookie (HttpOnly, Secure, SameSite=Strict),
// `csrf_token` to the page, which sends it back on every state change.
struct NewSession {
  std::string token;       // 43 characters of base64url (32 random bytes)
  std::string csrf_token;  // 43 characters of base64url
  int64_t expires_at_ms = 0;
  bool must_change_password = false;  // the portal offers only a password change until done
};

// Who a session or an API token authenticates.
struct Principal {
  admin::Actor actor;  // account = the e-mail; via = "portal" (session) or "api" (token)
  int64_t user_id = 0;
  bool must_change_password = false;
  // Sessions only: the CSRF token to expect, and when the session ends if idle from now on.
  std::string csrf_token;
  int64_t expires_at_ms = 0;
  int64_t api_token_id = 0;  // tokens only
};

struct ApiToken {
  int64_t id = 0;
  std::string prefix;  // "gvb_" and the first 8 characters of the secret: to recognise it
  std::string user_email;
  admin::Role role = admin::Role::kAuditor;  // its scope
  std::string institution;                   // institution-admin scope only
  std::string name;
  int64_t created_at_ms = 0;
  int64_t last_used_at_ms = 0;  // 0: never
  int64_t revoked_at_ms = 0;    // 0: not revoked
  int64_t expires_at_ms = 0;    // 0: never
  bool expired = false;         // expires_at_ms had passed when the token was read
};

struct NewApiToken {
  ApiToken token;
  std::string secret;  // "gvb_" + 40 of [A-Za-z0-9]; shown once, sent as `Bearer <secret>`
};

struct AccountsOptions {
  const Clock* clock = nullptr;          // nullptr: the system clock
  registry::SecretHasher hash_password;  // empty: crypto::HashSecret (tests pass a fast one)
  // Shared by every Accounts of a process (the throttling is per process, in memory);
  // nullptr: one of its own.
  LoginGuard* guard = nullptr;
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(30);
  std::chrono::milliseconds absolute_timeout = std::chrono::hours(12);
  // last_seen of a session (and last_used of a token) is written at most this often, so a
  // session may end idle up to this much early.
  std::chrono::milliseconds touch_interval = std::chrono::minutes(1);
  size_t max_sessions_per_user = 20;  // the oldest ends when a new one would pass this
  size_t max_tokens_per_user = 50;    // active (not revoked) tokens
};

class Accounts {
 public:
  explicit Accounts(store::Database& db, AccountsOptions options = {});
  ~Accounts();
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  // ---- users (operators manage them; a user its own password) ----
  Result<NewUser> CreateUser(const admin::Actor& actor, const NewUserRequest& request);
  // Operators and auditors see every user; an institution-admin its institution's.
  Result<std::vector<User>> ListUsers(const admin::Actor& actor);
  Result<User> GetUser(const admin::Actor& actor, std::string_view email);
  // Disabling ends the user's sessions; its tokens stop working until it is enabled again.
  Result<User> DisableUser(const admin::Actor& actor, std::string_view email);
  Result<User> EnableUser(const admin::Actor& actor, std::string_view email);
  // Operator only: a new role, institution and/or display name. A change of role or institution
  // ends the user's sessions (it signs in again with the new role) and revokes its active API
  // tokens that the new role no longer covers (a scope above it, or an institution-admin scope
  // of the institution it left), each an "api-token.revoke" action. kNotFound for an unknown
  // institution, kInvalidArgument for a role without the institution it needs (or with one it
  // may not have), kFailedPrecondition when the last enabled operator would lose the role.
  // Records "user.update" with the user before and after; a request that changes nothing
  // records nothing and returns the user as it is.
  Result<User> UpdateUser(const admin::Actor& actor, std::string_view email,
                          const UserUpdate& update);
  // The actor's own password (actor.account). Policy: 12 to 1024 bytes, not the e-mail, not
  // the old password. Ends every session of the user (the portal signs in again). A wrong old
  // password counts as a failed sign-in of the account.
  Status ChangePassword(const admin::Actor& actor, std::string_view old_password,
                        std::string_view new_password);
  // Operator only: a new one-time password (returned, shown once), to be changed at the next
  // sign-in; ends the user's sessions.
  Result<std::string> ResetPassword(const admin::Actor& actor, std::string_view email);

  // ---- sessions ----
  // kUnauthenticated "wrong e-mail or password" for an unknown e-mail and a wrong password
  // alike; kPermissionDenied for a disabled account (told only with the right password);
  // kResourceExhausted while the account or the address is locked after repeated failures,
  // with the time to wait in *retry_after when given.
  Result<NewSession> Login(const LoginRequest& request,
                           std::chrono::milliseconds* retry_after = nullptr);
  // The session of a cookie value: ends it (kUnauthenticated) when idle or too old.
  Result<Principal> Authenticate(std::string_view session_token, std::string_view address);
  // Whether `csrf_token` is the one of this session (constant time).
  static bool CheckCsrf(std::string_view session_token, std::string_view csrf_token);
  static std::string CsrfTokenOf(std::string_view session_token);
  // Ends one session (unknown or ended ones: ok, nothing to do).
  Status Logout(std::string_view session_token);
  // Ends every session of a user: the actor's own, or (operators) anyone's. How many ended.
  Result<int64_t> LogoutAll(const admin::Actor& actor, std::string_view email);
  // Deletes ended sessions (housekeeping; Authenticate ends them one by one anyway).
  Result<int64_t> PurgeExpiredSessions();

  // ---- API tokens (a user's own; operators may list and revoke anyone's) ----
  // `expires_in_days`: 1 to 365 (kInvalidArgument otherwise); none: the token never expires.
  Result<NewApiToken> CreateApiToken(const admin::Actor& actor, std::string_view name,
                                     admin::Role scope,
                                     std::optional<int64_t> expires_in_days = std::nullopt);
  // The actor's own tokens, or (operators and auditors) those of `email` ("": every user's).
  // Never a secret.
  Result<std::vector<ApiToken>> ListApiTokens(const admin::Actor& actor,
                                              std::string_view email = {});
  Result<ApiToken> RevokeApiToken(const admin::Actor& actor, int64_t token_id);
  // The value after "Bearer ". kUnauthenticated when unknown, revoked, expired (from its
  // expires_at on, to the millisecond), or its user disabled.
  Result<Principal> AuthenticateBearer(std::string_view token, std::string_view address);

  LoginGuard& guard() { return *guard_; }

 private:
  int64_t Now() const;
  std::string HashPassword(std::string_view password) const;
  // Verifies against a hash made with this hasher when there is no user (same cost).
  bool VerifyPassword(std::string_view password, const std::string* encoded);
  // The user, and its password hash into *password_hash when given.
  Result<std::optional<User>> FindUser(std::string_view normalized_email,
                                       std::string* password_hash);
  Result<User> RequireUser(std::string_view email);
  // The user the actor is (its account), for its own password and tokens.
  Result<User> Self(const admin::Actor& actor, std::string* password_hash = nullptr);
  // Records a change of `user` as an admin action, in the open transaction.
  Status Record(const admin::Actor& actor, std::string_view action, const User& user,
                boost::json::value before, boost::json::value after);
  Result<User> SetEnabled(const admin::Actor& actor, std::string_view email, bool enabled);
  // Stores a new password hash, ends the user's sessions, records `action`.
  Status SetPassword(const admin::Actor& actor, std::string_view action, const User& before,
                     const std::string& hash, bool must_change);
  Result<int64_t> EndSessionsOf(int64_t user_id);
  Result<ApiToken> GetApiToken(int64_t token_id);
  // The id of the institution with `code`, kNotFound when there is none.
  Result<int64_t> InstitutionId(std::string_view code);
  // Revokes the active tokens of `before` (the user as it was) that `role` in `institution` no
  // longer covers, recording each; in the open transaction. How many.
  Result<int64_t> RevokeTokensBeyond(const admin::Actor& actor, const User& before,
                                     admin::Role role, std::string_view institution);

  store::Database& db_;
  const Clock* clock_;
  registry::SecretHasher hash_password_;
  std::unique_ptr<LoginGuard> own_guard_;
  LoginGuard* guard_;
  AccountsOptions options_;
  std::string dummy_hash_;  // made on first need with hash_password_
};

}  // namespace govesb::accounts
