#pragma once

// The Authenticator of the admin listener, over the accounts: a portal session in the
// `govesb_session` cookie (HttpOnly, Secure, SameSite=Strict; state changes also need its CSRF
// token in the X-CSRF-Token header), or an API token in `Authorization: Bearer gvb_…`.

#include <string>
#include <string_view>

#include "accounts/accounts.h"
#include "adminapi/auth.h"

namespace govesb::adminapi {

inline constexpr std::string_view kSessionCookie = "govesb_session";

// The value of cookie `name` in a Cookie header ("" when absent).
std::string CookieValue(std::string_view cookie_header, std::string_view name);

class SessionAuthenticator : public Authenticator {
 public:
  explicit SessionAuthenticator(accounts::Accounts& accounts) : accounts_(accounts) {}
  Result<std::optional<Caller>> Authenticate(const http::HttpRequest& request) override;
  Status CheckCsrf(const http::HttpRequest& request, const Caller& caller) override;

 private:
  accounts::Accounts& accounts_;
};

}  // namespace govesb::adminapi
