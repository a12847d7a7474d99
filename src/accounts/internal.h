#pragma once

// What the parts of Accounts (users.cc, sessions.cc, api_tokens.cc) share: the user row as read
// from SQL, object names of admin actions, and the role policy. Not for other modules.

#include <string>
#include <string_view>

#include "accounts/accounts.h"
#include "base/status.h"
#include "store/database.h"

namespace govesb::accounts::internal {

// Selects the user columns in the order ReadUser reads them, the password hash last (column 11);
// append a WHERE clause.
inline constexpr std::string_view kSelectUser =
    "SELECT u.id, u.email, u.display_name, u.role, COALESCE(i.code, ''), u.must_change_password,"
    " u.enabled, u.created_at, u.updated_at, u.password_changed_at, COALESCE(u.last_login_at, 0),"
    " u.password_hash FROM users u LEFT JOIN institutions i ON i.id = u.institution_id";
inline constexpr int kUserColumns = 12;

// Reads the user at `first` (kSelectUser's columns, possibly after others).
User ReadUser(const store::Statement& st, int first = 0);

inline std::string UserObject(std::string_view email) { return "user:" + std::string(email); }
inline std::string TokenObject(int64_t id) { return "api-token:" + std::to_string(id); }

// "SHA-256 of text" in hex: how session and API tokens are stored.
std::string TokenHash(std::string_view token);

Status RequireOperator(const admin::Actor& actor, std::string_view what);

// Whether actor is the user (its account is the user's e-mail).
bool IsSelf(const admin::Actor& actor, const User& user);

}  // namespace govesb::accounts::internal
