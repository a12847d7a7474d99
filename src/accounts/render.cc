#include "accounts/render.h"

#include <boost/json/value.hpp>
#include <string>

#include "admin/render.h"

namespace govesb::accounts {
namespace {

namespace json = boost::json;

json::value TimeOrNull(int64_t millis) {
  return millis == 0 ? json::value(nullptr) : json::value(admin::IsoTime(millis));
}

json::value TextOrNull(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

}  // namespace

json::object ToJson(const User& user) {
  json::object out;
  out["email"] = user.email;
  out["name"] = user.display_name;
  out["role"] = admin::RoleName(user.role);
  out["institution"] = TextOrNull(user.institution);
  out["enabled"] = user.enabled;
  out["must_change_password"] = user.must_change_password;
  out["created_at"] = admin::IsoTime(user.created_at_ms);
  out["updated_at"] = admin::IsoTime(user.updated_at_ms);
  out["password_changed_at"] = admin::IsoTime(user.password_changed_at_ms);
  out["last_login_at"] = TimeOrNull(user.last_login_at_ms);
  return out;
}

json::object ToJson(const ApiToken& token) {
  json::object out;
  out["id"] = token.id;
  out["prefix"] = token.prefix;
  out["user"] = token.user_email;
  out["role"] = admin::RoleName(token.role);
  out["institution"] = TextOrNull(token.institution);
  out["name"] = token.name;
  out["state"] = token.revoked_at_ms != 0 ? "revoked" : token.expired ? "expired" : "active";
  out["created_at"] = admin::IsoTime(token.created_at_ms);
  out["last_used_at"] = TimeOrNull(token.last_used_at_ms);
  out["revoked_at"] = TimeOrNull(token.revoked_at_ms);
  out["expires_at"] = TimeOrNull(token.expires_at_ms);
  return out;
}

json::array ToJsonArray(const std::vector<User>& users) {
  json::array out;
  for (const User& u : users) out.push_back(ToJson(u));
  return out;
}

json::array ToJsonArray(const std::vector<ApiToken>& tokens) {
  json::array out;
  for (const ApiToken& t : tokens) out.push_back(ToJson(t));
  return out;
}

}  // namespace govesb::accounts
