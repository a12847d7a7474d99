#pragma once

// The rules for what a person types into an account: e-mail addresses, display names, passwords
// and token names, each refused with a message that says what is wrong. Functions, no state.

#include <cstdint>
#include <string>
#include <string_view>

#include "admin/actor.h"
#include "base/result.h"

namespace govesb::accounts {

inline constexpr size_t kMinPasswordLength = 12;
inline constexpr size_t kMaxPasswordLength = 1024;  // bytes: bounds the work of one hash
inline constexpr size_t kMaxEmailLength = 254;
inline constexpr size_t kMaxDisplayNameLength = 100;
inline constexpr size_t kMaxTokenNameLength = 64;
inline constexpr int64_t kMaxTokenExpiryDays = 365;

// The address in lower case, when it is one: local@domain, the local part 1-64 of letters,
// digits and !#$%&'*+/=?^_`{|}~.- (no leading, trailing or double dot), the domain two or more
// labels of letters, digits and hyphens (1-63 each, no hyphen at either end), 254 at most.
Result<std::string> NormalizeEmail(std::string_view email);

// 0-100 bytes of UTF-8 text without control characters (trimmed of spaces).
Result<std::string> ValidateDisplayName(std::string_view name);

// 12-1024 bytes, no control characters, not the e-mail address (in any case).
Status ValidatePassword(std::string_view password, std::string_view email);

// 1-64 bytes of UTF-8 text without control characters.
Status ValidateTokenName(std::string_view name);

// 1-365 days: how long an API token may be made to last (none given: it never expires).
Status ValidateTokenExpiryDays(int64_t days);

// An institution for, and only for, an institution-admin (`institution` is its code or "").
Status ValidateRoleInstitution(admin::Role role, std::string_view institution);

// A one-time password a person can type: four groups of five characters from an alphabet
// without look-alikes (2-9 and a-z without l and o), "k7pmx-…", 23 characters, 100 random bits.
std::string NewOneTimePassword();

// Whether a token scoped to `scope` may belong to a user with `role`: the same role, or an
// auditor token of an operator.
bool ScopeWithin(admin::Role scope, admin::Role role);

}  // namespace govesb::accounts
