#include "adminapi/session_auth.h"

namespace govesb::adminapi {

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
  }
  return "";
}

Result<std::optional<Caller>> SessionAuthenticator::Authenticate(const http::HttpRequest& request) {
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view authorization = request.authorization;
  Result<accounts::Principal> principal = Unauthenticated("");
  bool by_session = false;
  if (authorization.size() > kBearer.size() && authorization.substr(0, kBearer.size()) == kBearer) {
    principal =
        accounts_.AuthenticateBearer(authorization.substr(kBearer.size()), request.remote_address);
  } else if (std::string session = CookieValue(request.Header("cookie"), kSessionCookie);
             !session.empty()) {
    principal = accounts_.Authenticate(session, request.remote_address);
    by_session = true;
  } else {
    return std::optional<Caller>();
  }
  if (!principal.ok()) return principal.status();
  Caller caller;
  caller.actor = std::move(principal->actor);
  caller.actor.address = request.remote_address;
  caller.by_session = by_session;
  caller.user_id = principal->user_id;
  caller.must_change_password = principal->must_change_password;
  return std::optional<Caller>(std::move(caller));
}

Status SessionAuthenticator::CheckCsrf(const http::HttpRequest& request, const Caller&) {
  std::string session = CookieValue(request.Header("cookie"), kSessionCookie);
  std::string_view token = request.Header("x-csrf-token");
  if (session.empty() || token.empty() || !accounts::Accounts::CheckCsrf(session, token)) {
    return PermissionDenied(
        "this change did not come from a current portal page (missing or stale CSRF token): "
        "reload the page and try again");
  }
  return Status::Ok();
}

}  // namespace govesb::adminapi
