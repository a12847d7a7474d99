#include "adminapi/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <utility>

#include "accounts/render.h"
#include "admin/compliance_render.h"
#include "admin/render.h"
#include "adminapi/onboarding_routes.h"
#include "adminapi/route.h"
#include "adminapi/session_auth.h"
#include "base/log_safe.h"
#include "evidence/search.h"
#include "evidence/subject_report_document.h"
#include "evidence/subject_report_html.h"
#include "minimise/field_allow_list.h"
#include "traffic/query.h"

namespace govesb::adminapi {
namespace {

namespace json = boost::json;

using internal::AccountsOf;
using internal::Bool;
using internal::Context;
using internal::Created;
using internal::Ok;
using internal::OptInt;
using internal::OptStr;
using internal::PathInt;
using internal::QueryInt;
using internal::Reply;
using internal::RouteHandler;
using internal::Rows;
using internal::Str;

// An anonymous caller's body is bounded well below the listener's limit: it is parsed before
// anything else is known about the caller.
constexpr size_t kMaxAnonymousBodyBytes = 256 * 1024;

// ---- errors ----

std::string_view CodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    default:
      return "internal";
  }
}

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    default:
      return 500;
  }
}

http::HttpResponse JsonResponse(int status, const json::value& body) {
  http::HttpResponse r = http::HttpResponse::Json(status, json::serialize(body));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// The session cookie: HttpOnly (no script reads it), Secure, SameSite=Strict (no other site
// sends it), for the whole admin listener; Max-Age 0 clears it.
std::string SessionCookie(std::string_view token, int64_t max_age_s) {
  return std::string(kSessionCookie) + "=" + std::string(token) +
         "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
}

Result<admin::Role> RoleOf(const std::string& text) {
  std::optional<admin::Role> role = admin::ParseRole(text);
  if (!role) return InvalidArgument("'role' must be operator, institution-admin or auditor");
  return *role;
}

// A number, or the words "default" / "unlimited" for rates (as the CLI takes them).
Result<std::optional<double>> OptRate(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<double>();
  if (v->is_string()) {
    if (v->get_string() == "default") return std::optional<double>(registry::kRateDefault);
    if (v->get_string() == "unlimited") return std::optional<double>(registry::kRateUnlimited);
  } else if (v->is_number()) {
    return std::optional<double>(v->to_number<double>());
  }
  return InvalidArgument("'" + std::string(name) +
                         "' must be a number, \"default\" or \"unlimited\"");
}
json::object ActionJson(const admin::ActionRecord& a) {
  json::object o;
  o["id"] = a.id;
  o["request_id"] = a.request_id;
  o["at"] = admin::IsoTime(a.at_ms);
  o["account"] = a.account;
  o["role"] = a.role;
  o["institution"] = a.institution;
  o["address"] = a.address;
  o["via"] = a.via;
  o["action"] = a.action;
  o["object"] = a.object;
  o["object_institution"] = a.object_institution;
  json::value detail = json::parse(a.detail);
  o["before"] = detail.as_object()["before"];
  o["after"] = detail.as_object()["after"];
  o["detail_sha256"] = a.detail_sha256;
  o["evidenced"] = a.evidenced;
  return o;
}

// A time: milliseconds since the epoch, or UTC ISO 8601 ("2026-12-02T10:00:00Z"); `what` names
// where it was given in the error.
Result<int64_t> TimeText(const std::string& text, const std::string& what) {
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size()) return ms;
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest != nullptr && (std::string_view(rest) == "Z" || std::string_view(rest).empty())) {
    return static_cast<int64_t>(timegm(&tm)) * 1000;
  }
  return InvalidArgument(what + " must be a time: 2026-12-02T10:00:00Z or milliseconds since 1970");
}

// A time in a query.
Result<std::optional<int64_t>> QueryTime(const Context& c, std::string_view name) {
  std::string text = c.Query(name);
  if (text.empty()) return std::optional<int64_t>();
  GOVESB_ASSIGN_OR_RETURN(int64_t ms,
                          TimeText(text, "the query parameter '" + std::string(name) + "'"));
  return std::optional<int64_t>(ms);
}

// A time in a body member: a number of milliseconds, or a string as TimeText takes it.
Result<std::optional<int64_t>> BodyTime(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  const std::string what = "'" + std::string(name) + "'";
  if (!v->is_string()) return InvalidArgument(what + " must be a time");
  GOVESB_ASSIGN_OR_RETURN(int64_t ms, TimeText(std::string(v->get_string()), what));
  return std::optional<int64_t>(ms);
}

// A file name for a person's report: its identifier's letters and digits, and when it was made.
std::string ReportFileName(const std::string& user_id, int64_t now_ms, std::string_view ext) {
  std::string name = "access-report-";
  for (char c : user_id) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return name + "-" + admin::IsoTime(now_ms).substr(0, 10) + "." + std::string(ext);
}

// The client ids of `institution`'s systems that the caller may see (the service restricts
// an institution-admin's view again).
Result<std::vector<std::string>> SystemsOf(Context& c, const std::string& institution) {
  std::vector<std::string> out;
  if (institution.empty()) return out;
  GOVESB_ASSIGN_OR_RETURN(auto systems, c.service.ListSystems(c.actor()));
  for (const registry::System& s : systems) {
    if (s.institution_code == institution) out.push_back(s.client_id);
  }
  if (out.empty()) out.push_back("-");  // an institution without (visible) systems: nothing
  return out;
}

json::object RecordJson(const evidence::FoundRecord& f) {
  const evidence::Record& r = f.record;
  json::object o;
  o["seq"] = f.seq;
  o["at"] = admin::IsoTime(r.at_ms);
  o["at_ms"] = r.at_ms;
  o["request_id"] = r.request_id;
  o["kind"] = r.kind;
  o["from"] = r.from;
  o["to"] = r.to;
  o["code"] = r.code;
  o["user_id"] = r.user_id;
  o["outcome"] = r.outcome;
  o["error"] = r.error;
  o["latency_us"] = r.latency_us;
  o["size"] = r.size;
  o["body_sha256"] = r.body_sha256;
  o["signature_variant"] = r.signature_variant;
  o["traceparent"] = r.traceparent;
  o["archived"] = f.archived;
  return o;
}

json::object FiguresJson(const traffic::Figures& f) {
  json::object o;
  o["requests"] = f.requests;
  o["errors"] = f.errors;
  o["p50_ms"] = static_cast<double>(f.p50_us) / 1000.0;
  o["p99_ms"] = static_cast<double>(f.p99_us) / 1000.0;
  json::object outcomes;
  for (int i = 0; i < traffic::kOutcomeCount; ++i) {
    if (f.by_outcome[static_cast<size_t>(i)] == 0) continue;
    outcomes[traffic::OutcomeName(static_cast<traffic::Outcome>(i))] =
        f.by_outcome[static_cast<size_t>(i)];
  }
  o["by_outcome"] = std::move(outcomes);
  o["request_bytes"] = f.request_bytes;
  o["response_bytes"] = f.response_bytes;
  return o;
}

// The traffic filter of a query: range (default: the last hour), step, code, institution or
// system, role.
Result<traffic::SeriesFilter> TrafficFilter(Context& c) {
  traffic::SeriesFilter f;
  const int64_t now = c.now_ms;
  GOVESB_ASSIGN_OR_RETURN(auto from, QueryTime(c, "from"));
  GOVESB_ASSIGN_OR_RETURN(auto to, QueryTime(c, "to"));
  f.to_ms = to.value_or(now);
  f.from_ms = from.value_or(f.to_ms - 3'600'000);
  GOVESB_ASSIGN_OR_RETURN(int64_t step, QueryInt(c, "step", 1));
  if (step < 1 || step > 1440) return InvalidArgument("'step' must be 1 to 1440 minutes");
  f.step_minutes = static_cast<int>(step);
  f.code = c.Query("code");
  GOVESB_ASSIGN_OR_RETURN(f.systems, SystemsOf(c, c.Query("institution")));
  if (std::string system = c.Query("system"); !system.empty()) f.systems = {system};
  std::string role = c.Query("role");
  if (role == "consumer") {
    f.role = traffic::Role::kConsumer;
  } else if (role == "provider") {
    f.role = traffic::Role::kProvider;
  } else if (!role.empty() && role != "either") {
    return InvalidArgument("'role' must be consumer, provider or either");
  }
  return f;
}

// ---- the routes ----

struct Route {
  RouteInfo info;
  RouteHandler handler;
};

Result<Reply> SystemWithUsage(Context& c, const std::string& client_id) {
  GOVESB_ASSIGN_OR_RETURN(registry::System system, c.service.GetSystem(c.actor(), client_id));
  json::object out = admin::ToJson(system);
  GOVESB_ASSIGN_OR_RETURN(auto usage, c.service.ListSignatureUsage(c.actor(), client_id));
  admin::AddSignatureUsage(out, usage, /*as_json=*/true);
  return Ok(std::move(out));
}

registry::RateLimitUpdate RateUpdate(std::optional<double> rate, std::optional<double> burst) {
  registry::RateLimitUpdate u;
  u.rate_per_second = rate;
  u.burst = burst;
  return u;
}

const std::vector<Route>& AllRoutes() {
  static const std::vector<Route> routes = [] {
    std::vector<Route> r;
    auto add = [&r](std::string method, std::string pattern, RouteHandler h,
                    bool anonymous = false) {
      r.push_back(Route{RouteInfo{std::move(method), std::move(pattern), anonymous}, std::move(h)});
    };
    add(
        "GET", "/api/v1/openapi.json",
        [](Context&) -> Result<Reply> { return Ok(json::parse(AdminApi::OpenApiDocument())); },
        /*anonymous=*/true);
    add("GET", "/api/v1/me", [](Context& c) -> Result<Reply> {
      json::object o;
      o["account"] = c.actor().account;
      o["role"] = admin::RoleName(c.actor().role);
      if (c.actor().institution.empty()) {
        o["institution"] = nullptr;
      } else {
        o["institution"] = c.actor().institution;
      }
      o["must_change_password"] = c.caller.must_change_password;
      // A portal page reloaded gets its session's CSRF token again here.
      if (std::string session = CookieValue(c.request.Header("cookie"), kSessionCookie);
          c.caller.by_session && !session.empty()) {
        o["csrf_token"] = accounts::Accounts::CsrfTokenOf(session);
      }
      return Ok(std::move(o));
    });

    // Sessions and the caller's own account.
    add(
        "POST", "/api/v1/session",
        [](Context& c) -> Result<Reply> {
          GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
          GOVESB_ASSIGN_OR_RETURN(std::string email, Str(c.body, "email"));
          GOVESB_ASSIGN_OR_RETURN(std::string password, Str(c.body, "password"));
          std::chrono::milliseconds retry_after{0};
          accounts::LoginRequest login{.email = email,
                                       .password = password,
                                       .address = c.request.remote_address,
                                       .user_agent = c.request.Header("user-agent")};
          Result<accounts::NewSession> session = accounts->Login(login, &retry_after);
          if (!session.ok()) {
            if (session.status().code() == StatusCode::kResourceExhausted) {
              c.retry_after_s = std::max<int64_t>(1, (retry_after.count() + 999) / 1000);
            }
            return session.status();
          }
          json::object o;
          o["account"] = std::string(email);
          o["csrf_token"] = session->csrf_token;
          o["expires_at"] = admin::IsoTime(session->expires_at_ms);
          o["must_change_password"] = session->must_change_password;
          Reply reply = Ok(std::move(o));
          reply.headers.emplace_back("Set-Cookie", SessionCookie(session->token, 12 * 3600));
          return reply;
        },
        /*anonymous=*/true);
    add(
        "DELETE", "/api/v1/session",
        [](Context& c) -> Result<Reply> {
          GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
          std::string session = CookieValue(c.request.Header("cookie"), kSessionCookie);
          if (!session.empty()) GOVESB_RETURN_IF_ERROR(accounts->Logout(session));
          json::object o;
          o["signed_out"] = true;
          Reply reply = Ok(std::move(o));
          reply.headers.emplace_back("Set-Cookie", SessionCookie("", 0));
          return reply;
        },
        /*anonymous=*/true);
    add("POST", "/api/v1/me/password", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(std::string old_password, Str(c.body, "old_password"));
      GOVESB_ASSIGN_OR_RETURN(std::string new_password, Str(c.body, "new_password"));
      GOVESB_RETURN_IF_ERROR(accounts->ChangePassword(c.actor(), old_password, new_password));
      json::object o;
      o["changed"] = true;
      o["note"] = "every session of this account has ended: sign in again";
      Reply reply = Ok(std::move(o));
      reply.headers.emplace_back("Set-Cookie", SessionCookie("", 0));
      return reply;
    });

    // Users (operators manage them).
    add("GET", "/api/v1/users", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(auto users, accounts->ListUsers(c.actor()));
      return Ok(accounts::ToJsonArray(users));
    });
    add("POST", "/api/v1/users", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(std::string email, Str(c.body, "email"));
      GOVESB_ASSIGN_OR_RETURN(std::string role_text, Str(c.body, "role"));
      GOVESB_ASSIGN_OR_RETURN(admin::Role role, RoleOf(role_text));
      GOVESB_ASSIGN_OR_RETURN(auto institution, OptStr(c.body, "institution"));
      GOVESB_ASSIGN_OR_RETURN(auto name, OptStr(c.body, "display_name"));
      std::string institution_text = institution.value_or("");
      std::string name_text = name.value_or("");
      GOVESB_ASSIGN_OR_RETURN(accounts::NewUser created,
                              accounts->CreateUser(c.actor(), {.email = email,
                                                               .display_name = name_text,
                                                               .role = role,
                                                               .institution = institution_text,
                                                               .password = {}}));
      json::object o = accounts::ToJson(created.user);
      o["one_time_password"] = created.one_time_password;
      return Created(std::move(o));
    });
    add("PATCH", "/api/v1/users/{email}", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      accounts::UserUpdate update;
      GOVESB_ASSIGN_OR_RETURN(auto role_text, OptStr(c.body, "role"));
      if (role_text) {
        GOVESB_ASSIGN_OR_RETURN(update.role, RoleOf(*role_text));
      }
      GOVESB_ASSIGN_OR_RETURN(update.institution, OptStr(c.body, "institution"));
      GOVESB_ASSIGN_OR_RETURN(update.display_name, OptStr(c.body, "display_name"));
      GOVESB_ASSIGN_OR_RETURN(auto user, accounts->UpdateUser(c.actor(), c.Path("email"), update));
      return Ok(accounts::ToJson(user));
    });
    add("POST", "/api/v1/users/{email}/disable", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(auto user, accounts->DisableUser(c.actor(), c.Path("email")));
      return Ok(accounts::ToJson(user));
    });
    add("POST", "/api/v1/users/{email}/enable", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(auto user, accounts->EnableUser(c.actor(), c.Path("email")));
      return Ok(accounts::ToJson(user));
    });
    add("POST", "/api/v1/users/{email}/reset-password", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(std::string password,
                              accounts->ResetPassword(c.actor(), c.Path("email")));
      json::object o;
      o["email"] = c.Path("email");
      o["one_time_password"] = password;
      return Ok(std::move(o));
    });

    // API tokens (the caller's own; operators see and revoke anyone's).
    add("GET", "/api/v1/tokens", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(auto tokens, accounts->ListApiTokens(c.actor(), c.Query("email")));
      return Ok(accounts::ToJsonArray(tokens));
    });
    add("POST", "/api/v1/tokens", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(std::string name, Str(c.body, "name"));
      GOVESB_ASSIGN_OR_RETURN(auto role_text, OptStr(c.body, "role"));
      admin::Role scope = c.actor().role;
      if (role_text) {
        GOVESB_ASSIGN_OR_RETURN(scope, RoleOf(*role_text));
      }
      GOVESB_ASSIGN_OR_RETURN(auto expires_in_days, OptInt(c.body, "expires_in_days"));
      GOVESB_ASSIGN_OR_RETURN(accounts::NewApiToken token,
                              accounts->CreateApiToken(c.actor(), name, scope, expires_in_days));
      json::object o = accounts::ToJson(token.token);
      o["token"] = token.secret;
      return Created(std::move(o));
    });
    add("POST", "/api/v1/tokens/{id}/revoke", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(accounts::Accounts * accounts, AccountsOf(c));
      GOVESB_ASSIGN_OR_RETURN(int64_t id, PathInt(c, "id"));
      GOVESB_ASSIGN_OR_RETURN(auto token, accounts->RevokeApiToken(c.actor(), id));
      return Ok(accounts::ToJson(token));
    });

    // Institutions.
    add("GET", "/api/v1/institutions", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListInstitutions(c.actor()));
      return Ok(Rows(rows));
    });
    add("POST", "/api/v1/institutions", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string code, Str(c.body, "code"));
      GOVESB_ASSIGN_OR_RETURN(std::string name, Str(c.body, "name"));
      GOVESB_ASSIGN_OR_RETURN(auto created, c.service.AddInstitution(c.actor(), code, name));
      return Created(admin::ToJson(created));
    });
    add("PATCH", "/api/v1/institutions/{code}", internal::RenameInstitution);
    add("POST", "/api/v1/institutions/{code}/suspend", internal::SuspendInstitution);
    add("POST", "/api/v1/institutions/{code}/resume", internal::ResumeInstitution);

    // Membership applications: anyone applies; the operator decides.
    add("POST", "/api/v1/applications", internal::SubmitApplication, /*anonymous=*/true);
    add("GET", "/api/v1/applications", internal::ListApplications);
    add("POST", "/api/v1/applications/{id}/accept", internal::AcceptApplication);
    add("POST", "/api/v1/applications/{id}/refuse", internal::RefuseApplication);

    // Systems.
    add("GET", "/api/v1/systems", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListSystems(c.actor()));
      return Ok(Rows(rows));
    });
    add("POST", "/api/v1/systems", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string institution, Str(c.body, "institution"));
      GOVESB_ASSIGN_OR_RETURN(std::string name, Str(c.body, "name"));
      GOVESB_ASSIGN_OR_RETURN(std::string key, Str(c.body, "public_key"));
      GOVESB_ASSIGN_OR_RETURN(std::string endpoint, Str(c.body, "endpoint"));
      GOVESB_ASSIGN_OR_RETURN(auto created,
                              c.service.AddSystem(c.actor(), institution, name, key, endpoint));
      return Created(admin::ToJson(created.system, created.client_secret));
    });
    add("GET", "/api/v1/systems/{client_id}",
        [](Context& c) { return SystemWithUsage(c, c.Path("client_id")); });
    add("PATCH", "/api/v1/systems/{client_id}", [](Context& c) -> Result<Reply> {
      registry::SystemUpdate u;
      GOVESB_ASSIGN_OR_RETURN(u.name, OptStr(c.body, "name"));
      GOVESB_ASSIGN_OR_RETURN(u.public_key, OptStr(c.body, "public_key"));
      GOVESB_ASSIGN_OR_RETURN(u.endpoint, OptStr(c.body, "endpoint"));
      if (!u.name && !u.public_key && !u.endpoint) {
        return InvalidArgument("nothing to change: give name, public_key and/or endpoint");
      }
      GOVESB_ASSIGN_OR_RETURN(auto s, c.service.UpdateSystem(c.actor(), c.Path("client_id"), u));
      return Ok(admin::ToJson(s));
    });
    add("POST", "/api/v1/systems/{client_id}/disable", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto s, c.service.DisableSystem(c.actor(), c.Path("client_id")));
      return Ok(admin::ToJson(s));
    });
    add("POST", "/api/v1/systems/{client_id}/enable", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto s, c.service.EnableSystem(c.actor(), c.Path("client_id")));
      return Ok(admin::ToJson(s));
    });
    add("POST", "/api/v1/systems/{client_id}/rotate-secret", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string secret,
                              c.service.RotateSecret(c.actor(), c.Path("client_id")));
      GOVESB_ASSIGN_OR_RETURN(auto s, c.service.GetSystem(c.actor(), c.Path("client_id")));
      return Ok(admin::ToJson(s, secret));
    });
    add("PUT", "/api/v1/systems/{client_id}/limits", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rate, OptRate(c.body, "rate_per_second"));
      GOVESB_ASSIGN_OR_RETURN(auto burst, OptRate(c.body, "burst"));
      GOVESB_ASSIGN_OR_RETURN(auto s, c.service.SetSystemRateLimit(c.actor(), c.Path("client_id"),
                                                                   RateUpdate(rate, burst)));
      return Ok(admin::ToJson(s));
    });
    add("PUT", "/api/v1/systems/{client_id}/fallbacks", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(bool allowed, Bool(c.body, "allowed"));
      GOVESB_ASSIGN_OR_RETURN(
          auto s, c.service.SetSignatureFallbacks(c.actor(), c.Path("client_id"), allowed));
      return Ok(admin::ToJson(s));
    });
    add("PUT", "/api/v1/systems/{client_id}/serialisation", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string setting, Str(c.body, "serialisation"));
      GOVESB_ASSIGN_OR_RETURN(auto s,
                              c.service.SetSerialisation(c.actor(), c.Path("client_id"), setting));
      return Ok(admin::ToJson(s));
    });

    // APIs.
    add("GET", "/api/v1/apis", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListApis(c.actor()));
      return Ok(Rows(rows));
    });
    add("POST", "/api/v1/apis", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string provider, Str(c.body, "provider"));
      GOVESB_ASSIGN_OR_RETURN(std::string code, Str(c.body, "code"));
      registry::ApiSettings settings;
      GOVESB_ASSIGN_OR_RETURN(auto timeout, OptInt(c.body, "timeout_ms"));
      if (timeout) settings.timeout_ms = *timeout;
      GOVESB_ASSIGN_OR_RETURN(auto mode, OptStr(c.body, "mode"));
      if (mode && *mode != "sync" && *mode != "async") {
        return InvalidArgument("'mode' must be \"sync\" or \"async\"");
      }
      settings.async = mode && *mode == "async";
      GOVESB_ASSIGN_OR_RETURN(auto endpoint, OptStr(c.body, "endpoint_override"));
      if (endpoint) settings.endpoint_override = *endpoint;
      GOVESB_ASSIGN_OR_RETURN(auto callback, OptStr(c.body, "callback_endpoint"));
      if (callback) settings.callback_endpoint = *callback;
      GOVESB_ASSIGN_OR_RETURN(auto api, c.service.AddApi(c.actor(), provider, code, settings));
      return Created(admin::ToJson(api));
    });
    add("GET", "/api/v1/apis/{code}", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto api, c.service.GetApi(c.actor(), c.Path("code")));
      return Ok(admin::ToJson(api));
    });
    add("PUT", "/api/v1/apis/{code}/limits", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rate, OptRate(c.body, "rate_per_second"));
      GOVESB_ASSIGN_OR_RETURN(auto burst, OptRate(c.body, "burst"));
      GOVESB_ASSIGN_OR_RETURN(
          auto api, c.service.SetApiRateLimit(c.actor(), c.Path("code"), RateUpdate(rate, burst)));
      return Ok(admin::ToJson(api));
    });
    add("PUT", "/api/v1/apis/{code}/replay", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string policy_text, Str(c.body, "policy"));
      std::optional<registry::ReplayPolicy> policy = registry::ParseReplayPolicy(policy_text);
      if (!policy) return InvalidArgument("'policy' must be \"record\" or \"refuse\"");
      GOVESB_ASSIGN_OR_RETURN(auto api,
                              c.service.SetApiReplayPolicy(c.actor(), c.Path("code"), *policy));
      return Ok(admin::ToJson(api));
    });
    add("PUT", "/api/v1/apis/{code}/store-bodies", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(bool on, Bool(c.body, "on"));
      GOVESB_ASSIGN_OR_RETURN(auto api, c.service.SetApiStoreBodies(c.actor(), c.Path("code"), on));
      return Ok(admin::ToJson(api));
    });
    add("PUT", "/api/v1/apis/{code}/description", internal::DescribeApi);
    add("POST", "/api/v1/apis/{code}/disable", internal::DisableApi);
    add("POST", "/api/v1/apis/{code}/enable", internal::EnableApi);
    add("GET", "/api/v1/apis/{code}/openapi", internal::GetApiOpenApi);
    add("GET", "/api/v1/apis/{code}/contract", internal::GetApiContract);
    add("PUT", "/api/v1/apis/{code}/contract", internal::SetApiContract);
    add("DELETE", "/api/v1/apis/{code}/contract", internal::RemoveApiContract);

    // Access requests (grants and subscriptions) and their decisions.
    add("POST", "/api/v1/access-requests", internal::RequestAccess);
    add("GET", "/api/v1/access-requests", internal::ListAccessRequests);

    // Grants.
    add("GET", "/api/v1/grants", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListGrants(c.actor()));
      return Ok(Rows(rows));
    });
    add("POST", "/api/v1/grants/{consumer}/{api}/approve", internal::ApproveGrant);
    add("POST", "/api/v1/grants/{consumer}/{api}/refuse", internal::RefuseGrant);
    add("POST", "/api/v1/grants/{consumer}/{api}/revoke", internal::RevokeGrant);
    add("PUT", "/api/v1/grants/{consumer}/{api}/purposes", [](Context& c) -> Result<Reply> {
      // {"purposes":[{"code":"TREATMENT","text":"…"}],"required":true}
      auto it = c.body.find("purposes");
      if (it == c.body.end() || !it->value().is_array()) {
        return InvalidArgument("purposes must be an array of {\"code\", \"text\"} objects");
      }
      std::vector<registry::Purpose> purposes;
      for (const boost::json::value& v : it->value().as_array()) {
        if (!v.is_object()) return InvalidArgument("each purpose is an object {code, text}");
        GOVESB_ASSIGN_OR_RETURN(std::string code, Str(v.as_object(), "code"));
        GOVESB_ASSIGN_OR_RETURN(std::string text, Str(v.as_object(), "text"));
        purposes.push_back(registry::Purpose{std::move(code), std::move(text)});
        if (purposes.size() > registry::kMaxPurposesPerGrant) {
          return InvalidArgument("a grant allows at most " +
                                 std::to_string(registry::kMaxPurposesPerGrant) + " purposes");
        }
      }
      GOVESB_ASSIGN_OR_RETURN(std::optional<bool> required, internal::OptBool(c.body, "required"));
      GOVESB_ASSIGN_OR_RETURN(
          auto g, c.service.SetGrantPurposes(c.actor(), c.Path("consumer"), c.Path("api"), purposes,
                                             required.value_or(false)));
      return Ok(admin::ToJson(g));
    });
    add("PUT", "/api/v1/grants/{consumer}/{api}/fields", [](Context& c) -> Result<Reply> {
      // {"fields":["name","/mother/name"]}; [] gives every field back.
      auto it = c.body.find("fields");
      if (it == c.body.end() || !it->value().is_array()) {
        return InvalidArgument(
            "fields must be an array of paths (JSON Pointers or dotted); [] "
            "for every field");
      }
      std::vector<std::string> fields;
      for (const boost::json::value& v : it->value().as_array()) {
        if (!v.is_string()) return InvalidArgument("each field is a string path");
        if (fields.size() == minimise::kMaxFieldPaths) {
          return InvalidArgument("a grant names at most " +
                                 std::to_string(minimise::kMaxFieldPaths) + " fields");
        }
        fields.emplace_back(v.as_string());
      }
      GOVESB_ASSIGN_OR_RETURN(
          auto g, c.service.SetGrantFields(c.actor(), c.Path("consumer"), c.Path("api"), fields));
      return Ok(admin::ToJson(g));
    });

    // Push topics and subscriptions.
    add("GET", "/api/v1/topics", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListTopics(c.actor()));
      return Ok(Rows(rows));
    });
    add("POST", "/api/v1/topics", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string publisher, Str(c.body, "publisher"));
      GOVESB_ASSIGN_OR_RETURN(std::string code, Str(c.body, "code"));
      GOVESB_ASSIGN_OR_RETURN(auto t, c.service.AddTopic(c.actor(), publisher, code));
      return Created(admin::ToJson(t));
    });
    add("PUT", "/api/v1/topics/{code}/description", internal::DescribeTopic);
    add("POST", "/api/v1/topics/{code}/disable", internal::DisableTopic);
    add("POST", "/api/v1/topics/{code}/enable", internal::EnableTopic);
    add("GET", "/api/v1/subscriptions", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListSubscriptions(c.actor()));
      return Ok(Rows(rows));
    });
    add("POST", "/api/v1/subscriptions/{subscriber}/{topic}/approve",
        internal::ApproveSubscription);
    add("POST", "/api/v1/subscriptions/{subscriber}/{topic}/refuse", internal::RefuseSubscription);
    add("POST", "/api/v1/subscriptions/{subscriber}/{topic}/revoke", internal::RevokeSubscription);

    // Deliveries.
    add("GET", "/api/v1/deliveries/counts", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(delivery::QueueCounts n, c.service.CountOpenDeliveries(c.actor()));
      json::object o;
      o["pending"] = n.pending;
      o["dead"] = n.dead;
      if (n.oldest_pending_created_at_ms == 0) {
        o["oldest_pending_at"] = nullptr;
      } else {
        o["oldest_pending_at"] = admin::IsoTime(n.oldest_pending_created_at_ms);
      }
      return Ok(std::move(o));
    });
    add("GET", "/api/v1/deliveries", [](Context& c) -> Result<Reply> {
      delivery::DeliveryFilter f;
      std::string state = c.Query("state");
      if (!state.empty()) {
        f.state = delivery::ParseDeliveryState(state);
        if (!f.state) {
          return InvalidArgument("'state' must be pending, delivered or dead, not '" +
                                 LogSafe(state) + "'");
        }
      }
      f.code = c.Query("code");
      GOVESB_ASSIGN_OR_RETURN(int64_t limit, QueryInt(c, "limit", 100));
      if (limit < 1 || limit > 10'000) return InvalidArgument("'limit' must be 1 to 10000");
      f.limit = static_cast<size_t>(limit);
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListDeliveries(c.actor(), f));
      return Ok(Rows(rows));
    });
    add("GET", "/api/v1/deliveries/{id}/attempts", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(int64_t id, PathInt(c, "id"));
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListAttempts(c.actor(), id));
      return Ok(Rows(rows));
    });
    add("POST", "/api/v1/deliveries/{id}/redeliver", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(int64_t id, PathInt(c, "id"));
      GOVESB_RETURN_IF_ERROR(c.service.Redeliver(c.actor(), id));
      json::object o;
      o["redelivered"] = 1;
      return Ok(std::move(o));
    });
    add("POST", "/api/v1/deliveries/redeliver-dead", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(auto code, OptStr(c.body, "code"));
      GOVESB_ASSIGN_OR_RETURN(int64_t n, c.service.RedeliverAllDead(c.actor(), code.value_or("")));
      json::object o;
      o["redelivered"] = n;
      return Ok(std::move(o));
    });

    // Evidence.
    add("GET", "/api/v1/evidence", [](Context& c) -> Result<Reply> {
      evidence::SearchFilter f;
      GOVESB_ASSIGN_OR_RETURN(auto from, QueryTime(c, "from"));
      GOVESB_ASSIGN_OR_RETURN(auto to, QueryTime(c, "to"));
      if (from) f.from_ms = *from;
      if (to) f.to_ms = *to;
      GOVESB_ASSIGN_OR_RETURN(f.systems, SystemsOf(c, c.Query("institution")));
      if (std::string system = c.Query("system"); !system.empty()) f.systems = {system};
      f.code = c.Query("code");
      f.outcome = c.Query("outcome");
      f.kind = c.Query("kind");
      f.request_id = c.Query("request_id");
      f.user_id = c.Query("user_id");
      f.actor = c.Query("actor");
      f.cursor = c.Query("cursor");
      GOVESB_ASSIGN_OR_RETURN(int64_t limit, QueryInt(c, "limit", 100));
      if (limit < 1 || limit > 500) return InvalidArgument("'limit' must be 1 to 500");
      f.page_size = static_cast<size_t>(limit);
      GOVESB_ASSIGN_OR_RETURN(evidence::SearchPage page, c.service.SearchEvidence(c.actor(), f));
      json::array records;
      for (const evidence::FoundRecord& found : page.records) records.push_back(RecordJson(found));
      json::object o;
      o["records"] = std::move(records);
      if (page.next_cursor.empty()) {
        o["next_cursor"] = nullptr;
      } else {
        o["next_cursor"] = page.next_cursor;
      }
      return Ok(std::move(o));
    });
    add("GET", "/api/v1/evidence/{request_id}/proof", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(std::string proof,
                              c.service.ExchangeProof(c.actor(), c.Path("request_id")));
      return Ok(json::parse(proof));
    });
    // A person's access report (operator and auditor), signed by the bus: the file to save as
    // it is (its bytes are what is signed). POST, so that the identifier stays out of URLs.
    add("POST", "/api/v1/subject-reports", [](Context& c) -> Result<Reply> {
      evidence::SubjectQuery query;
      GOVESB_ASSIGN_OR_RETURN(query.user_id, Str(c.body, "user_id"));
      GOVESB_ASSIGN_OR_RETURN(query.from_ms, BodyTime(c.body, "from"));
      GOVESB_ASSIGN_OR_RETURN(query.to_ms, BodyTime(c.body, "to"));
      GOVESB_ASSIGN_OR_RETURN(auto format, OptStr(c.body, "format"));
      const std::string form = format.value_or("json");
      if (form != "json" && form != "html") return InvalidArgument("'format' must be json or html");
      GOVESB_ASSIGN_OR_RETURN(std::string document, c.service.MakeSubjectReport(c.actor(), query));
      GOVESB_ASSIGN_OR_RETURN(evidence::SubjectReportDocument read,
                              evidence::ReadSubjectReportDocument(document));
      json::object o;
      o["format"] = form;
      o["file_name"] = ReportFileName(query.user_id, read.report.generated_at_ms, form);
      o["content_type"] = form == "html" ? "text/html; charset=utf-8" : "application/json";
      o["content"] = form == "html" ? evidence::RenderSubjectReportHtml(read) : document + "\n";
      o["exchanges"] = static_cast<int64_t>(read.report.exchanges.size());
      o["key_id"] = read.key_id;
      return Ok(std::move(o));
    });
    add("GET", "/api/v1/evidence/verify", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(evidence::VerifyReport v, c.service.VerifyEvidence(c.actor()));
      json::object o;
      o["intact"] = v.intact;
      o["records"] = v.records;
      o["checkpoints"] = v.checkpoints;
      o["unsealed"] = v.unsealed;
      if (v.first_bad_seq) {
        o["first_bad_seq"] = *v.first_bad_seq;
      } else {
        o["first_bad_seq"] = nullptr;
      }
      o["problem"] = v.problem;
      return Ok(std::move(o));
    });

    // Compliance with the e-Government standards (docs/compliance.md): operators and auditors
    // every institution's, an institution's admin its own.
    add("GET", "/api/v1/compliance", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(admin::ComplianceReport report,
                              c.service.Compliance(c.actor(), c.Query("institution")));
      return Ok(admin::ToJson(report));
    });
    add("GET", "/api/v1/compliance/summary", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(admin::ComplianceReport report,
                              c.service.Compliance(c.actor(), c.Query("institution")));
      json::object o = admin::ToJson(report.summary);
      o["generated_at"] = admin::IsoTime(report.generated_at_ms);
      o["window_from"] = admin::IsoTime(report.window_from_ms);
      o["covered_from"] = admin::IsoTime(report.covered_from_ms);
      o["partial"] = report.partial;
      return Ok(std::move(o));
    });
    add("GET", "/api/v1/compliance/thresholds", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(admin::ComplianceThresholds t,
                              c.service.GetComplianceThresholds(c.actor()));
      return Ok(admin::ToJson(t));
    });
    add("PUT", "/api/v1/compliance/thresholds/{name}", [](Context& c) -> Result<Reply> {
      // {"value": 0.05} or {"value": "default"}
      auto it = c.body.find("value");
      std::string value;
      if (it != c.body.end() && it->value().is_string()) {
        value = std::string(it->value().as_string());
      } else if (it != c.body.end() && it->value().is_number()) {
        value = json::serialize(it->value());
      } else {
        return InvalidArgument("'value' must be a number, or \"default\"");
      }
      GOVESB_ASSIGN_OR_RETURN(admin::ComplianceThresholds t,
                              c.service.SetComplianceThreshold(c.actor(), c.Path("name"), value));
      return Ok(admin::ToJson(t));
    });

    // The bus itself: its key, certificate and addresses.
    add("GET", "/api/v1/bus", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(admin::BusDescription bus, c.service.DescribeBus(c.actor()));
      return Ok(admin::ToJson(bus));
    });

    // Traffic, from the per-minute counters.
    add("GET", "/api/v1/traffic", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(traffic::SeriesFilter f, TrafficFilter(c));
      GOVESB_ASSIGN_OR_RETURN(auto points, c.service.TrafficSeries(c.actor(), f));
      json::array out;
      for (const traffic::Point& p : points) {
        json::object o = FiguresJson(p.figures);
        o["start"] = admin::IsoTime(p.start_ms);
        o["start_ms"] = p.start_ms;
        out.push_back(std::move(o));
      }
      return Ok(std::move(out));
    });
    add("GET", "/api/v1/traffic/totals", [](Context& c) -> Result<Reply> {
      GOVESB_ASSIGN_OR_RETURN(traffic::SeriesFilter f, TrafficFilter(c));
      std::string by = c.Query("by");
      if (!by.empty() && by != "code" && by != "system") {
        return InvalidArgument("'by' must be code or system");
      }
      GOVESB_ASSIGN_OR_RETURN(int64_t limit, QueryInt(c, "limit", 50));
      if (limit < 1 || limit > 1000) return InvalidArgument("'limit' must be 1 to 1000");
      GOVESB_ASSIGN_OR_RETURN(
          auto rows,
          c.service.TrafficTotals(
              c.actor(), f, by == "system" ? traffic::GroupBy::kSystem : traffic::GroupBy::kCode,
              static_cast<size_t>(limit)));
      json::array out;
      for (const traffic::TotalsRow& row : rows) {
        json::object o = FiguresJson(row.figures);
        o["key"] = row.key;
        out.push_back(std::move(o));
      }
      return Ok(std::move(out));
    });

    // The record of admin actions.
    add("GET", "/api/v1/actions", [](Context& c) -> Result<Reply> {
      admin::ActionFilter f;
      f.account = c.Query("account");
      f.object = c.Query("object");
      f.action = c.Query("action");
      GOVESB_ASSIGN_OR_RETURN(f.before_id, QueryInt(c, "before_id", 0));
      GOVESB_ASSIGN_OR_RETURN(int64_t limit, QueryInt(c, "limit", 100));
      if (limit < 1 || limit > 1000) return InvalidArgument("'limit' must be 1 to 1000");
      f.limit = static_cast<size_t>(limit);
      GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListActions(c.actor(), f));
      json::array out;
      for (const admin::ActionRecord& a : rows) out.push_back(ActionJson(a));
      return Ok(std::move(out));
    });
    return r;
  }();
  return routes;
}

// Splits a path into its decoded segments; nullopt when it is not a valid path.
std::optional<std::vector<std::string>> Segments(
    std::string_view target, std::map<std::string, std::string, std::less<>>* query) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  std::vector<std::string> out;
  for (auto segment : url->segments()) out.push_back(std::string(segment));
  for (auto param : url->params()) {
    if (query->size() >= 32) break;
    query->emplace(std::string(param.key), param.has_value ? std::string(param.value) : "");
  }
  return out;
}

std::vector<std::string> PatternSegments(std::string_view pattern) {
  std::vector<std::string> out;
  size_t start = 1;  // after the leading '/'
  while (start <= pattern.size()) {
    size_t end = pattern.find('/', start);
    if (end == std::string_view::npos) end = pattern.size();
    out.emplace_back(pattern.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool Matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
             std::map<std::string, std::string, std::less<>>* params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty()) return false;
      (*params)[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}

bool ChangesState(std::string_view method) { return method != "GET" && method != "HEAD"; }

}  // namespace

http::HttpResponse ErrorResponse(const Status& status) {
  json::object error;
  error["code"] = CodeName(status.code());
  const int http_status = HttpStatusOf(status.code());
  error["message"] =
      http_status == 500 ? "internal error; the bus's log has the details" : status.message();
  json::object body;
  body["error"] = std::move(error);
  return JsonResponse(http_status, body);
}

AdminApi::AdminApi(admin::AdminService& service, accounts::Accounts* accounts, Authenticator& auth,
                   const Clock* clock, store::Database* db)
    : service_(service),
      accounts_(accounts),
      auth_(auth),
      clock_(clock != nullptr ? *clock : DefaultClock()),
      db_(db),
      application_limiter_(clock_, limits::KeyedRateLimiterOptions{.max_keys = 10'000}) {}

void AdminApi::Housekeeping() {
  std::lock_guard lock(mu_);
  if (accounts_ == nullptr) return;
  Result<int64_t> purged = accounts_->PurgeExpiredSessions();
  if (!purged.ok())
    spdlog::warn("admin api: ended sessions not purged: {}", purged.status().message());
}

std::vector<RouteInfo> AdminApi::Routes() {
  std::vector<RouteInfo> out;
  for (const Route& r : AllRoutes()) out.push_back(r.info);
  return out;
}

http::HttpResponse AdminApi::Handle(const http::HttpRequest& request) {
  std::lock_guard lock(mu_);  // one database connection under the service and the accounts
  std::map<std::string, std::string, std::less<>> query;
  std::optional<std::vector<std::string>> path = Segments(request.target, &query);
  if (!path) return ErrorResponse(InvalidArgument("the request target is not a valid path"));
  // The route: first by path, then by method (405 when only the method is wrong).
  const Route* route = nullptr;
  std::map<std::string, std::string, std::less<>> params;
  std::string allowed;
  for (const Route& r : AllRoutes()) {
    std::map<std::string, std::string, std::less<>> p;
    if (!Matches(PatternSegments(r.info.pattern), *path, &p)) continue;
    if (r.info.method == request.method) {
      route = &r;
      params = std::move(p);
      break;
    }
    allowed += (allowed.empty() ? "" : ", ") + r.info.method;
  }
  if (route == nullptr) {
    if (allowed.empty()) {
      return ErrorResponse(
          NotFound("no such route: " + request.method + " " + LogSafe(request.Path())));
    }
    http::HttpResponse r =
        ErrorResponse(Status(StatusCode::kInvalidArgument, "this route takes " + allowed));
    r.status = 405;
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  // Who asks.
  Caller caller;
  if (!route->info.anonymous) {
    Result<std::optional<Caller>> who = auth_.Authenticate(request);
    if (!who.ok()) return ErrorResponse(who.status());
    if (!who->has_value()) {
      return ErrorResponse(
          Unauthenticated("sign in, or send an API token as Authorization: Bearer TOKEN"));
    }
    caller = std::move(**who);
    const bool allowed_before_change =
        route->info.pattern == "/api/v1/me" || route->info.pattern == "/api/v1/me/password";
    if (caller.must_change_password && !allowed_before_change) {
      return ErrorResponse(
          PermissionDenied("you signed in with a one-time password: change your password first"));
    }
    if (caller.by_session && ChangesState(request.method)) {
      Status csrf = auth_.CheckCsrf(request, caller);
      if (!csrf.ok()) return ErrorResponse(csrf);
    }
  }
  if (route->info.anonymous && request.body.size() > kMaxAnonymousBodyBytes) {
    http::HttpResponse r =
        ErrorResponse(InvalidArgument("the request body is larger than " +
                                      std::to_string(kMaxAnonymousBodyBytes / 1024) + " KiB"));
    r.status = 413;
    return r;
  }
  Context context{service_,          accounts_,        caller, request,
                  std::move(params), std::move(query), {},     clock_.NowMillis()};
  context.db = db_;
  context.application_limiter = &application_limiter_;
  if (ChangesState(request.method) && !request.body.empty()) {
    boost::system::error_code ec;
    json::value parsed = json::parse(request.body, ec);
    if (ec || !parsed.is_object()) {
      return ErrorResponse(InvalidArgument("the request body must be a JSON object"));
    }
    context.body = std::move(parsed.as_object());
  }
  Result<Reply> reply = route->handler(context);
  if (!reply.ok()) {
    if (HttpStatusOf(reply.status().code()) == 500) {
      spdlog::error("admin api: {} {}: {}", request.method, LogSafe(request.Path()),
                    LogSafe(reply.status().message()));
    }
    http::HttpResponse r = ErrorResponse(reply.status());
    if (context.retry_after_s > 0) {
      r.headers.emplace_back("Retry-After", std::to_string(context.retry_after_s));
    }
    return r;
  }
  http::HttpResponse r = JsonResponse(reply->status, reply->body);
  for (auto& header : reply->headers) r.headers.push_back(std::move(header));
  return r;
}

}  // namespace govesb::adminapi
