// Accounts: signing in, sessions and their CSRF tokens.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "accounts/accounts.h"
#include "accounts/internal.h"
#include "accounts/validation.h"
#include "base/encoding.h"
#include "base/log_safe_fmt.h"
#include "crypto/primitives.h"

namespace govesb::accounts {
namespace {

constexpr size_t kSessionTokenBytes = 32;
constexpr size_t kSessionTokenLength = 43;  // base64url of 32 bytes, no padding
constexpr size_t kMaxUserAgentBytes = 256;
constexpr size_t kMaxAddressBytes = 64;

constexpr std::string_view kWrongCredentials = "wrong e-mail or password";
constexpr std::string_view kNoSession = "not signed in, or the session has ended: sign in again";

std::string_view Bounded(std::string_view text, size_t max_bytes) {
  return text.substr(0, std::min(text.size(), max_bytes));
}

}  // namespace

std::string Accounts::CsrfTokenOf(std::string_view session_token) {
  // One-way: the page may hold the CSRF token without learning the session cookie's value.
  return Base64UrlEncode(std::string_view(
      reinterpret_cast<const char*>(crypto::HmacSha256(session_token, "govesb csrf").data()), 32));
}

bool Accounts::CheckCsrf(std::string_view session_token, std::string_view csrf_token) {
  if (session_token.empty() || csrf_token.empty()) return false;
  return crypto::ConstantTimeEquals(CsrfTokenOf(session_token), csrf_token);
}

Result<NewSession> Accounts::Login(const LoginRequest& request,
                                   std::chrono::milliseconds* retry_after) {
  const std::string_view address = Bounded(request.address, kMaxAddressBytes);
  // An e-mail that is not one still counts against its (bounded) text and the address.
  Result<std::string> email = NormalizeEmail(request.email);
  const std::string key = email.ok() ? *email : std::string(Bounded(request.email, 254));
  const limits::Decision decision = guard_->Check(key, address);
  if (!decision.allowed) {
    if (retry_after != nullptr) *retry_after = decision.retry_after;
    spdlog::warn("accounts: sign-in for {} from {} refused: locked after repeated failures",
                 Untrusted(key, 100), Untrusted(address));
    return ResourceExhausted("too many failed sign-ins; try again in " +
                             std::to_string(limits::RetryAfterSeconds(decision.retry_after)) +
                             " seconds");
  }
  std::string hash;
  std::optional<User> user;
  if (email.ok() && request.password.size() <= kMaxPasswordLength) {
    GOVESB_ASSIGN_OR_RETURN(user, FindUser(*email, &hash));
  }
  // The same scrypt work whether the user exists or not.
  const bool verified = VerifyPassword(Bounded(request.password, kMaxPasswordLength),
                                       user.has_value() ? &hash : nullptr);
  if (!verified || request.password.size() > kMaxPasswordLength) {
    guard_->RecordFailure(key, address);
    spdlog::warn("accounts: failed sign-in for {} from {}", Untrusted(key, 100),
                 Untrusted(address));
    return Unauthenticated(std::string(kWrongCredentials));
  }
  if (!user->enabled) {
    guard_->CountRefused();
    spdlog::warn("accounts: sign-in of disabled account {} from {} refused", Untrusted(key, 100),
                 Untrusted(address));
    return PermissionDenied("this account is disabled; ask an operator to enable it");
  }

  NewSession session;
  session.token = Base64UrlEncode(crypto::RandomBytes(kSessionTokenBytes));
  session.csrf_token = CsrfTokenOf(session.token);
  session.must_change_password = user->must_change_password;
  const int64_t now = Now();
  session.expires_at_ms = now + options_.absolute_timeout.count();
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_.Prepare("INSERT INTO sessions(id, user_id, created_at, last_seen_at, expires_at, "
                  "address, user_agent) VALUES(?, ?, ?, ?, ?, ?, ?)"));
  GOVESB_RETURN_IF_ERROR(insert.Bind(1, internal::TokenHash(session.token)));
  GOVESB_RETURN_IF_ERROR(insert.Bind(2, user->id));
  GOVESB_RETURN_IF_ERROR(insert.Bind(3, now));
  GOVESB_RETURN_IF_ERROR(insert.Bind(4, now));
  GOVESB_RETURN_IF_ERROR(insert.Bind(5, session.expires_at_ms));
  GOVESB_RETURN_IF_ERROR(insert.Bind(6, address));
  GOVESB_RETURN_IF_ERROR(insert.Bind(7, Bounded(request.user_agent, kMaxUserAgentBytes)));
  GOVESB_RETURN_IF_ERROR(insert.Run());
  // The oldest sessions beyond the bound end.
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement trim,
      db_.Prepare("DELETE FROM sessions WHERE user_id = ?1 AND id NOT IN (SELECT id FROM "
                  "sessions WHERE user_id = ?1 ORDER BY created_at DESC, id LIMIT ?2)"));
  GOVESB_RETURN_IF_ERROR(trim.Bind(1, user->id));
  GOVESB_RETURN_IF_ERROR(
      trim.Bind(2, static_cast<int64_t>(std::max<size_t>(1, options_.max_sessions_per_user))));
  GOVESB_RETURN_IF_ERROR(trim.Run());
  GOVESB_ASSIGN_OR_RETURN(store::Statement touch,
                          db_.Prepare("UPDATE users SET last_login_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(touch.Bind(1, now));
  GOVESB_RETURN_IF_ERROR(touch.Bind(2, user->id));
  GOVESB_RETURN_IF_ERROR(touch.Run());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  guard_->RecordSuccess(key);
  spdlog::info("accounts: {} signed in from {}", Untrusted(key, 100), Untrusted(address));
  return session;
}

Result<Principal> Accounts::Authenticate(std::string_view session_token, std::string_view address) {
  if (session_token.size() != kSessionTokenLength) return Unauthenticated(std::string(kNoSession));
  // Looked up by its hash: how long the lookup takes says nothing about the token.
  const std::string id = internal::TokenHash(session_token);
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare("SELECT s.last_seen_at, s.expires_at, " +
                                      std::string(internal::kSelectUser).substr(7) +
                                      " JOIN sessions s ON s.user_id = u.id WHERE s.id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, id));
  GOVESB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return Unauthenticated(std::string(kNoSession));
  const int64_t last_seen = st.ColumnInt64(0);
  const int64_t expires_at = st.ColumnInt64(1);
  const User user = internal::ReadUser(st, 2);
  GOVESB_RETURN_IF_ERROR(st.Reset());
  const int64_t now = Now();
  const int64_t idle = options_.idle_timeout.count();
  if (now >= expires_at || now >= last_seen + idle || !user.enabled) {
    GOVESB_ASSIGN_OR_RETURN(store::Statement end, db_.Prepare("DELETE FROM sessions WHERE id = ?"));
    GOVESB_RETURN_IF_ERROR(end.Bind(1, id));
    GOVESB_RETURN_IF_ERROR(end.Run());
    return Unauthenticated(user.enabled ? "the session has expired: sign in again"
                                        : std::string(kNoSession));
  }
  int64_t seen = last_seen;
  if (now - last_seen >= options_.touch_interval.count()) {
    GOVESB_ASSIGN_OR_RETURN(store::Statement touch,
                            db_.Prepare("UPDATE sessions SET last_seen_at = ? WHERE id = ?"));
    GOVESB_RETURN_IF_ERROR(touch.Bind(1, now));
    GOVESB_RETURN_IF_ERROR(touch.Bind(2, id));
    GOVESB_RETURN_IF_ERROR(touch.Run());
    seen = now;
  }
  Principal p;
  p.actor = admin::Actor{.account = user.email,
                         .role = user.role,
                         .institution = user.institution,
                         .address = std::string(Bounded(address, kMaxAddressBytes)),
                         .via = "portal"};
  p.user_id = user.id;
  p.must_change_password = user.must_change_password;
  p.csrf_token = CsrfTokenOf(session_token);
  p.expires_at_ms = std::min(expires_at, seen + idle);
  return p;
}

Status Accounts::Logout(std::string_view session_token) {
  if (session_token.size() != kSessionTokenLength) return Status::Ok();
  GOVESB_ASSIGN_OR_RETURN(store::Statement st, db_.Prepare("DELETE FROM sessions WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, internal::TokenHash(session_token)));
  return st.Run();
}

Result<int64_t> Accounts::EndSessionsOf(int64_t user_id) {
  GOVESB_ASSIGN_OR_RETURN(store::Statement st,
                          db_.Prepare("DELETE FROM sessions WHERE user_id = ?"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, user_id));
  GOVESB_RETURN_IF_ERROR(st.Run());
  return db_.Changes();
}

Result<int64_t> Accounts::LogoutAll(const admin::Actor& actor, std::string_view email) {
  GOVESB_ASSIGN_OR_RETURN(User user, RequireUser(email));
  if (!internal::IsSelf(actor, user)) {
    GOVESB_RETURN_IF_ERROR(internal::RequireOperator(actor, "end other users' sessions"));
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(int64_t ended, EndSessionsOf(user.id));
  boost::json::object after;
  after["sessions_ended"] = ended;
  GOVESB_RETURN_IF_ERROR(Record(actor, "user.logout-all", user, nullptr, std::move(after)));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return ended;
}

Result<int64_t> Accounts::PurgeExpiredSessions() {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement st,
      db_.Prepare("DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at + ?2 <= ?1"));
  GOVESB_RETURN_IF_ERROR(st.Bind(1, Now()));
  GOVESB_RETURN_IF_ERROR(st.Bind(2, static_cast<int64_t>(options_.idle_timeout.count())));
  GOVESB_RETURN_IF_ERROR(st.Run());
  return db_.Changes();
}

}  // namespace govesb::accounts
