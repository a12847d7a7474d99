#include "registry/snapshot.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace govesb::registry {
namespace {

// One schema of an API's contract: the compiled schema of `previous` when its text is the same,
// else compiled now. "" when there is none.
std::shared_ptr<const schema::Schema> CompileContractSchema(
    const std::string& text, const std::shared_ptr<const schema::Schema>& previous,
    std::string_view what, Api& api) {
  if (text.empty()) return nullptr;
  if (previous != nullptr && previous->text() == text) return previous;
  Result<std::shared_ptr<const schema::Schema>> compiled = schema::Schema::Compile(text);
  if (compiled.ok()) return *compiled;
  // Fail closed for this API only: its exchanges are refused until the contract is published
  // again.
  api.contract_error = std::string(what) + ": " + compiled.status().message();
  spdlog::warn("registry: the stored contract of API {} does not compile: {}", api.code,
               api.contract_error);
  return nullptr;
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> Snapshot::Load(RegistryStore& store,
                                                       const Snapshot* previous) {
  GOVESB_ASSIGN_OR_RETURN(RegistryRows rows, store.ReadSnapshotRows());
  return Build(std::move(rows), previous);
}

std::shared_ptr<const Snapshot> Snapshot::Build(RegistryRows rows, const Snapshot* previous) {
  auto snapshot = std::make_shared<Snapshot>(PrivateTag{});

  snapshot->institutions_.reserve(rows.institutions.size());
  for (Institution& institution : rows.institutions) {
    std::string key = institution.code;
    snapshot->institutions_.emplace(std::move(key), std::move(institution));
  }

  snapshot->systems_.reserve(rows.systems.size());
  snapshot->systems_by_id_.reserve(rows.systems.size());
  for (System& system : rows.systems) {
    const System* old = previous != nullptr ? previous->FindSystem(system.client_id) : nullptr;
    if (old != nullptr && old->public_key.has_value() &&
        old->public_key_b64 == system.public_key_b64) {
      system.public_key = old->public_key;
      system.curve = old->public_key->curve();
    } else {
      system.public_key.reset();
      Result<crypto::PublicKey> key = crypto::PublicKey::FromText(system.public_key_b64);
      if (key.ok()) {
        system.curve = key->curve();
        system.public_key = std::move(key).value();
      } else {
        // Fail closed for this system only: nothing it signs will verify.
        spdlog::warn("registry: the stored public key of system {} does not parse: {}",
                     system.client_id, key.status().message());
      }
    }
    // A suspended institution's systems are refused like disabled ones, everywhere the request
    // path and the delivery workers check System::enabled.
    if (system.institution_suspended) system.enabled = false;
    if (system.enabled) ++snapshot->enabled_system_count_;
    std::string key = system.client_id;
    auto [it, inserted] = snapshot->systems_.emplace(std::move(key), std::move(system));
    snapshot->systems_by_id_.emplace(it->second.id, &it->second);
  }

  snapshot->apis_.reserve(rows.apis.size());
  for (Api& api : rows.apis) {
    const Api* old = previous != nullptr ? previous->FindApi(api.code) : nullptr;
    api.request_contract =
        CompileContractSchema(api.request_schema, old != nullptr ? old->request_contract : nullptr,
                              "the request schema", api);
    api.response_contract = CompileContractSchema(api.response_schema,
                                                  old != nullptr ? old->response_contract : nullptr,
                                                  "the response schema", api);
    // The compiled schemas hold their texts: no second copy in every snapshot.
    api.request_schema.clear();
    api.response_schema.clear();
    std::string key = api.code;
    snapshot->apis_.emplace(std::move(key), std::move(api));
  }

  for (const Grant& grant : rows.grants) {
    if (grant.state == kGrantApproved) {
      GrantTerms terms;
      for (const Purpose& purpose : grant.purposes) terms.purposes.push_back(purpose.code);
      terms.purpose_required = grant.purpose_required;
      if (!grant.fields.empty()) {
        auto fields = minimise::FieldAllowList::Compile(grant.fields);
        if (!fields.ok()) {
          // Fail closed: what the allow-list was meant to withhold is not sent unfiltered.
          spdlog::warn(
              "registry: the field allow-list of the grant of API {} to system {} does "
              "not compile ({}); the grant is refused until it is set again",
              grant.api_code, grant.consumer_client_id, fields.status().message());
          continue;
        }
        terms.fields = std::move(fields).value();
      }
      snapshot->approved_grants_.emplace(GrantKey{grant.consumer_system_id, grant.api_id},
                                         std::move(terms));
    }
  }

  snapshot->topics_.reserve(rows.topics.size());
  for (Topic& topic : rows.topics) {
    // The catalogue's texts are of no use on the request path.
    topic.title.clear();
    topic.description.clear();
    topic.message_example.clear();
    std::string key = topic.code;
    snapshot->topics_.emplace(std::move(key), std::move(topic));
  }

  // Ordered by id (RegistryRows promises it; sorted here anyway, it is cheap and the order is
  // what ApprovedSubscriptions promises). Reserved up front: pointers into the vector are taken
  // below and must stay valid.
  snapshot->subscriptions_.reserve(rows.subscriptions.size());
  for (Subscription& subscription : rows.subscriptions) {
    if (subscription.state == kSubscriptionApproved) {
      snapshot->subscriptions_.push_back(std::move(subscription));
    }
  }
  std::sort(snapshot->subscriptions_.begin(), snapshot->subscriptions_.end(),
            [](const Subscription& a, const Subscription& b) { return a.id < b.id; });
  for (const Subscription& subscription : snapshot->subscriptions_) {
    snapshot->subscriptions_by_topic_[subscription.topic_id].push_back(&subscription);
    snapshot->subscriptions_by_id_.emplace(subscription.id, &subscription);
  }
  return snapshot;
}

const System* Snapshot::FindSystem(std::string_view client_id) const {
  auto it = systems_.find(client_id);
  return it != systems_.end() ? &it->second : nullptr;
}

const System* Snapshot::FindSystemById(int64_t system_id) const {
  auto it = systems_by_id_.find(system_id);
  return it != systems_by_id_.end() ? it->second : nullptr;
}

const Api* Snapshot::FindApi(std::string_view code) const {
  auto it = apis_.find(code);
  return it != apis_.end() ? &it->second : nullptr;
}

const Institution* Snapshot::FindInstitution(std::string_view code) const {
  auto it = institutions_.find(code);
  return it != institutions_.end() ? &it->second : nullptr;
}

bool Snapshot::HasApprovedGrant(int64_t consumer_system_id, int64_t api_id) const {
  return approved_grants_.contains(GrantKey{consumer_system_id, api_id});
}

const Snapshot::GrantTerms* Snapshot::FindApprovedGrant(int64_t consumer_system_id,
                                                        int64_t api_id) const {
  auto it = approved_grants_.find(GrantKey{consumer_system_id, api_id});
  return it != approved_grants_.end() ? &it->second : nullptr;
}

const Topic* Snapshot::FindTopic(std::string_view code) const {
  auto it = topics_.find(code);
  return it != topics_.end() ? &it->second : nullptr;
}

const Subscription* Snapshot::FindApprovedSubscription(int64_t subscription_id) const {
  auto it = subscriptions_by_id_.find(subscription_id);
  return it != subscriptions_by_id_.end() ? it->second : nullptr;
}

std::vector<const Subscription*> Snapshot::ApprovedSubscriptions(int64_t topic_id) const {
  auto it = subscriptions_by_topic_.find(topic_id);
  return it != subscriptions_by_topic_.end() ? it->second : std::vector<const Subscription*>();
}

}  // namespace govesb::registry
