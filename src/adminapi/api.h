#pragma once

// The admin REST API (`/api/v1/...` on the admin listener): a thin client of the admin service
// layer. Each route parses its input, asks the service in the caller's name, and renders the
// result as JSON. Errors are JSON too:
//   {"error":{"code":"permission_denied","message":"the role auditor may not ..."}}
// with the HTTP status of the code: invalid_argument 400, unauthenticated 401,
// permission_denied 403, not_found 404, already_exists and failed_precondition 409,
// resource_exhausted 429, anything else 500 (its message is logged, not shown).
//
// Handle blocks (SQLite, secret hashing): call it on a worker thread, never an I/O thread.
// Thread-safe: calls are serialised (one database connection under the service and the
// accounts).

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/accounts.h"
#include "admin/service.h"
#include "adminapi/auth.h"
#include "base/clock.h"
#include "http/types.h"
#include "limits/keyed_rate_limiter.h"
#include "store/database.h"

namespace govesb::adminapi {

struct RouteInfo {
  std::string method;      // GET, POST, PUT, PATCH, DELETE
  std::string pattern;     // "/api/v1/systems/{client_id}"
  bool anonymous = false;  // served without credentials
};

class AdminApi {
 public:
  // `accounts` (on the same database connection as `service`) serves the session, user and
  // token routes (null: they answer failed_precondition). `clock`: "now" for default time
  // ranges and the rate of membership applications (nullptr: the system clock). `db`: that one
  // connection, so that accepting a membership application and creating the institution's
  // first admin account are one transaction (nullptr: they are two, and an account that
  // cannot be created is reported in the answer while the acceptance stands).
  AdminApi(admin::AdminService& service, accounts::Accounts* accounts, Authenticator& auth,
           const Clock* clock = nullptr, store::Database* db = nullptr);

  http::HttpResponse Handle(const http::HttpRequest& request);

  // Deletes ended sessions (the server calls it every few minutes). Blocks like Handle.
  void Housekeeping();

  // Every route served, for the OpenAPI document's test.
  static std::vector<RouteInfo> Routes();
  // The OpenAPI 3.1 document of this API (served at /api/v1/openapi.json).
  static std::string_view OpenApiDocument();

 private:
  std::mutex mu_;
  admin::AdminService& service_;
  accounts::Accounts* accounts_;
  Authenticator& auth_;
  const Clock& clock_;
  store::Database* db_;
  // Membership applications (anonymous) per client address: a few a minute
  // (onboarding_routes.h kApplicationRate), refused with 429 and Retry-After beyond.
  limits::KeyedRateLimiter application_limiter_;
};

// The HTTP status and JSON body of an error.
http::HttpResponse ErrorResponse(const Status& status);

}  // namespace govesb::adminapi
