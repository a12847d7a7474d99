#pragma once

// The JSON forms of users and API tokens: what the admin CLI prints with --json, what the admin
// API answers, and the before/after of their admin actions. Never a password hash, a token or
// its hash; times as UTC ISO 8601 text (null when not yet).

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <vector>

#include "accounts/accounts.h"

namespace govesb::accounts {

boost::json::object ToJson(const User& user);
boost::json::object ToJson(const ApiToken& token);
boost::json::array ToJsonArray(const std::vector<User>& users);
boost::json::array ToJsonArray(const std::vector<ApiToken>& tokens);

}  // namespace govesb::accounts
