// The onboarding workflows of the admin service layer: institutions renamed, suspended and
// resumed; the catalogue entries of APIs and topics, APIs and topics disabled and enabled;
// membership applications; access requests for APIs and push topics and their decisions.
#include <boost/json/object.hpp>
#include <string>
#include <utility>

#include "admin/policy.h"
#include "admin/render.h"
#include "admin/service.h"
#include "registry/validation.h"

namespace govesb::admin {
namespace {

namespace json = boost::json;

std::string InstitutionObject(std::string_view code) { return "institution:" + std::string(code); }
std::string ApiObject(std::string_view code) { return "api:" + std::string(code); }
std::string TopicObject(std::string_view code) { return "topic:" + std::string(code); }
std::string GrantObject(std::string_view consumer, std::string_view api) {
  return "grant:" + std::string(consumer) + ":" + std::string(api);
}
std::string SubscriptionObject(std::string_view subscriber, std::string_view topic) {
  return "subscription:" + std::string(subscriber) + ":" + std::string(topic);
}
std::string ApplicationObject(int64_t id) { return "application:" + std::to_string(id); }

json::value Json(const registry::Institution& i) { return ToJson(i); }
json::value Json(const registry::Api& a) { return ToJson(a); }
json::value Json(const registry::Topic& t) { return ToJson(t); }
json::value Json(const registry::Grant& g) { return ToJson(g); }
json::value Json(const registry::Subscription& s) { return ToJson(s); }
json::value Json(const registry::MembershipApplication& a) { return ToJson(a); }

}  // namespace

// ---- institutions ----

Result<registry::Institution> AdminService::RenameInstitution(const Actor& actor,
                                                              std::string_view code,
                                                              std::string_view name) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "rename institutions"));
  GOVESB_ASSIGN_OR_RETURN(registry::Institution before, registry_.GetInstitution(code));
  return Mutate<registry::Institution>(
      actor, "institution.rename", InstitutionObject(code), std::string(code), Json(before),
      [&] { return registry_.RenameInstitution(code, name); },
      [](const registry::Institution& i) { return Json(i); });
}

Result<registry::Institution> AdminService::SuspendInstitution(const Actor& actor,
                                                               std::string_view code) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "suspend institutions"));
  GOVESB_ASSIGN_OR_RETURN(registry::Institution before, registry_.GetInstitution(code));
  return Mutate<registry::Institution>(
      actor, "institution.suspend", InstitutionObject(code), std::string(code), Json(before),
      [&] { return registry_.SuspendInstitution(code); },
      [](const registry::Institution& i) { return Json(i); });
}

Result<registry::Institution> AdminService::ResumeInstitution(const Actor& actor,
                                                              std::string_view code) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "resume institutions"));
  GOVESB_ASSIGN_OR_RETURN(registry::Institution before, registry_.GetInstitution(code));
  return Mutate<registry::Institution>(
      actor, "institution.resume", InstitutionObject(code), std::string(code), Json(before),
      [&] { return registry_.ResumeInstitution(code); },
      [](const registry::Institution& i) { return Json(i); });
}

// ---- membership ----

Result<registry::MembershipApplication> AdminService::ApplyForMembership(
    const Actor& actor, const registry::NewApplication& application) {
  // Anyone may apply. Not Mutate: the object's name (its id) is known only once it exists.
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(registry::MembershipApplication created,
                          registry_.SubmitApplication(application));
  const std::string object = ApplicationObject(created.id);
  Change change{.action = "application.submit",
                .object = object,
                .object_institution = created.institution_code,
                .before = nullptr,
                .after = Json(created)};
  GOVESB_RETURN_IF_ERROR(RecordAction(db_, actor, Now(), change).status());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return created;
}

Result<std::vector<registry::MembershipApplication>> AdminService::ListApplications(
    const Actor& actor, std::string_view state) {
  if (actor.role == Role::kInstitutionAdmin) {
    return Denied(actor, "see membership applications");
  }
  return registry_.ListApplications(state);
}

Result<registry::AcceptedApplication> AdminService::AcceptApplication(const Actor& actor,
                                                                      int64_t id) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "accept membership applications"));
  GOVESB_ASSIGN_OR_RETURN(registry::MembershipApplication before, registry_.GetApplication(id));
  return Mutate<registry::AcceptedApplication>(
      actor, "application.accept", ApplicationObject(id), before.institution_code, Json(before),
      [&] { return registry_.AcceptApplication(id, actor.account); },
      [](const registry::AcceptedApplication& a) {
        json::object out = ToJson(a.application);
        out["institution"] = ToJson(a.institution);
        return json::value(std::move(out));
      });
}

Result<registry::MembershipApplication> AdminService::RefuseApplication(const Actor& actor,
                                                                        int64_t id,
                                                                        std::string_view reason) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "refuse membership applications"));
  GOVESB_RETURN_IF_ERROR(RequireReason(reason, "refuse a membership application"));
  GOVESB_ASSIGN_OR_RETURN(registry::MembershipApplication before, registry_.GetApplication(id));
  return Mutate<registry::MembershipApplication>(
      actor, "application.refuse", ApplicationObject(id), before.institution_code, Json(before),
      [&] {
        return registry_.RefuseApplication(
            id, {.decided_by = actor.account, .reason = std::string(reason)});
      },
      [](const registry::MembershipApplication& a) { return Json(a); });
}

// ---- the catalogue ----

Result<registry::Api> AdminService::UpdateApiDescription(
    const Actor& actor, std::string_view code, const registry::ApiDescription& description) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfApi(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "describe this API"));
  GOVESB_ASSIGN_OR_RETURN(registry::Api before, registry_.GetApi(code));
  return Mutate<registry::Api>(
      actor, "api.describe", ApiObject(code), owner, Json(before),
      [&] { return registry_.DescribeApi(code, description); },
      [](const registry::Api& a) { return Json(a); });
}

Result<registry::Api> AdminService::SetApiContract(const Actor& actor, std::string_view code,
                                                   const registry::ApiContract& contract) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfApi(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "publish this API's contract"));
  GOVESB_ASSIGN_OR_RETURN(registry::Api before, registry_.GetApi(code));
  return Mutate<registry::Api>(
      actor, "api.contract", ApiObject(code), owner, Json(before),
      [&] { return registry_.SetApiContract(code, contract); },
      [](const registry::Api& a) { return Json(a); });
}

Result<registry::Api> AdminService::DisableApi(const Actor& actor, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfApi(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "disable this API"));
  GOVESB_ASSIGN_OR_RETURN(registry::Api before, registry_.GetApi(code));
  return Mutate<registry::Api>(
      actor, "api.disable", ApiObject(code), owner, Json(before),
      [&] { return registry_.DisableApi(code); }, [](const registry::Api& a) { return Json(a); });
}

Result<registry::Api> AdminService::EnableApi(const Actor& actor, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfApi(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "enable this API"));
  GOVESB_ASSIGN_OR_RETURN(registry::Api before, registry_.GetApi(code));
  return Mutate<registry::Api>(
      actor, "api.enable", ApiObject(code), owner, Json(before),
      [&] { return registry_.EnableApi(code); }, [](const registry::Api& a) { return Json(a); });
}

Result<registry::Topic> AdminService::UpdateTopicDescription(
    const Actor& actor, std::string_view code, const registry::TopicDescription& description) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfTopic(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "describe this push topic"));
  GOVESB_ASSIGN_OR_RETURN(registry::Topic before, registry_.GetTopic(code));
  return Mutate<registry::Topic>(
      actor, "topic.describe", TopicObject(code), owner, Json(before),
      [&] { return registry_.DescribeTopic(code, description); },
      [](const registry::Topic& t) { return Json(t); });
}

Result<registry::Topic> AdminService::DisableTopic(const Actor& actor, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfTopic(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "disable this push topic"));
  GOVESB_ASSIGN_OR_RETURN(registry::Topic before, registry_.GetTopic(code));
  return Mutate<registry::Topic>(
      actor, "topic.disable", TopicObject(code), owner, Json(before),
      [&] { return registry_.DisableTopic(code); },
      [](const registry::Topic& t) { return Json(t); });
}

Result<registry::Topic> AdminService::EnableTopic(const Actor& actor, std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfTopic(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "enable this push topic"));
  GOVESB_ASSIGN_OR_RETURN(registry::Topic before, registry_.GetTopic(code));
  return Mutate<registry::Topic>(
      actor, "topic.enable", TopicObject(code), owner, Json(before),
      [&] { return registry_.EnableTopic(code); },
      [](const registry::Topic& t) { return Json(t); });
}

// ---- access requests: grants ----

Result<registry::Grant> AdminService::RequestAccess(const Actor& actor,
                                                    std::string_view consumer_client_id,
                                                    std::string_view api_code,
                                                    std::string_view purpose) {
  GOVESB_ASSIGN_OR_RETURN(registry::System consumer, OwnedSystem(consumer_client_id));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, consumer.institution_code, "request access for this system"));
  GOVESB_RETURN_IF_ERROR(InstitutionOfApi(api_code).status());
  return Mutate<registry::Grant>(
      actor, "grant.request", GrantObject(consumer_client_id, api_code), consumer.institution_code,
      nullptr,
      [&] {
        return registry_.RequestGrant(
            consumer_client_id, api_code,
            {.requested_by = actor.account, .purpose = std::string(purpose)});
      },
      [](const registry::Grant& g) { return Json(g); });
}

Result<registry::Grant> AdminService::ApproveRequest(const Actor& actor,
                                                     std::string_view consumer_client_id,
                                                     std::string_view api_code) {
  GOVESB_ASSIGN_OR_RETURN(std::string provider_owner, InstitutionOfApi(api_code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, provider_owner, "approve access to this API"));
  GOVESB_ASSIGN_OR_RETURN(registry::System consumer, OwnedSystem(consumer_client_id));
  GOVESB_ASSIGN_OR_RETURN(registry::Grant before, registry_.GetGrant(consumer_client_id, api_code));
  return Mutate<registry::Grant>(
      actor, "grant.approve-request", GrantObject(consumer_client_id, api_code),
      consumer.institution_code, Json(before),
      [&] {
        return registry_.ApproveGrantRequest(consumer_client_id, api_code,
                                             {.decided_by = actor.account});
      },
      [](const registry::Grant& g) { return Json(g); });
}

Result<registry::Grant> AdminService::RefuseRequest(const Actor& actor,
                                                    std::string_view consumer_client_id,
                                                    std::string_view api_code,
                                                    std::string_view reason) {
  GOVESB_RETURN_IF_ERROR(RequireReason(reason, "refuse a request"));
  GOVESB_ASSIGN_OR_RETURN(std::string provider_owner, InstitutionOfApi(api_code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, provider_owner, "refuse access to this API"));
  GOVESB_ASSIGN_OR_RETURN(registry::System consumer, OwnedSystem(consumer_client_id));
  GOVESB_ASSIGN_OR_RETURN(registry::Grant before, registry_.GetGrant(consumer_client_id, api_code));
  return Mutate<registry::Grant>(
      actor, "grant.refuse", GrantObject(consumer_client_id, api_code), consumer.institution_code,
      Json(before),
      [&] {
        return registry_.RefuseGrantRequest(
            consumer_client_id, api_code,
            {.decided_by = actor.account, .reason = std::string(reason)});
      },
      [](const registry::Grant& g) { return Json(g); });
}

Result<AccessRequests> AdminService::ListAccessRequests(const Actor& actor,
                                                        std::string_view state) {
  GOVESB_RETURN_IF_ERROR(registry::ValidateAccessState(state));
  // ListGrants / ListSubscriptions already keep an institution-admin to its own side of each.
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Grant> grants, ListGrants(actor));
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Subscription> subscriptions,
                          ListSubscriptions(actor));
  AccessRequests out;
  for (registry::Grant& g : grants) {
    if (state.empty() || g.state == state) out.grants.push_back(std::move(g));
  }
  for (registry::Subscription& s : subscriptions) {
    if (state.empty() || s.state == state) out.subscriptions.push_back(std::move(s));
  }
  return out;
}

// ---- access requests: subscriptions ----

Result<registry::Subscription> AdminService::RequestSubscription(
    const Actor& actor, std::string_view subscriber_client_id, std::string_view topic_code,
    std::string_view purpose, std::string_view endpoint_override) {
  GOVESB_ASSIGN_OR_RETURN(registry::System subscriber, OwnedSystem(subscriber_client_id));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, subscriber.institution_code, "request a subscription for this system"));
  GOVESB_RETURN_IF_ERROR(InstitutionOfTopic(topic_code).status());
  return Mutate<registry::Subscription>(
      actor, "subscription.request", SubscriptionObject(subscriber_client_id, topic_code),
      subscriber.institution_code, nullptr,
      [&] {
        return registry_.RequestSubscription(
            subscriber_client_id, topic_code,
            {.requested_by = actor.account, .purpose = std::string(purpose)}, endpoint_override);
      },
      [](const registry::Subscription& s) { return Json(s); });
}

Result<registry::Subscription> AdminService::ApproveSubscriptionRequest(
    const Actor& actor, std::string_view subscriber_client_id, std::string_view topic_code) {
  GOVESB_ASSIGN_OR_RETURN(std::string publisher_owner, InstitutionOfTopic(topic_code));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, publisher_owner, "approve subscriptions to this topic"));
  GOVESB_ASSIGN_OR_RETURN(registry::System subscriber, OwnedSystem(subscriber_client_id));
  GOVESB_ASSIGN_OR_RETURN(registry::Subscription before,
                          registry_.GetSubscription(subscriber_client_id, topic_code));
  return Mutate<registry::Subscription>(
      actor, "subscription.approve-request", SubscriptionObject(subscriber_client_id, topic_code),
      subscriber.institution_code, Json(before),
      [&] {
        return registry_.ApproveSubscriptionRequest(subscriber_client_id, topic_code,
                                                    {.decided_by = actor.account});
      },
      [](const registry::Subscription& s) { return Json(s); });
}

Result<registry::Subscription> AdminService::RefuseSubscriptionRequest(
    const Actor& actor, std::string_view subscriber_client_id, std::string_view topic_code,
    std::string_view reason) {
  GOVESB_RETURN_IF_ERROR(RequireReason(reason, "refuse a request"));
  GOVESB_ASSIGN_OR_RETURN(std::string publisher_owner, InstitutionOfTopic(topic_code));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, publisher_owner, "refuse subscriptions to this topic"));
  GOVESB_ASSIGN_OR_RETURN(registry::System subscriber, OwnedSystem(subscriber_client_id));
  GOVESB_ASSIGN_OR_RETURN(registry::Subscription before,
                          registry_.GetSubscription(subscriber_client_id, topic_code));
  return Mutate<registry::Subscription>(
      actor, "subscription.refuse", SubscriptionObject(subscriber_client_id, topic_code),
      subscriber.institution_code, Json(before),
      [&] {
        return registry_.RefuseSubscriptionRequest(
            subscriber_client_id, topic_code,
            {.decided_by = actor.account, .reason = std::string(reason)});
      },
      [](const registry::Subscription& s) { return Json(s); });
}

}  // namespace govesb::admin
