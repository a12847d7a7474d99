#pragma once

// Who is calling the admin API: the seam between the API's routes and the accounts behind them.
// An Authenticator turns a request's credentials (a session cookie, or an API token in
// `Authorization: Bearer`) into the admin::Actor the service layer acts for, and checks the
// CSRF token of a session's state-changing requests.

#include <optional>
#include <string>

#include "admin/actor.h"
#include "base/result.h"
#include "http/types.h"

namespace govesb::adminapi {

struct Caller {
  admin::Actor actor;
  // Authenticated by a session cookie (a browser): state changes need the CSRF token.
  bool by_session = false;
  int64_t user_id = 0;
  // Signed in with a one-time password: only the password change (and /me, sign-out) until
  // it is changed.
  bool must_change_password = false;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // nullopt: the request carries no credentials at all (anonymous). An error: it carries
  // credentials that are not valid (kUnauthenticated: expired, revoked, unknown).
  virtual Result<std::optional<Caller>> Authenticate(const http::HttpRequest& request) = 0;
  // For a session's state-changing request: the X-CSRF-Token header matches the session's.
  virtual Status CheckCsrf(const http::HttpRequest& request, const Caller& caller) = 0;
};

}  // namespace govesb::adminapi
