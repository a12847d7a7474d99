#include "admin/service.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <unordered_set>
#include <utility>

#include "admin/policy.h"
#include "admin/render.h"
#include "evidence/log.h"
#include "evidence/pg_store.h"
#include "evidence/sqlite_store.h"

namespace govesb::admin {
namespace {

namespace json = boost::json;

std::string SystemObject(std::string_view client_id) { return "system:" + std::string(client_id); }

// The service's own evidence store when none is given: the embedded adapter over `db`
// (SQLite), or a reading store of the cluster's (PostgreSQL), or why there is none.
Result<std::unique_ptr<evidence::EvidenceStore>> OwnEvidenceStore(store::Database& db,
                                                                  ServiceOptions& options) {
  if (db.backend() == store::Backend::kSqlite) {
    return std::unique_ptr<evidence::EvidenceStore>(evidence::SqliteEvidenceStore::OverConnection(
        db, {.archive_dir = std::move(options.evidence_archive_dir)}));
  }
  if (options.postgres_conninfo.empty()) {
    return FailedPrecondition(
        "the evidence log is not available here: no PostgreSQL connection string was given for "
        "it");
  }
  auto opened = evidence::PgEvidenceStore::OpenForReading(options.postgres_conninfo);
  if (!opened.ok()) {
    return FailedPrecondition("the evidence log is not available here: " +
                              opened.status().message());
  }
  return std::unique_ptr<evidence::EvidenceStore>(std::move(opened).value());
}

}  // namespace

Status MigrateAll(store::Database& db) {
  GOVESB_RETURN_IF_ERROR(registry::Registry::Migrate(db));
  GOVESB_RETURN_IF_ERROR(evidence::MigrateEvidenceStore(db));
  GOVESB_RETURN_IF_ERROR(delivery::MigrateDeliveryStore(db));
  GOVESB_RETURN_IF_ERROR(traffic::MigrateTrafficStore(db));
  return MigrateAdminStore(db);
}

AdminService::AdminService(store::Database& db, ServiceOptions options)
    : db_(db),
      clock_(options.clock != nullptr ? options.clock : &DefaultClock()),
      registry_(db, registry::RegistryOptions{.clock = clock_,
                                              .hash_secret = std::move(options.hash_secret)}),
      evidence_(options.evidence),
      bus_key_(std::move(options.bus_key)),
      bus_key_ring_(std::move(options.bus_key_ring)),
      signer_(options.signer),
      bus_(std::move(options.bus)),
      deliveries_(db) {
  if (evidence_ != nullptr) return;
  auto own = OwnEvidenceStore(db, options);
  if (!own.ok()) {
    evidence_missing_ = own.status();
    return;
  }
  own_evidence_ = std::move(own).value();
  evidence_ = own_evidence_.get();
}

Result<evidence::EvidenceStore*> AdminService::Evidence() {
  if (evidence_ == nullptr) return evidence_missing_;
  return evidence_;
}

int64_t AdminService::Now() const { return clock_->NowMillis(); }

Result<registry::System> AdminService::OwnedSystem(std::string_view client_id) {
  return registry_.GetSystem(client_id);
}

Result<std::string> AdminService::InstitutionOfApi(std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(registry::Api api, registry_.GetApi(code));
  GOVESB_ASSIGN_OR_RETURN(registry::System provider, registry_.GetSystem(api.provider_client_id));
  return provider.institution_code;
}

Result<std::string> AdminService::InstitutionOfTopic(std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(registry::Topic topic, registry_.GetTopic(code));
  GOVESB_ASSIGN_OR_RETURN(registry::System publisher,
                          registry_.GetSystem(topic.publisher_client_id));
  return publisher.institution_code;
}

Result<std::string> AdminService::InstitutionOfDelivery(int64_t delivery_id) {
  GOVESB_ASSIGN_OR_RETURN(auto found, deliveries_.List({.id = delivery_id}));
  if (found.empty()) return NotFound("no delivery " + std::to_string(delivery_id));
  GOVESB_ASSIGN_OR_RETURN(registry::System recipient,
                          registry_.GetSystem(found.front().target_client_id));
  return recipient.institution_code;
}

// ---- institutions ----

Result<registry::Institution> AdminService::AddInstitution(const Actor& actor,
                                                           std::string_view code,
                                                           std::string_view name) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "add institutions"));
  return Mutate<registry::Institution>(
      actor, "institution.add", "institution:" + std::string(code), std::string(code), nullptr,
      [&] { return registry_.AddInstitution(code, name); },
      [](const registry::Institution& i) { return json::value(ToJson(i)); });
}

Result<std::vector<registry::Institution>> AdminService::ListInstitutions(const Actor&) {
  return registry_.ListInstitutions();  // names and codes are public within the bus
}

// ---- systems ----

Result<registry::NewSystem> AdminService::AddSystem(const Actor& actor,
                                                    std::string_view institution_code,
                                                    std::string_view name,
                                                    std::string_view public_key_text,
                                                    std::string_view endpoint) {
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, institution_code, "register a system"));
  // Not Mutate: the object's name (its client_id) is known only once it exists.
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(registry::NewSystem created,
                          registry_.AddSystem(institution_code, name, public_key_text, endpoint));
  const std::string object = SystemObject(created.system.client_id);
  Change change{.action = "system.add",
                .object = object,
                .object_institution = institution_code,
                .before = nullptr,
                .after = ToJson(created.system)};
  GOVESB_RETURN_IF_ERROR(RecordAction(db_, actor, Now(), change).status());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return created;
}

Result<AdminService::OwnSystems> AdminService::OwnSystemsOf(const Actor& actor) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::System> systems, ListSystems(actor));
  OwnSystems own;
  for (const registry::System& system : systems) {
    own.ids.insert(system.id);
    own.client_ids.insert(system.client_id);
  }
  return own;
}

Result<std::vector<registry::System>> AdminService::ListSystems(const Actor& actor) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::System> all, registry_.ListSystems());
  if (actor.role != Role::kInstitutionAdmin) return all;
  std::vector<registry::System> own;
  for (registry::System& s : all) {
    if (IsAdminOf(actor, s.institution_code)) own.push_back(std::move(s));
  }
  return own;
}

Result<registry::System> AdminService::GetSystem(const Actor& actor, std::string_view client_id) {
  GOVESB_ASSIGN_OR_RETURN(registry::System system, OwnedSystem(client_id));
  if (!MaySee(actor, system.institution_code)) {
    return PermissionDenied("system " + std::string(client_id) + " belongs to another institution");
  }
  return system;
}

Result<registry::System> AdminService::DisableSystem(const Actor& actor,
                                                     std::string_view client_id) {
  GOVESB_ASSIGN_OR_RETURN(registry::System before, OwnedSystem(client_id));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, before.institution_code, "disable this system"));
  return Mutate<registry::System>(
      actor, "system.disable", SystemObject(client_id), before.institution_code, ToJson(before),
      [&] { return registry_.DisableSystem(client_id); },
      [](const registry::System& s) { return json::value(ToJson(s)); });
}

Result<registry::System> AdminService::EnableSystem(const Actor& actor,
                                                    std::string_view client_id) {
  GOVESB_ASSIGN_OR_RETURN(registry::System before, OwnedSystem(client_id));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, before.institution_code, "enable this system"));
  return Mutate<registry::System>(
      actor, "system.enable", SystemObject(client_id), before.institution_code, ToJson(before),
      [&] { return registry_.EnableSystem(client_id); },
      [](const registry::System& s) { return json::value(ToJson(s)); });
}

Result<std::string> AdminService::RotateSecret(const Actor& actor, std::string_view client_id) {
  GOVESB_ASSIGN_OR_RETURN(registry::System before, OwnedSystem(client_id));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, before.institution_code, "rotate this system's secret"));
  // The record says that the secret changed (the credential version), never the secret.
  return Mutate<std::string>(
      actor, "system.rotate-secret", SystemObject(client_id), before.institution_code,
      ToJson(before), [&] { return registry_.RotateSecret(client_id); },
      [&](const std::string&) -> json::value {
        Result<registry::System> after = registry_.GetSystem(client_id);
        return after.ok() ? json::value(ToJson(*after)) : json::value(nullptr);
      });
}

Result<registry::System> AdminService::UpdateSystem(const Actor& actor, std::string_view client_id,
                                                    const registry::SystemUpdate& update) {
  GOVESB_ASSIGN_OR_RETURN(registry::System before, OwnedSystem(client_id));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, before.institution_code, "change this system"));
  return Mutate<registry::System>(
      actor, "system.update", SystemObject(client_id), before.institution_code, ToJson(before),
      [&] { return registry_.UpdateSystem(client_id, update); },
      [](const registry::System& s) { return json::value(ToJson(s)); });
}

Result<registry::System> AdminService::SetSystemRateLimit(const Actor& actor,
                                                          std::string_view client_id,
                                                          const registry::RateLimitUpdate& update) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "set rate limits"));
  GOVESB_ASSIGN_OR_RETURN(registry::System before, OwnedSystem(client_id));
  return Mutate<registry::System>(
      actor, "system.limits", SystemObject(client_id), before.institution_code, ToJson(before),
      [&] { return registry_.SetSystemRateLimit(client_id, update); },
      [](const registry::System& s) { return json::value(ToJson(s)); });
}

Result<registry::System> AdminService::SetSignatureFallbacks(const Actor& actor,
                                                             std::string_view client_id,
                                                             bool allowed) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "change signature fallbacks"));
  GOVESB_ASSIGN_OR_RETURN(registry::System before, OwnedSystem(client_id));
  return Mutate<registry::System>(
      actor, "system.fallbacks", SystemObject(client_id), before.institution_code, ToJson(before),
      [&] { return registry_.SetSignatureFallbacks(client_id, allowed); },
      [](const registry::System& s) { return json::value(ToJson(s)); });
}

Result<registry::System> AdminService::SetSerialisation(const Actor& actor,
                                                        std::string_view client_id,
                                                        std::string_view setting) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "change how the bus serialises for a system"));
  GOVESB_ASSIGN_OR_RETURN(registry::System before, OwnedSystem(client_id));
  return Mutate<registry::System>(
      actor, "system.serialisation", SystemObject(client_id), before.institution_code,
      ToJson(before), [&] { return registry_.SetSerialisation(client_id, setting); },
      [](const registry::System& s) { return json::value(ToJson(s)); });
}

Result<std::vector<registry::SignatureUsage>> AdminService::ListSignatureUsage(
    const Actor& actor, std::string_view client_id) {
  if (!client_id.empty()) {
    GOVESB_RETURN_IF_ERROR(GetSystem(actor, client_id).status());
    return registry_.ListSignatureUsage(client_id);
  }
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::SignatureUsage> all,
                          registry_.ListSignatureUsage());
  if (actor.role != Role::kInstitutionAdmin) return all;
  GOVESB_ASSIGN_OR_RETURN(OwnSystems own, OwnSystemsOf(actor));
  std::vector<registry::SignatureUsage> out;
  for (registry::SignatureUsage& u : all) {
    if (own.ids.contains(u.system_id)) out.push_back(std::move(u));
  }
  return out;
}

// ---- APIs ----

Result<registry::Api> AdminService::AddApi(const Actor& actor, std::string_view provider_client_id,
                                           std::string_view code,
                                           const registry::ApiSettings& settings) {
  GOVESB_ASSIGN_OR_RETURN(registry::System provider, OwnedSystem(provider_client_id));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, provider.institution_code, "publish an API of this system"));
  if (actor.role != Role::kOperator && settings.store_bodies) {
    return PermissionDenied(
        "only the operator may have the evidence log keep an API's bodies (store_bodies)");
  }
  if (actor.role != Role::kOperator && (settings.rate_per_second != registry::kRateDefault ||
                                        settings.rate_burst != registry::kRateDefault)) {
    return PermissionDenied("only the operator may set an API's rate limit");
  }
  return Mutate<registry::Api>(
      actor, "api.add", "api:" + std::string(code), provider.institution_code, nullptr,
      [&] { return registry_.AddApi(provider_client_id, code, settings); },
      [](const registry::Api& a) { return json::value(ToJson(a)); });
}

Result<std::vector<registry::Api>> AdminService::ListApis(const Actor&) {
  return registry_.ListApis();
}

Result<registry::Api> AdminService::GetApi(const Actor&, std::string_view code) {
  return registry_.GetApi(code);
}

Result<registry::Api> AdminService::SetApiStoreBodies(const Actor& actor, std::string_view code,
                                                      bool on) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "change what the evidence log keeps"));
  GOVESB_ASSIGN_OR_RETURN(registry::Api before, registry_.GetApi(code));
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfApi(code));
  return Mutate<registry::Api>(
      actor, "api.store-bodies", "api:" + std::string(code), owner, ToJson(before),
      [&] { return registry_.SetApiStoreBodies(code, on); },
      [](const registry::Api& a) { return json::value(ToJson(a)); });
}

Result<registry::Api> AdminService::SetApiRateLimit(const Actor& actor, std::string_view code,
                                                    const registry::RateLimitUpdate& update) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "set rate limits"));
  GOVESB_ASSIGN_OR_RETURN(registry::Api before, registry_.GetApi(code));
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfApi(code));
  return Mutate<registry::Api>(
      actor, "api.limits", "api:" + std::string(code), owner, ToJson(before),
      [&] { return registry_.SetApiRateLimit(code, update); },
      [](const registry::Api& a) { return json::value(ToJson(a)); });
}

Result<registry::Api> AdminService::SetApiReplayPolicy(const Actor& actor, std::string_view code,
                                                       registry::ReplayPolicy policy) {
  GOVESB_ASSIGN_OR_RETURN(registry::Api before, registry_.GetApi(code));
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfApi(code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "change this API's replay policy"));
  return Mutate<registry::Api>(
      actor, "api.replay", "api:" + std::string(code), owner, ToJson(before),
      [&] { return registry_.SetApiReplayPolicy(code, policy); },
      [](const registry::Api& a) { return json::value(ToJson(a)); });
}

// ---- grants ----

Result<registry::Grant> AdminService::ApproveGrant(const Actor& actor,
                                                   std::string_view consumer_client_id,
                                                   std::string_view api_code) {
  GOVESB_ASSIGN_OR_RETURN(std::string provider_owner, InstitutionOfApi(api_code));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, provider_owner, "approve access to this API"));
  GOVESB_ASSIGN_OR_RETURN(registry::System consumer, OwnedSystem(consumer_client_id));
  return Mutate<registry::Grant>(
      actor, "grant.approve",
      "grant:" + std::string(consumer_client_id) + ":" + std::string(api_code),
      consumer.institution_code, nullptr,
      [&] {
        return registry_.AddGrant(consumer_client_id, api_code, {.decided_by = actor.account});
      },
      [](const registry::Grant& g) { return json::value(ToJson(g)); });
}

Result<registry::Grant> AdminService::SetGrantPurposes(
    const Actor& actor, std::string_view consumer_client_id, std::string_view api_code,
    const std::vector<registry::Purpose>& purposes, bool required) {
  GOVESB_ASSIGN_OR_RETURN(std::string provider_owner, InstitutionOfApi(api_code));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, provider_owner, "set the purposes of access to this API"));
  GOVESB_ASSIGN_OR_RETURN(registry::System consumer, OwnedSystem(consumer_client_id));
  return Mutate<registry::Grant>(
      actor, "grant.purposes",
      "grant:" + std::string(consumer_client_id) + ":" + std::string(api_code),
      consumer.institution_code, nullptr,
      [&] { return registry_.SetGrantPurposes(consumer_client_id, api_code, purposes, required); },
      [](const registry::Grant& g) { return json::value(ToJson(g)); });
}

Result<registry::Grant> AdminService::SetGrantFields(const Actor& actor,
                                                     std::string_view consumer_client_id,
                                                     std::string_view api_code,
                                                     const std::vector<std::string>& fields) {
  GOVESB_ASSIGN_OR_RETURN(std::string provider_owner, InstitutionOfApi(api_code));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, provider_owner, "set the fields a consumer of this API receives"));
  GOVESB_ASSIGN_OR_RETURN(registry::System consumer, OwnedSystem(consumer_client_id));
  return Mutate<registry::Grant>(
      actor, "grant.fields",
      "grant:" + std::string(consumer_client_id) + ":" + std::string(api_code),
      consumer.institution_code, nullptr,
      [&] { return registry_.SetGrantFields(consumer_client_id, api_code, fields); },
      [](const registry::Grant& g) { return json::value(ToJson(g)); });
}

Result<registry::Grant> AdminService::RevokeGrant(const Actor& actor,
                                                  std::string_view consumer_client_id,
                                                  std::string_view api_code) {
  return RevokeGrant(actor, consumer_client_id, api_code,
                     actor.via == "cli" ? kCliRevokeReason : kNoStatedReason);
}

Result<registry::Grant> AdminService::RevokeGrant(const Actor& actor,
                                                  std::string_view consumer_client_id,
                                                  std::string_view api_code,
                                                  std::string_view reason) {
  GOVESB_RETURN_IF_ERROR(RequireReason(reason, "revoke access"));
  GOVESB_ASSIGN_OR_RETURN(std::string provider_owner, InstitutionOfApi(api_code));
  GOVESB_ASSIGN_OR_RETURN(registry::System consumer, OwnedSystem(consumer_client_id));
  if (!IsAdminOf(actor, consumer.institution_code)) {
    GOVESB_RETURN_IF_ERROR(RequireOwner(actor, provider_owner, "revoke access to this API"));
  }
  return Mutate<registry::Grant>(
      actor, "grant.revoke",
      "grant:" + std::string(consumer_client_id) + ":" + std::string(api_code),
      consumer.institution_code, nullptr,
      [&] {
        return registry_.RevokeGrant(consumer_client_id, api_code,
                                     {.decided_by = actor.account, .reason = std::string(reason)});
      },
      [](const registry::Grant& g) { return json::value(ToJson(g)); });
}

Result<std::vector<registry::Grant>> AdminService::ListGrants(const Actor& actor) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Grant> all, registry_.ListGrants());
  if (actor.role != Role::kInstitutionAdmin) return all;
  GOVESB_ASSIGN_OR_RETURN(OwnSystems own, OwnSystemsOf(actor));
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Api> apis, registry_.ListApis());
  std::unordered_set<std::string> own_apis;
  for (const registry::Api& a : apis) {
    if (own.client_ids.contains(a.provider_client_id)) own_apis.insert(a.code);
  }
  std::vector<registry::Grant> out;
  for (registry::Grant& g : all) {
    if (own.client_ids.contains(g.consumer_client_id) || own_apis.contains(g.api_code)) {
      out.push_back(std::move(g));
    }
  }
  return out;
}

// ---- topics and subscriptions ----

Result<registry::Topic> AdminService::AddTopic(const Actor& actor,
                                               std::string_view publisher_client_id,
                                               std::string_view code) {
  GOVESB_ASSIGN_OR_RETURN(registry::System publisher, OwnedSystem(publisher_client_id));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, publisher.institution_code, "add a push topic of this system"));
  return Mutate<registry::Topic>(
      actor, "topic.add", "topic:" + std::string(code), publisher.institution_code, nullptr,
      [&] { return registry_.AddTopic(publisher_client_id, code); },
      [](const registry::Topic& t) { return json::value(ToJson(t)); });
}

Result<std::vector<registry::Topic>> AdminService::ListTopics(const Actor&) {
  return registry_.ListTopics();
}

Result<registry::Subscription> AdminService::ApproveSubscription(
    const Actor& actor, std::string_view subscriber_client_id, std::string_view topic_code,
    std::string_view endpoint_override) {
  GOVESB_ASSIGN_OR_RETURN(std::string publisher_owner, InstitutionOfTopic(topic_code));
  GOVESB_RETURN_IF_ERROR(
      RequireOwner(actor, publisher_owner, "approve subscriptions to this topic"));
  GOVESB_ASSIGN_OR_RETURN(registry::System subscriber, OwnedSystem(subscriber_client_id));
  return Mutate<registry::Subscription>(
      actor, "subscription.approve",
      "subscription:" + std::string(subscriber_client_id) + ":" + std::string(topic_code),
      subscriber.institution_code, nullptr,
      [&] {
        return registry_.AddSubscription(subscriber_client_id, topic_code, endpoint_override,
                                         {.decided_by = actor.account});
      },
      [](const registry::Subscription& s) { return json::value(ToJson(s)); });
}

Result<registry::Subscription> AdminService::RevokeSubscription(
    const Actor& actor, std::string_view subscriber_client_id, std::string_view topic_code) {
  return RevokeSubscription(actor, subscriber_client_id, topic_code,
                            actor.via == "cli" ? kCliRevokeReason : kNoStatedReason);
}

Result<registry::Subscription> AdminService::RevokeSubscription(
    const Actor& actor, std::string_view subscriber_client_id, std::string_view topic_code,
    std::string_view reason) {
  GOVESB_RETURN_IF_ERROR(RequireReason(reason, "revoke a subscription"));
  GOVESB_ASSIGN_OR_RETURN(std::string publisher_owner, InstitutionOfTopic(topic_code));
  GOVESB_ASSIGN_OR_RETURN(registry::System subscriber, OwnedSystem(subscriber_client_id));
  if (!IsAdminOf(actor, subscriber.institution_code)) {
    GOVESB_RETURN_IF_ERROR(
        RequireOwner(actor, publisher_owner, "revoke subscriptions to this topic"));
  }
  return Mutate<registry::Subscription>(
      actor, "subscription.revoke",
      "subscription:" + std::string(subscriber_client_id) + ":" + std::string(topic_code),
      subscriber.institution_code, nullptr,
      [&] {
        return registry_.RevokeSubscription(
            subscriber_client_id, topic_code,
            {.decided_by = actor.account, .reason = std::string(reason)});
      },
      [](const registry::Subscription& s) { return json::value(ToJson(s)); });
}

Result<std::vector<registry::Subscription>> AdminService::ListSubscriptions(const Actor& actor) {
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Subscription> all, registry_.ListSubscriptions());
  if (actor.role != Role::kInstitutionAdmin) return all;
  GOVESB_ASSIGN_OR_RETURN(OwnSystems own, OwnSystemsOf(actor));
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Topic> topics, registry_.ListTopics());
  std::unordered_set<std::string> own_topics;
  for (const registry::Topic& t : topics) {
    if (own.client_ids.contains(t.publisher_client_id)) own_topics.insert(t.code);
  }
  std::vector<registry::Subscription> out;
  for (registry::Subscription& sub : all) {
    if (own.client_ids.contains(sub.subscriber_client_id) || own_topics.contains(sub.topic_code)) {
      out.push_back(std::move(sub));
    }
  }
  return out;
}

// ---- deliveries ----

Result<std::vector<delivery::DeliveryInfo>> AdminService::ListDeliveries(
    const Actor& actor, const delivery::DeliveryFilter& f) {
  delivery::DeliveryFilter filter = f;
  if (filter.limit == 0 || filter.limit > 10'000'000) {
    return InvalidArgument("limit must be 1 to 10000000");
  }
  if (actor.role == Role::kInstitutionAdmin) filter.recipient_institution = actor.institution;
  return deliveries_.List(filter);
}

Result<std::vector<delivery::Attempt>> AdminService::ListAttempts(const Actor& actor,
                                                                  int64_t delivery_id) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfDelivery(delivery_id));
  if (!MaySee(actor, owner)) {
    return PermissionDenied("delivery " + std::to_string(delivery_id) +
                            " goes to another institution");
  }
  return deliveries_.Attempts(delivery_id);
}

Status AdminService::Redeliver(const Actor& actor, int64_t delivery_id) {
  GOVESB_ASSIGN_OR_RETURN(std::string owner, InstitutionOfDelivery(delivery_id));
  GOVESB_RETURN_IF_ERROR(RequireOwner(actor, owner, "redeliver this delivery"));
  GOVESB_ASSIGN_OR_RETURN(auto before, deliveries_.List({.id = delivery_id}));
  // The state after is read inside the change, so a failed read fails the change (on
  // PostgreSQL it would leave the transaction aborted for the action's record).
  using After = std::vector<delivery::DeliveryInfo>;
  Result<After> done = Mutate<After>(
      actor, "delivery.redeliver", "delivery:" + std::to_string(delivery_id), owner,
      before.empty() ? json::value(nullptr) : json::value(ToJson(before.front())),
      [&]() -> Result<After> {
        GOVESB_RETURN_IF_ERROR(deliveries_.Redeliver(delivery_id, Now()));
        return deliveries_.List({.id = delivery_id});
      },
      [](const After& after) -> json::value {
        return after.empty() ? json::value(nullptr) : json::value(ToJson(after.front()));
      });
  return done.status();
}

Result<int64_t> AdminService::RedeliverAllDead(const Actor& actor, std::string_view code) {
  GOVESB_RETURN_IF_ERROR(RequireOperator(actor, "redeliver every dead delivery"));
  return Mutate<int64_t>(
      actor, "delivery.redeliver-dead", "deliveries:" + std::string(code.empty() ? "*" : code), "",
      nullptr, [&] { return deliveries_.RedeliverAllDead(code, Now()); },
      [](int64_t n) {
        json::object out;
        out["redelivered"] = n;
        return json::value(std::move(out));
      });
}

// ---- evidence and traffic ----

Result<bool> AdminService::RestrictToOwnSystems(const Actor& actor,
                                                std::vector<std::string>& systems) {
  if (actor.role != Role::kInstitutionAdmin) return true;
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::System> own, ListSystems(actor));
  std::vector<std::string> allowed;
  for (const registry::System& s : own) {
    const bool asked =
        systems.empty() || std::find(systems.begin(), systems.end(), s.client_id) != systems.end();
    if (asked) allowed.push_back(s.client_id);
  }
  systems = std::move(allowed);
  return !systems.empty();
}

Result<evidence::SearchPage> AdminService::SearchEvidence(const Actor& actor,
                                                          evidence::SearchFilter filter) {
  GOVESB_ASSIGN_OR_RETURN(bool any, RestrictToOwnSystems(actor, filter.systems));
  if (!any) return evidence::SearchPage{};
  GOVESB_ASSIGN_OR_RETURN(evidence::EvidenceStore * store, Evidence());
  return store->Search(filter);
}

Result<delivery::QueueCounts> AdminService::CountOpenDeliveries(const Actor& actor) {
  if (actor.role != Role::kInstitutionAdmin) return deliveries_.CountOpen();
  if (actor.institution.empty()) return delivery::QueueCounts{};  // sees no system
  return deliveries_.CountOpen(actor.institution);
}

Result<std::string> AdminService::ExchangeProof(const Actor& actor, std::string_view request_id) {
  std::optional<crypto::KeySet> keys = BusKeys();
  if (!keys) return FailedPrecondition("proofs are not available here: no bus key");
  if (actor.role == Role::kInstitutionAdmin) {
    evidence::SearchFilter f;
    f.request_id = std::string(request_id);
    f.page_size = 1;
    GOVESB_ASSIGN_OR_RETURN(evidence::SearchPage page, SearchEvidence(actor, f));
    if (page.records.empty()) {
      return NotFound("no exchange " + std::string(request_id) + " of your institution's systems");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(evidence::EvidenceStore * store, Evidence());
  return store->BuildProof(request_id, *keys);
}

Result<evidence::VerifyReport> AdminService::VerifyEvidence(const Actor& actor) {
  if (actor.role == Role::kInstitutionAdmin) return Denied(actor, "verify the whole evidence log");
  std::optional<crypto::KeySet> keys = BusKeys();
  if (!keys) return FailedPrecondition("verification is not available here: no bus key");
  GOVESB_ASSIGN_OR_RETURN(evidence::EvidenceStore * store, Evidence());
  return store->Verify(*keys);
}

Result<std::vector<traffic::Point>> AdminService::TrafficSeries(const Actor& actor,
                                                                traffic::SeriesFilter filter) {
  GOVESB_ASSIGN_OR_RETURN(bool any, RestrictToOwnSystems(actor, filter.systems));
  if (!any) filter.systems = {"-"};  // no system has this id: every step empty
  return traffic::Series(db_, filter);
}

Result<std::vector<traffic::TotalsRow>> AdminService::TrafficTotals(const Actor& actor,
                                                                    traffic::SeriesFilter filter,
                                                                    traffic::GroupBy by,
                                                                    size_t limit) {
  GOVESB_ASSIGN_OR_RETURN(bool any, RestrictToOwnSystems(actor, filter.systems));
  if (!any) return std::vector<traffic::TotalsRow>{};
  return traffic::Totals(db_, filter, by, limit);
}

// ---- actions ----

Result<std::vector<ActionRecord>> AdminService::ListActions(const Actor& actor,
                                                            ActionFilter filter) {
  if (actor.role == Role::kInstitutionAdmin) filter.institution = actor.institution;
  return admin::ListActions(db_, filter);
}

}  // namespace govesb::admin
