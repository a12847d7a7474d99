#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "minimise/field_allow_list.h"
#include "registry/model.h"
#include "registry/store.h"

namespace govesb::store {
class Database;
}

namespace govesb::registry {

// An immutable, consistent view of the whole registry, built from one consistent read of a
// RegistryStore. This is what the request path consults: lookups are O(1) hash lookups that
// allocate nothing, and every system's public key is parsed once, at load. Shared across
// threads as shared_ptr<const Snapshot>; all methods are thread-safe. Pointers returned by
// the lookups live as long as the Snapshot.
class Snapshot {
 public:
  // Builds the lookup maps from `rows` (pure: no storage, no clock). Parses each system's
  // public key, except that when `previous` is given, the parsed key of a system whose key text
  // is unchanged is reused. A key that does not parse leaves public_key empty (that system fails
  // closed; a warning is logged). Systems of a suspended institution get enabled = false.
  // Each API's contract is compiled (Api::request_contract, response_contract; the texts are
  // then left out), reusing `previous`'s compiled schema where the text is unchanged; one that
  // does not compile sets Api::contract_error (that API fails closed).
  static std::shared_ptr<const Snapshot> Build(RegistryRows rows,
                                               const Snapshot* previous = nullptr);

  // store.ReadSnapshotRows(), then Build. Fails (and builds nothing) when the read fails.
  static Result<std::shared_ptr<const Snapshot>> Load(RegistryStore& store,
                                                      const Snapshot* previous = nullptr);
  // The same over a SQLite connection (a SqliteRegistryStore on `db`), for tests and tools that
  // already hold one. Defined in sqlite_store.cc; callers include store/database.h themselves.
  static Result<std::shared_ptr<const Snapshot>> Load(store::Database& db,
                                                      const Snapshot* previous = nullptr);

  // nullptr when unknown. Disabled systems are found too: check System::enabled, which is also
  // false for every system of a suspended institution (System::institution_suspended says so).
  const System* FindSystem(std::string_view client_id) const;
  const System* FindSystemById(int64_t system_id) const;
  // Disabled APIs are found too: check Api::enabled. Without the catalogue's texts.
  const Api* FindApi(std::string_view code) const;
  const Institution* FindInstitution(std::string_view code) const;
  // Only "approved" grants count.
  bool HasApprovedGrant(int64_t consumer_system_id, int64_t api_id) const;
  // What an approved grant asks of the requests under it (nullptr without an approved grant).
  struct GrantTerms {
    std::vector<std::string> purposes;  // the codes a request may declare
    bool purpose_required = false;
    // The answer fields the consumer may receive; null: every field.
    std::shared_ptr<const minimise::FieldAllowList> fields;
  };
  const GrantTerms* FindApprovedGrant(int64_t consumer_system_id, int64_t api_id) const;
  // nullptr when unknown. pushCodes are case-sensitive. Disabled topics are found too: check
  // Topic::enabled. Without the catalogue's texts.
  const Topic* FindTopic(std::string_view code) const;
  // The topic's "approved" subscriptions, ordered by subscription id; empty for an unknown
  // topic or one without subscribers. Returns a copy of the pointer list (allocates).
  std::vector<const Subscription*> ApprovedSubscriptions(int64_t topic_id) const;
  // The approved subscription with this id; nullptr when unknown, pending or revoked.
  const Subscription* FindApprovedSubscription(int64_t subscription_id) const;

  // For health/metrics.
  size_t institution_count() const { return institutions_.size(); }
  size_t system_count() const { return systems_.size(); }
  size_t enabled_system_count() const { return enabled_system_count_; }
  size_t api_count() const { return apis_.size(); }
  size_t approved_grant_count() const { return approved_grants_.size(); }
  size_t topic_count() const { return topics_.size(); }

  // Implementation detail of Build (std::make_shared needs a public constructor).
  struct PrivateTag {
    explicit PrivateTag() = default;
  };
  explicit Snapshot(PrivateTag) {}

 private:
  // Heterogeneous lookup: find(std::string_view) without building a std::string.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  struct GrantKey {
    int64_t consumer_system_id;
    int64_t api_id;
    friend bool operator==(const GrantKey&, const GrantKey&) = default;
  };
  struct GrantKeyHash {
    size_t operator()(const GrantKey& k) const {
      return std::hash<int64_t>{}(k.consumer_system_id) * 0x9e3779b97f4a7c15ull ^
             std::hash<int64_t>{}(k.api_id);
    }
  };

  StringMap<Institution> institutions_;
  StringMap<System> systems_;  // by client_id; node-based, so pointers stay put
  std::unordered_map<int64_t, const System*> systems_by_id_;
  StringMap<Api> apis_;
  std::unordered_map<GrantKey, GrantTerms, GrantKeyHash> approved_grants_;
  StringMap<Topic> topics_;
  std::vector<Subscription> subscriptions_;  // approved only, by id; never resized after load
  // topic_id → pointers into subscriptions_, in subscription id order.
  std::unordered_map<int64_t, std::vector<const Subscription*>> subscriptions_by_topic_;
  std::unordered_map<int64_t, const Subscription*> subscriptions_by_id_;
  size_t enabled_system_count_ = 0;
};

}  // namespace govesb::registry
