// The handlers of the onboarding workflows (onboarding_routes.h).
#include "adminapi/onboarding_routes.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <string>
#include <utility>

#include "accounts/render.h"
#include "base/log_safe.h"
#include "limits/rate.h"

namespace govesb::adminapi::internal {
namespace {

namespace json = boost::json;

json::value TextOrNull(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

// ---- membership applications ----

Result<std::vector<registry::PlannedSystem>> PlannedSystems(const json::object& body) {
  const json::value* v = body.if_contains("planned_systems");
  if (v == nullptr || !v->is_array()) {
    return InvalidArgument(
        "'planned_systems' is required: a list of the systems the institution plans to connect,"
        " each {\"name\": ..., \"description\": ...}");
  }
  std::vector<registry::PlannedSystem> out;
  for (const json::value& item : v->as_array()) {
    if (!item.is_object()) {
      return InvalidArgument(
          "each of 'planned_systems' must be {\"name\": ..., \"description\": ...}");
    }
    GOVESB_ASSIGN_OR_RETURN(std::string name, Str(item.as_object(), "name"));
    GOVESB_ASSIGN_OR_RETURN(auto description, OptStr(item.as_object(), "description"));
    out.push_back({.name = std::move(name), .description = description.value_or("")});
    // The registry refuses more than kMaxPlannedSystems; stop collecting well before a huge list.
    if (out.size() > registry::kMaxPlannedSystems) break;
  }
  return out;
}

// What AcceptApplication answers: the application, its institution, and the first admin
// account (with its one-time password, shown once) or why there is none.
json::object AcceptedJson(const registry::AcceptedApplication& accepted,
                          const std::optional<accounts::NewUser>& account,
                          const std::string& account_error) {
  json::object out;
  out["application"] = admin::ToJson(accepted.application);
  out["institution"] = admin::ToJson(accepted.institution);
  if (account) {
    json::object user = accounts::ToJson(account->user);
    user["one_time_password"] = account->one_time_password;
    out["admin_account"] = std::move(user);
  } else {
    out["admin_account"] = nullptr;
  }
  out["admin_account_error"] = TextOrNull(account_error);
  return out;
}

Result<accounts::NewUser> CreateFirstAdmin(Context& c, const registry::AcceptedApplication& a) {
  return c.accounts->CreateUser(c.actor(), {.email = a.application.contact_email,
                                            .display_name = a.application.contact_name,
                                            .role = admin::Role::kInstitutionAdmin,
                                            .institution = a.institution.code,
                                            .password = {}});
}

// ---- access ----

// The access-request state of a listing: absent means pending (what waits for a decision),
// "all" or "" every state.
std::string AccessState(const Context& c) {
  if (!c.HasQuery("state")) return std::string(registry::kAccessPending);
  std::string state = c.Query("state");
  return state == "all" ? std::string() : state;
}

}  // namespace

// ---- institutions ----

Result<Reply> RenameInstitution(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(std::string name, Str(c.body, "name"));
  GOVESB_ASSIGN_OR_RETURN(auto i, c.service.RenameInstitution(c.actor(), c.Path("code"), name));
  return Ok(admin::ToJson(i));
}

Result<Reply> SuspendInstitution(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(auto i, c.service.SuspendInstitution(c.actor(), c.Path("code")));
  return Ok(admin::ToJson(i));
}

Result<Reply> ResumeInstitution(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(auto i, c.service.ResumeInstitution(c.actor(), c.Path("code")));
  return Ok(admin::ToJson(i));
}

// ---- membership applications ----

Result<Reply> SubmitApplication(Context& c) {
  // Counted before anything is read, so bad forms cost the same as good ones.
  if (c.application_limiter != nullptr) {
    limits::Decision d = c.application_limiter->Admit(c.request.remote_address, kApplicationRate);
    if (!d.allowed) {
      c.retry_after_s = limits::RetryAfterSeconds(d.retry_after);
      return ResourceExhausted("too many membership applications from this address: try again in " +
                               std::to_string(c.retry_after_s) + " seconds");
    }
  }
  registry::NewApplication a;
  GOVESB_ASSIGN_OR_RETURN(a.institution_code, Str(c.body, "institution_code"));
  GOVESB_ASSIGN_OR_RETURN(a.institution_name, Str(c.body, "institution_name"));
  GOVESB_ASSIGN_OR_RETURN(a.details, Str(c.body, "details"));
  GOVESB_ASSIGN_OR_RETURN(a.contact_name, Str(c.body, "contact_name"));
  GOVESB_ASSIGN_OR_RETURN(a.contact_email, Str(c.body, "contact_email"));
  GOVESB_ASSIGN_OR_RETURN(auto phone, OptStr(c.body, "contact_phone"));
  a.contact_phone = phone.value_or("");
  GOVESB_ASSIGN_OR_RETURN(a.planned_systems, PlannedSystems(c.body));
  // The service validates every field before the actor's name is recorded anywhere.
  const admin::Actor applicant = admin::Actor::Applicant(a.contact_email, c.request.remote_address);
  GOVESB_ASSIGN_OR_RETURN(auto created, c.service.ApplyForMembership(applicant, a));
  return Created(admin::ToJson(created));
}

Result<Reply> ListApplications(Context& c) {
  std::string state = c.Query("state");
  if (state == "all") state.clear();
  GOVESB_ASSIGN_OR_RETURN(auto rows, c.service.ListApplications(c.actor(), state));
  return Ok(Rows(rows));
}

// Accepting creates the institution and, unless the body says "create_admin_account": false,
// its first institution-admin account for the contact e-mail, with a one-time password shown
// once. Both in one transaction when the connection under the service and the accounts is
// known: an account that cannot be created (the e-mail has one already ...) leaves the
// application pending and changes nothing.
Result<Reply> AcceptApplication(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(int64_t id, PathInt(c, "id"));
  GOVESB_ASSIGN_OR_RETURN(std::optional<bool> create, OptBool(c.body, "create_admin_account"));
  if (!create.value_or(true) || c.accounts == nullptr) {
    GOVESB_ASSIGN_OR_RETURN(auto accepted, c.service.AcceptApplication(c.actor(), id));
    std::string why = create.value_or(true)
                          ? "accounts are not available here: create the institution's first "
                            "admin account with POST /api/v1/users"
                          : std::string();
    return Ok(AcceptedJson(accepted, std::nullopt, why));
  }
  std::optional<store::Transaction> txn;
  if (c.db != nullptr) {
    GOVESB_ASSIGN_OR_RETURN(store::Transaction t, store::Transaction::Begin(*c.db));
    txn.emplace(std::move(t));
  }
  GOVESB_ASSIGN_OR_RETURN(auto accepted, c.service.AcceptApplication(c.actor(), id));
  Result<accounts::NewUser> account = CreateFirstAdmin(c, accepted);
  if (!account.ok()) {
    const std::string what = "the first admin account (" +
                             LogSafe(accepted.application.contact_email) +
                             ") could not be created: " + account.status().message();
    if (txn) {
      return Status(account.status().code(),
                    "the application was not accepted and nothing changed: " + what +
                        ". Accept it with {\"create_admin_account\": false} and add the account"
                        " with POST /api/v1/users");
    }
    return Ok(AcceptedJson(accepted, std::nullopt,
                           "the application is accepted and the institution created, but " + what +
                               ". Add the account with POST /api/v1/users"));
  }
  if (txn) GOVESB_RETURN_IF_ERROR(txn->Commit());
  return Ok(AcceptedJson(accepted, *account, std::string()));
}

Result<Reply> RefuseApplication(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(int64_t id, PathInt(c, "id"));
  GOVESB_ASSIGN_OR_RETURN(std::string reason, Str(c.body, "reason"));
  GOVESB_ASSIGN_OR_RETURN(auto a, c.service.RefuseApplication(c.actor(), id, reason));
  return Ok(admin::ToJson(a));
}

// ---- the catalogue ----

Result<Reply> DescribeApi(Context& c) {
  registry::ApiDescription d;
  GOVESB_ASSIGN_OR_RETURN(d.title, OptStr(c.body, "title"));
  GOVESB_ASSIGN_OR_RETURN(d.description, OptStr(c.body, "description"));
  GOVESB_ASSIGN_OR_RETURN(d.request_example, OptJsonText(c.body, "request_example"));
  GOVESB_ASSIGN_OR_RETURN(d.response_example, OptJsonText(c.body, "response_example"));
  GOVESB_ASSIGN_OR_RETURN(d.openapi, OptJsonText(c.body, "openapi"));
  if (d.empty()) {
    return InvalidArgument(
        "nothing to change: give title, description, request_example, response_example and/or"
        " openapi");
  }
  GOVESB_ASSIGN_OR_RETURN(auto api, c.service.UpdateApiDescription(c.actor(), c.Path("code"), d));
  return Ok(admin::ToJson(api));
}

Result<Reply> DisableApi(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(auto api, c.service.DisableApi(c.actor(), c.Path("code")));
  return Ok(admin::ToJson(api));
}

Result<Reply> EnableApi(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(auto api, c.service.EnableApi(c.actor(), c.Path("code")));
  return Ok(admin::ToJson(api));
}

Result<Reply> GetApiOpenApi(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(registry::Api api, c.service.GetApi(c.actor(), c.Path("code")));
  if (api.openapi.empty()) {
    return NotFound("API '" + api.code +
                    "' has no OpenAPI document: its provider gives one with"
                    " PUT /api/v1/apis/" +
                    api.code + "/description");
  }
  boost::system::error_code ec;
  json::value doc = json::parse(api.openapi, ec);
  if (ec) return Internal("the stored OpenAPI document of API '" + api.code + "' is not JSON");
  return Ok(std::move(doc));
}

namespace {

json::value ContractJson(const registry::Api& api) {
  json::object out;
  out["code"] = api.code;
  auto text = [](const std::string& t) -> json::value {
    return t.empty() ? json::value(nullptr) : json::value(t);
  };
  out["request_schema"] = text(api.request_schema);
  out["response_schema"] = text(api.response_schema);
  return out;
}

// A member of the contract's body: absent (unchanged), null (removed), the schema's JSON text as
// a string, or the schema itself (serialized).
Result<std::optional<std::string>> SchemaMember(const json::object& body, std::string_view name) {
  const json::value* v = body.if_contains(name);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_null()) return std::optional<std::string>(std::string());
  if (v->is_string()) {
    if (v->get_string().empty()) {
      return InvalidArgument(std::string(name) + " must be a schema, its JSON text, or null");
    }
    return std::optional<std::string>(std::string(v->get_string()));
  }
  return std::optional<std::string>(json::serialize(*v));
}

}  // namespace

Result<Reply> GetApiContract(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(registry::Api api, c.service.GetApi(c.actor(), c.Path("code")));
  return Ok(ContractJson(api));
}

Result<Reply> SetApiContract(Context& c) {
  registry::ApiContract contract;
  GOVESB_ASSIGN_OR_RETURN(contract.request_schema, SchemaMember(c.body, "request_schema"));
  GOVESB_ASSIGN_OR_RETURN(contract.response_schema, SchemaMember(c.body, "response_schema"));
  if (contract.empty()) {
    return InvalidArgument(
        "nothing to change: give request_schema and/or response_schema (null removes one)");
  }
  GOVESB_ASSIGN_OR_RETURN(auto api, c.service.SetApiContract(c.actor(), c.Path("code"), contract));
  return Ok(ContractJson(api));
}

Result<Reply> RemoveApiContract(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(auto api,
                          c.service.SetApiContract(c.actor(), c.Path("code"),
                                                   {.request_schema = "", .response_schema = ""}));
  return Ok(ContractJson(api));
}

Result<Reply> DescribeTopic(Context& c) {
  registry::TopicDescription d;
  GOVESB_ASSIGN_OR_RETURN(d.title, OptStr(c.body, "title"));
  GOVESB_ASSIGN_OR_RETURN(d.description, OptStr(c.body, "description"));
  GOVESB_ASSIGN_OR_RETURN(d.message_example, OptJsonText(c.body, "message_example"));
  if (!d.title && !d.description && !d.message_example) {
    return InvalidArgument("nothing to change: give title, description and/or message_example");
  }
  GOVESB_ASSIGN_OR_RETURN(auto t, c.service.UpdateTopicDescription(c.actor(), c.Path("code"), d));
  return Ok(admin::ToJson(t));
}

Result<Reply> DisableTopic(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(auto topic, c.service.DisableTopic(c.actor(), c.Path("code")));
  return Ok(admin::ToJson(topic));
}

Result<Reply> EnableTopic(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(auto topic, c.service.EnableTopic(c.actor(), c.Path("code")));
  return Ok(admin::ToJson(topic));
}

// ---- access requests ----

Result<Reply> RequestAccess(Context& c) {
  const bool to_api = c.body.contains("consumer") || c.body.contains("api");
  const bool to_topic = c.body.contains("subscriber") || c.body.contains("topic");
  if (to_api == to_topic) {
    return InvalidArgument(
        "give either 'consumer' and 'api' (access to an API) or 'subscriber' and 'topic' (a"
        " subscription to a push topic), with the 'purpose'");
  }
  if (to_api) {
    GOVESB_ASSIGN_OR_RETURN(std::string consumer, Str(c.body, "consumer"));
    GOVESB_ASSIGN_OR_RETURN(std::string api, Str(c.body, "api"));
    GOVESB_ASSIGN_OR_RETURN(std::string purpose, Str(c.body, "purpose"));
    GOVESB_ASSIGN_OR_RETURN(auto g, c.service.RequestAccess(c.actor(), consumer, api, purpose));
    return Created(admin::ToJson(g));
  }
  GOVESB_ASSIGN_OR_RETURN(std::string subscriber, Str(c.body, "subscriber"));
  GOVESB_ASSIGN_OR_RETURN(std::string topic, Str(c.body, "topic"));
  GOVESB_ASSIGN_OR_RETURN(std::string purpose, Str(c.body, "purpose"));
  GOVESB_ASSIGN_OR_RETURN(auto endpoint, OptStr(c.body, "endpoint_override"));
  GOVESB_ASSIGN_OR_RETURN(auto s, c.service.RequestSubscription(c.actor(), subscriber, topic,
                                                                purpose, endpoint.value_or("")));
  return Created(admin::ToJson(s));
}

Result<Reply> ListAccessRequests(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(admin::AccessRequests r,
                          c.service.ListAccessRequests(c.actor(), AccessState(c)));
  json::object out;
  out["grants"] = Rows(r.grants);
  out["subscriptions"] = Rows(r.subscriptions);
  return Ok(std::move(out));
}

// A pending request is decided (ApproveRequest: its requester and purpose stay, the action is
// grant.approve-request with the state before). Anything else is a direct approval
// (ApproveGrant: no request needed, or a refused or revoked grant given again). Both belong to
// the operator and the provider's institution. The registry is read here only to choose; each
// service call checks the caller itself.
Result<Reply> ApproveGrant(Context& c) {
  const std::string& consumer = c.Path("consumer");
  const std::string& api = c.Path("api");
  Result<registry::Grant> existing = c.service.registry().GetGrant(consumer, api);
  if (existing.ok() && existing->state == registry::kAccessPending) {
    GOVESB_ASSIGN_OR_RETURN(auto g, c.service.ApproveRequest(c.actor(), consumer, api));
    return Ok(admin::ToJson(g));
  }
  GOVESB_ASSIGN_OR_RETURN(auto g, c.service.ApproveGrant(c.actor(), consumer, api));
  return Ok(admin::ToJson(g));
}

Result<Reply> RefuseGrant(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(std::string reason, Str(c.body, "reason"));
  GOVESB_ASSIGN_OR_RETURN(
      auto g, c.service.RefuseRequest(c.actor(), c.Path("consumer"), c.Path("api"), reason));
  return Ok(admin::ToJson(g));
}

// The reason is required (the four-argument RevokeGrant refuses a blank one); it is recorded
// with the grant.
Result<Reply> RevokeGrant(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(std::string reason, Str(c.body, "reason"));
  GOVESB_ASSIGN_OR_RETURN(
      auto g, c.service.RevokeGrant(c.actor(), c.Path("consumer"), c.Path("api"), reason));
  return Ok(admin::ToJson(g));
}

// As ApproveGrant. A pending request keeps the endpoint it was requested with: an
// endpoint_override given with it is refused rather than silently dropped.
Result<Reply> ApproveSubscription(Context& c) {
  const std::string& subscriber = c.Path("subscriber");
  const std::string& topic = c.Path("topic");
  GOVESB_ASSIGN_OR_RETURN(auto endpoint, OptStr(c.body, "endpoint_override"));
  Result<registry::Subscription> existing = c.service.registry().GetSubscription(subscriber, topic);
  if (existing.ok() && existing->state == registry::kAccessPending) {
    if (endpoint) {
      return InvalidArgument(
          "this subscription was requested with its endpoint: approve the request without"
          " 'endpoint_override', or refuse it with a reason");
    }
    GOVESB_ASSIGN_OR_RETURN(auto s,
                            c.service.ApproveSubscriptionRequest(c.actor(), subscriber, topic));
    return Ok(admin::ToJson(s));
  }
  GOVESB_ASSIGN_OR_RETURN(
      auto s, c.service.ApproveSubscription(c.actor(), subscriber, topic, endpoint.value_or("")));
  return Ok(admin::ToJson(s));
}

Result<Reply> RefuseSubscription(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(std::string reason, Str(c.body, "reason"));
  GOVESB_ASSIGN_OR_RETURN(auto s, c.service.RefuseSubscriptionRequest(
                                      c.actor(), c.Path("subscriber"), c.Path("topic"), reason));
  return Ok(admin::ToJson(s));
}

Result<Reply> RevokeSubscription(Context& c) {
  GOVESB_ASSIGN_OR_RETURN(std::string reason, Str(c.body, "reason"));
  GOVESB_ASSIGN_OR_RETURN(auto s, c.service.RevokeSubscription(c.actor(), c.Path("subscriber"),
                                                               c.Path("topic"), reason));
  return Ok(admin::ToJson(s));
}

}  // namespace govesb::adminapi::internal
