#pragma once

// Internal to the adminapi module: what a route's handler gets (Context) and gives (Reply), and
// the parsers of body members, query and path parameters that every handler shares, with
// errors a person understands. The route table itself is in api.cc (AllRoutes); the handlers
// of the onboarding workflows are in onboarding_routes.cc.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "accounts/accounts.h"
#include "admin/render.h"
#include "admin/service.h"
#include "adminapi/auth.h"
#include "base/result.h"
#include "http/types.h"
#include "limits/keyed_rate_limiter.h"
#include "store/database.h"

namespace govesb::adminapi::internal {

// One request as a handler sees it. Built by AdminApi::Handle under its mutex.
struct Context {
  admin::AdminService& service;
  accounts::Accounts* accounts;  // null: no accounts here (the account routes refuse)
  const Caller& caller;
  const http::HttpRequest& request;
  std::map<std::string, std::string, std::less<>> path;   // {name} segments
  std::map<std::string, std::string, std::less<>> query;  // ?name=value
  boost::json::object body;
  int64_t now_ms = 0;
  int64_t retry_after_s = 0;  // set with a kResourceExhausted refusal
  // The one connection under `service` and `accounts` (null: not known, so a change through
  // both is not one transaction).
  store::Database* db = nullptr;
  // Membership applications per client address (the one anonymous change).
  limits::KeyedRateLimiter* application_limiter = nullptr;

  const admin::Actor& actor() const { return caller.actor; }
  const std::string& Path(std::string_view name) const { return path.find(name)->second; }
  bool HasQuery(std::string_view name) const { return query.find(name) != query.end(); }
  std::string Query(std::string_view name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
};

struct Reply {
  int status = 200;
  boost::json::value body;
  std::vector<std::pair<std::string, std::string>> headers = {};
};
using RouteHandler = std::function<Result<Reply>(Context&)>;

inline Reply Ok(boost::json::value body) { return Reply{200, std::move(body)}; }
inline Reply Created(boost::json::value body) { return Reply{201, std::move(body)}; }

Result<accounts::Accounts*> AccountsOf(Context& c);

// Body members. Absent and null are the same: "not given".
Result<std::string> Str(const boost::json::object& o, std::string_view name);
Result<std::optional<std::string>> OptStr(const boost::json::object& o, std::string_view name);
Result<bool> Bool(const boost::json::object& o, std::string_view name);
Result<std::optional<bool>> OptBool(const boost::json::object& o, std::string_view name);
Result<std::optional<int64_t>> OptInt(const boost::json::object& o, std::string_view name);
// A JSON text carried in a member: a string is taken as the text itself, any other JSON value
// (an object, an array, a number ...) as its serialization.
Result<std::optional<std::string>> OptJsonText(const boost::json::object& o, std::string_view name);

Result<int64_t> QueryInt(const Context& c, std::string_view name, int64_t fallback);
// A positive id in the path; anything else is kNotFound (no such object).
Result<int64_t> PathInt(const Context& c, std::string_view name);

template <typename T>
boost::json::array Rows(const std::vector<T>& items) {
  boost::json::array out;
  for (const T& item : items) out.push_back(admin::ToJson(item));
  return out;
}

}  // namespace govesb::adminapi::internal
