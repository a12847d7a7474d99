// The contract every RegistryStore adapter must keep (registry/store.h), run against each
// adapter in Adapters(). Adding an adapter is one line there plus its harness.
//
// The write side (Registry) is not a port yet: each harness seeds its registry through a
// Registry of its own on the adapter's database (store::Database runs on both backends), on a
// connection other than any store's.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "registry/pg_store.h"
#include "registry/registry.h"
#include "registry/registry_testing.h"
#include "registry/snapshot.h"
#include "registry/snapshot_watcher.h"
#include "registry/sqlite_store.h"
#include "registry/store.h"
#include "store/database_testing.h"

namespace govesb::registry {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::NewPublicKey;

// One fresh, empty registry of one adapter, migrated and ready.
class RegistryStoreHarness {
 public:
  virtual ~RegistryStoreHarness() = default;
  // A new store with a connection (session) of its own, as the watcher and the usage flusher
  // each have. Called as often as a test likes.
  virtual Result<std::unique_ptr<RegistryStore>> OpenStore() = 0;
  // The write side, on a connection of its own; used by one thread at a time.
  virtual Registry& registry() = 0;
};

struct RegistryStoreAdapter {
  std::string name;
  std::function<std::unique_ptr<RegistryStoreHarness>(const Clock& clock)> make;
};

// For gtest's messages ("where GetParam() = Sqlite").
void PrintTo(const RegistryStoreAdapter& adapter, std::ostream* out) { *out << adapter.name; }

// A registry in a database of the adapter's backend: seeded through a Registry on a connection
// of its own (the write side runs on store::Database on both backends), read through stores
// opened as the bus opens them.
class DatabaseHarness final : public RegistryStoreHarness {
 public:
  using OpenFn = std::function<Result<std::unique_ptr<RegistryStore>>(const std::string& location,
                                                                      const Clock* clock)>;
  DatabaseHarness(const Clock& clock, store::Backend backend, OpenFn open)
      : clock_(clock),
        open_(std::move(open)),
        location_(store::testing::NewDatabase(backend, dir_)),
        db_(testing::OpenMigrated(backend, location_)),
        registry_(*db_, testing::TestOptions(clock)) {}

  Result<std::unique_ptr<RegistryStore>> OpenStore() override { return open_(location_, &clock_); }
  Registry& registry() override { return registry_; }

 private:
  const Clock& clock_;
  OpenFn open_;
  TempDir dir_;
  std::string location_;  // the SQLite file or the PostgreSQL conninfo
  std::unique_ptr<store::Database> db_;
  Registry registry_;
};

// An adapter's Open as a harness's OpenFn.
template <typename Store>
Result<std::unique_ptr<RegistryStore>> OpenAs(const std::string& location, const Clock* clock) {
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(location, clock));
  return std::unique_ptr<RegistryStore>(std::move(store));
}

std::vector<RegistryStoreAdapter> Adapters() {
  return {
      {"Sqlite",
       [](const Clock& clock) {
         return std::make_unique<DatabaseHarness>(clock, store::Backend::kSqlite,
                                                  OpenAs<SqliteRegistryStore>);
       }},
      {"Postgres",
       [](const Clock& clock) {
         return std::make_unique<DatabaseHarness>(clock, store::Backend::kPostgres,
                                                  OpenAs<PgRegistryStore>);
       }},
  };
}

// Polls `done` until it holds or `limit` passes; returns whether it held.
bool WaitFor(const std::function<bool()>& done, milliseconds limit) {
  const auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

template <typename Row, typename Pred>
const Row* FindRow(const std::vector<Row>& rows, Pred pred) {
  auto it = std::find_if(rows.begin(), rows.end(), pred);
  return it != rows.end() ? &*it : nullptr;
}

class RegistryStoreContract : public ::testing::TestWithParam<RegistryStoreAdapter> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make(clock_);
    auto store = harness_->OpenStore();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  Registry& registry() { return harness_->registry(); }

  RegistryRows Read() {
    Result<RegistryRows> rows = store_->ReadSnapshotRows();
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? std::move(rows).value() : RegistryRows{};
  }

  int64_t Version() {
    Result<int64_t> version = store_->ChangeVersion();
    EXPECT_TRUE(version.ok()) << version.status().ToString();
    return version.ok() ? *version : -1;
  }

  System AddSystem(std::string_view institution, std::string_view name,
                   std::string public_key = NewPublicKey()) {
    auto added = registry().AddSystem(institution, name, public_key,
                                      "https://" + std::string(name) + ".example.go.tz/esb");
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added->system : System{};
  }

  // Institutions EGA and TRA (suspended); EGA's systems Provider, Consumer (disabled) and
  // Third; TRA's system Taxman; APIs GETUSR (Provider) and others; topic NEWUSR.
  void AddFixtures() {
    ASSERT_TRUE(registry().AddInstitution("EGA", "e-Government Authority").ok());
    ASSERT_TRUE(registry().AddInstitution("TRA", "Revenue Authority").ok());
    provider_ = AddSystem("EGA", "provider");
    consumer_ = AddSystem("EGA", "consumer", NewPublicKey(crypto::Curve::kP256));
    third_ = AddSystem("EGA", "third");
    taxman_ = AddSystem("TRA", "taxman");
    ASSERT_TRUE(registry().AddApi(provider_.client_id, "GETUSR").ok());
  }

  SimulatedClock clock_;
  std::unique_ptr<RegistryStoreHarness> harness_;
  std::unique_ptr<RegistryStore> store_;
  System provider_, consumer_, third_, taxman_;
};

TEST_P(RegistryStoreContract, AnEmptyRegistryHasNoRows) {
  RegistryRows rows = Read();
  EXPECT_TRUE(rows.institutions.empty());
  EXPECT_TRUE(rows.systems.empty());
  EXPECT_TRUE(rows.apis.empty());
  EXPECT_TRUE(rows.grants.empty());
  EXPECT_TRUE(rows.topics.empty());
  EXPECT_TRUE(rows.subscriptions.empty());
  auto snapshot = Snapshot::Load(*store_);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ((*snapshot)->system_count(), 0u);
  EXPECT_EQ((*snapshot)->api_count(), 0u);
  EXPECT_EQ((*snapshot)->topic_count(), 0u);
}

TEST_P(RegistryStoreContract, InstitutionsAndSystemsReadBackInEveryState) {
  AddFixtures();
  ASSERT_TRUE(registry().SuspendInstitution("TRA").ok());
  ASSERT_TRUE(registry().RenameInstitution("EGA", "eGA").ok());
  ASSERT_TRUE(registry().DisableSystem(consumer_.client_id).ok());
  ASSERT_TRUE(
      registry().SetSystemRateLimit(third_.client_id, {.rate_per_second = 0.25, .burst = 2}).ok());
  ASSERT_TRUE(
      registry().SetSystemRateLimit(provider_.client_id, {.rate_per_second = kRateUnlimited}).ok());
  ASSERT_TRUE(registry().SetSignatureFallbacks(third_.client_id, false).ok());
  const std::string new_key = NewPublicKey(crypto::Curve::kP521);
  auto updated = registry().UpdateSystem(
      provider_.client_id, {.public_key = new_key, .endpoint = "https://moved.example/esb"});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();

  RegistryRows rows = Read();
  ASSERT_EQ(rows.institutions.size(), 2u);
  const Institution* ega =
      FindRow(rows.institutions, [](const Institution& i) { return i.code == "EGA"; });
  const Institution* tra =
      FindRow(rows.institutions, [](const Institution& i) { return i.code == "TRA"; });
  ASSERT_NE(ega, nullptr);
  ASSERT_NE(tra, nullptr);
  EXPECT_EQ(ega->name, "eGA");
  EXPECT_FALSE(ega->suspended);
  EXPECT_TRUE(tra->suspended);

  ASSERT_EQ(rows.systems.size(), 4u);
  auto system = [&](const System& s) {
    return FindRow(rows.systems, [&](const System& r) { return r.client_id == s.client_id; });
  };
  const System* p = system(provider_);
  const System* c = system(consumer_);
  const System* t = system(third_);
  const System* x = system(taxman_);
  ASSERT_TRUE(p && c && t && x);
  EXPECT_EQ(p->id, provider_.id);
  EXPECT_EQ(p->institution_id, ega->id);
  EXPECT_EQ(p->institution_code, "EGA");
  EXPECT_EQ(p->institution_name, "eGA");
  EXPECT_EQ(p->name, "provider");
  EXPECT_EQ(p->public_key_b64, updated->public_key_b64);
  EXPECT_FALSE(p->public_key.has_value());  // left for Snapshot::Build to parse
  EXPECT_EQ(p->endpoint, "https://moved.example/esb");
  EXPECT_TRUE(p->enabled);
  EXPECT_EQ(p->credential_version, 1);
  EXPECT_EQ(p->rate_per_second, kRateUnlimited);
  EXPECT_EQ(p->rate_burst, kRateDefault);
  EXPECT_TRUE(p->signature_fallbacks);

  EXPECT_FALSE(c->enabled);  // disabled: the row says so as stored
  EXPECT_EQ(c->credential_version, 2);
  EXPECT_FALSE(c->institution_suspended);

  EXPECT_EQ(t->rate_per_second, 0.25);
  EXPECT_EQ(t->rate_burst, 2);
  EXPECT_FALSE(t->signature_fallbacks);

  EXPECT_TRUE(x->institution_suspended);
  EXPECT_EQ(x->institution_code, "TRA");
  EXPECT_EQ(x->credential_version, 2);  // suspending bumped it
}

TEST_P(RegistryStoreContract, ApisReadBackWithTheirRequestPathSettings) {
  AddFixtures();
  ApiSettings settings;
  settings.timeout_ms = 500;
  settings.endpoint_override = "https://other.example/";
  settings.async = true;
  settings.callback_endpoint = "https://callback.example/cb";
  settings.store_bodies = true;
  settings.rate_per_second = 20;
  settings.rate_burst = 40;
  settings.replay_policy = ReplayPolicy::kRefuse;
  settings.description.title = "Other";
  settings.description.openapi = R"({"openapi":"3.0.0"})";
  auto added = registry().AddApi(provider_.client_id, "OTHER", settings);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_TRUE(registry().AddApi(provider_.client_id, "GONEAPI").ok());
  ASSERT_TRUE(registry().DisableApi("GONEAPI").ok());

  RegistryRows rows = Read();
  ASSERT_EQ(rows.apis.size(), 3u);
  auto api = [&](std::string_view code) {
    return FindRow(rows.apis, [&](const Api& a) { return a.code == code; });
  };
  const Api* getusr = api("GETUSR");
  const Api* other = api("OTHER");
  const Api* gone = api("GONEAPI");
  ASSERT_TRUE(getusr && other && gone);
  EXPECT_EQ(getusr->provider_system_id, provider_.id);
  EXPECT_EQ(getusr->provider_client_id, provider_.client_id);
  EXPECT_EQ(getusr->endpoint, provider_.endpoint);
  EXPECT_EQ(getusr->timeout_ms, kDefaultApiTimeoutMs);
  EXPECT_FALSE(getusr->async);
  EXPECT_FALSE(getusr->store_bodies);
  EXPECT_EQ(getusr->replay_policy, ReplayPolicy::kRecord);
  EXPECT_TRUE(getusr->enabled);

  EXPECT_EQ(other->endpoint, "https://other.example/");
  EXPECT_EQ(other->endpoint_override, "https://other.example/");
  EXPECT_EQ(other->timeout_ms, 500);
  EXPECT_TRUE(other->async);
  EXPECT_EQ(other->callback_endpoint, "https://callback.example/cb");
  EXPECT_TRUE(other->store_bodies);
  EXPECT_EQ(other->rate_per_second, 20);
  EXPECT_EQ(other->rate_burst, 40);
  EXPECT_EQ(other->replay_policy, ReplayPolicy::kRefuse);
  EXPECT_TRUE(other->openapi.empty());  // the request path never reads OpenAPI documents

  EXPECT_FALSE(gone->enabled);
}

TEST_P(RegistryStoreContract, GrantsAndSubscriptionsReadBackInEveryState) {
  AddFixtures();
  ASSERT_TRUE(registry().AddApi(provider_.client_id, "OTHER").ok());
  ASSERT_TRUE(registry().AddApi(provider_.client_id, "THIRD").ok());
  ASSERT_TRUE(registry().AddApi(provider_.client_id, "FOURTH").ok());
  const AccessRequest request{.requested_by = "cli:test", .purpose = "testing"};
  const AccessDecision refusal{.decided_by = "cli:op", .reason = "no"};
  ASSERT_TRUE(registry().AddGrant(consumer_.client_id, "GETUSR").ok());
  ASSERT_TRUE(registry().RequestGrant(consumer_.client_id, "OTHER", request).ok());
  ASSERT_TRUE(registry().RequestGrant(consumer_.client_id, "THIRD", request).ok());
  ASSERT_TRUE(registry().RefuseGrantRequest(consumer_.client_id, "THIRD", refusal).ok());
  ASSERT_TRUE(registry().AddGrant(consumer_.client_id, "FOURTH").ok());
  ASSERT_TRUE(registry().RevokeGrant(consumer_.client_id, "FOURTH").ok());

  ASSERT_TRUE(registry().AddTopic(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry().DescribeTopic("NEWUSR", {.title = "New users"}).ok());
  ASSERT_TRUE(registry().AddTopic(provider_.client_id, "GONEUSR").ok());
  ASSERT_TRUE(registry().DisableTopic("GONEUSR").ok());
  // Subscription ids in this order: third (approved, own endpoint), consumer (pending),
  // taxman (refused), provider (revoked).
  ASSERT_TRUE(
      registry().AddSubscription(third_.client_id, "NEWUSR", "https://hooks.example/x").ok());
  ASSERT_TRUE(registry().RequestSubscription(consumer_.client_id, "NEWUSR", request).ok());
  ASSERT_TRUE(registry().RequestSubscription(taxman_.client_id, "NEWUSR", request).ok());
  ASSERT_TRUE(registry().RefuseSubscriptionRequest(taxman_.client_id, "NEWUSR", refusal).ok());
  ASSERT_TRUE(registry().AddSubscription(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry().RevokeSubscription(provider_.client_id, "NEWUSR").ok());

  RegistryRows rows = Read();
  ASSERT_EQ(rows.grants.size(), 4u);
  auto grant_state = [&](std::string_view code) {
    const Grant* g = FindRow(rows.grants, [&](const Grant& r) { return r.api_code == code; });
    EXPECT_NE(g, nullptr) << code;
    if (g == nullptr) return std::string();
    EXPECT_EQ(g->consumer_system_id, consumer_.id);
    EXPECT_EQ(g->consumer_client_id, consumer_.client_id);
    return g->state;
  };
  EXPECT_EQ(grant_state("GETUSR"), kGrantApproved);
  EXPECT_EQ(grant_state("OTHER"), kGrantPending);
  EXPECT_EQ(grant_state("THIRD"), kGrantRefused);
  EXPECT_EQ(grant_state("FOURTH"), kGrantRevoked);

  ASSERT_EQ(rows.topics.size(), 2u);
  const Topic* newusr = FindRow(rows.topics, [](const Topic& t) { return t.code == "NEWUSR"; });
  const Topic* gone = FindRow(rows.topics, [](const Topic& t) { return t.code == "GONEUSR"; });
  ASSERT_TRUE(newusr && gone);
  EXPECT_EQ(newusr->publisher_system_id, provider_.id);
  EXPECT_EQ(newusr->publisher_client_id, provider_.client_id);
  EXPECT_TRUE(newusr->enabled);
  EXPECT_FALSE(gone->enabled) << "a disabled topic is read back, as disabled";

  ASSERT_EQ(rows.subscriptions.size(), 4u);
  EXPECT_TRUE(
      std::is_sorted(rows.subscriptions.begin(), rows.subscriptions.end(),
                     [](const Subscription& a, const Subscription& b) { return a.id < b.id; }));
  const std::vector<std::pair<const System*, std::string_view>> expected = {
      {&third_, kSubscriptionApproved},
      {&consumer_, kSubscriptionPending},
      {&taxman_, kSubscriptionRefused},
      {&provider_, kSubscriptionRevoked}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const Subscription& s = rows.subscriptions[i];
    EXPECT_EQ(s.subscriber_system_id, expected[i].first->id) << i;
    EXPECT_EQ(s.subscriber_client_id, expected[i].first->client_id) << i;
    EXPECT_EQ(s.state, expected[i].second) << i;
    EXPECT_EQ(s.topic_id, newusr->id) << i;
    EXPECT_EQ(s.topic_code, "NEWUSR") << i;
  }
  EXPECT_EQ(rows.subscriptions[0].endpoint, "https://hooks.example/x");
  EXPECT_EQ(rows.subscriptions[0].endpoint_override, "https://hooks.example/x");
  EXPECT_EQ(rows.subscriptions[1].endpoint, consumer_.endpoint);
  EXPECT_EQ(rows.subscriptions[1].endpoint_override, "");
}

// What the request path sees, end to end: the store's rows through Snapshot::Load.
TEST_P(RegistryStoreContract, TheSnapshotLoadedFromTheStoreServesTheRequestPath) {
  AddFixtures();
  auto signer = crypto::PrivateKey::Generate(crypto::Curve::kP256);
  ASSERT_TRUE(signer.ok());
  ASSERT_TRUE(
      registry()
          .UpdateSystem(provider_.client_id, {.public_key = signer->public_key().SpkiBase64()})
          .ok());
  ASSERT_TRUE(registry().AddGrant(consumer_.client_id, "GETUSR").ok());
  ASSERT_TRUE(registry().AddGrant(taxman_.client_id, "GETUSR").ok());
  ASSERT_TRUE(registry().SuspendInstitution("TRA").ok());
  ASSERT_TRUE(registry().DisableSystem(third_.client_id).ok());
  ASSERT_TRUE(registry().AddTopic(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry().AddSubscription(consumer_.client_id, "NEWUSR").ok());

  auto loaded = Snapshot::Load(*store_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Snapshot& snap = **loaded;
  EXPECT_EQ(snap.institution_count(), 2u);
  EXPECT_EQ(snap.system_count(), 4u);
  EXPECT_EQ(snap.enabled_system_count(), 2u);  // third disabled, taxman suspended
  EXPECT_EQ(snap.approved_grant_count(), 2u);
  const System* p = snap.FindSystem(provider_.client_id);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->public_key.has_value());
  EXPECT_EQ(p->curve, crypto::Curve::kP256);
  EXPECT_TRUE(p->public_key->VerifyBase64("hello", signer->SignBase64("hello")));
  const System* x = snap.FindSystem(taxman_.client_id);
  ASSERT_NE(x, nullptr);
  EXPECT_FALSE(x->enabled);
  EXPECT_TRUE(x->institution_suspended);
  EXPECT_FALSE(snap.FindSystem(third_.client_id)->enabled);
  const Api* getusr = snap.FindApi("GETUSR");
  ASSERT_NE(getusr, nullptr);
  EXPECT_TRUE(snap.HasApprovedGrant(consumer_.id, getusr->id));
  const Topic* topic = snap.FindTopic("NEWUSR");
  ASSERT_NE(topic, nullptr);
  ASSERT_EQ(snap.ApprovedSubscriptions(topic->id).size(), 1u);
  EXPECT_EQ(snap.ApprovedSubscriptions(topic->id)[0]->subscriber_system_id, consumer_.id);
}

// Suspending and resuming an institution changes two tables in one transaction (the
// institution's flag and each of its systems' credential_version). A read that mixed two
// commits would pair a flag with the wrong version.
TEST_P(RegistryStoreContract, AReadIsOneConsistentView) {
  AddFixtures();
  // Rows to read between the two tables (a longer read: a mixed one would be more likely).
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(registry().AddInstitution("X" + std::to_string(1000 + i), "Filler").ok());
  }
  std::atomic<bool> done{false};
  std::atomic<int> toggles{0};
  std::thread writer([&] {
    for (int i = 0; i < 400; ++i) {
      bool ok = (i % 2 == 0 ? registry().SuspendInstitution("EGA").ok()
                            : registry().ResumeInstitution("EGA").ok());
      if (!ok) break;
      ++toggles;
    }
    done = true;
  });
  int reads = 0;
  int mixed = 0;
  while (!done.load() || reads == 0) {
    Result<RegistryRows> rows = store_->ReadSnapshotRows();
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ++reads;
    const Institution* ega =
        FindRow(rows->institutions, [](const Institution& i) { return i.code == "EGA"; });
    ASSERT_NE(ega, nullptr);
    for (const System& system : rows->systems) {
      if (system.institution_id != ega->id) continue;
      // Every system of EGA starts at version 1 (provider: 1, consumer: 1, third: 1) and each
      // toggle bumps it: suspended exactly when the version is even.
      const bool by_version = system.credential_version % 2 == 0;
      if (by_version != ega->suspended || system.institution_suspended != ega->suspended) {
        ++mixed;
      }
    }
  }
  writer.join();
  EXPECT_EQ(toggles.load(), 400);
  EXPECT_EQ(mixed, 0) << "in " << reads << " reads";
  EXPECT_GT(reads, 1);
}

TEST_P(RegistryStoreContract, ChangeVersionMovesAfterEveryChangeMadeElsewhere) {
  AddFixtures();
  int64_t last = Version();
  ASSERT_GE(last, 0);
  // Without a change it may move (spuriously) but never goes back.
  for (int i = 0; i < 3; ++i) {
    int64_t again = Version();
    EXPECT_GE(again, last);
    last = again;
  }
  struct Change {
    std::string name;
    std::function<bool()> make;
    std::function<bool(const RegistryRows&)> visible;
  };
  auto system_row = [](const RegistryRows& rows, int64_t id) {
    return FindRow(rows.systems, [&](const System& s) { return s.id == id; });
  };
  const std::vector<Change> changes = {
      {"add grant", [&] { return registry().AddGrant(consumer_.client_id, "GETUSR").ok(); },
       [](const RegistryRows& rows) {
         return rows.grants.size() == 1 && rows.grants[0].state == kGrantApproved;
       }},
      {"revoke grant", [&] { return registry().RevokeGrant(consumer_.client_id, "GETUSR").ok(); },
       [](const RegistryRows& rows) { return rows.grants[0].state == kGrantRevoked; }},
      {"disable system", [&] { return registry().DisableSystem(third_.client_id).ok(); },
       [&](const RegistryRows& rows) { return !system_row(rows, third_.id)->enabled; }},
      {"suspend institution", [&] { return registry().SuspendInstitution("TRA").ok(); },
       [&](const RegistryRows& rows) {
         return system_row(rows, taxman_.id)->institution_suspended;
       }},
      {"rate limit", [&] { return registry().SetApiRateLimit("GETUSR", {.burst = 9}).ok(); },
       [](const RegistryRows& rows) { return rows.apis[0].rate_burst == 9; }},
      {"add topic", [&] { return registry().AddTopic(provider_.client_id, "NEWUSR").ok(); },
       [](const RegistryRows& rows) { return rows.topics.size() == 1; }},
      {"subscribe", [&] { return registry().AddSubscription(consumer_.client_id, "NEWUSR").ok(); },
       [](const RegistryRows& rows) { return rows.subscriptions.size() == 1; }},
      {"disable topic", [&] { return registry().DisableTopic("NEWUSR").ok(); },
       [](const RegistryRows& rows) { return !rows.topics[0].enabled; }},
  };
  for (const Change& change : changes) {
    // The watcher's order: the version first, then the rows.
    const int64_t before = Version();
    EXPECT_FALSE(change.visible(Read())) << change.name;
    ASSERT_TRUE(change.make()) << change.name;
    const int64_t after = Version();
    EXPECT_GT(after, before) << change.name << " did not move the change version";
    EXPECT_GE(after, last) << change.name;
    last = after;
    EXPECT_TRUE(change.visible(Read())) << change.name;
  }
}

TEST_P(RegistryStoreContract, ChangeVersionOfAnotherStoreMovesToo) {
  // Each watcher (each node) has a store of its own; every one of them must see the change.
  AddFixtures();
  auto other = harness_->OpenStore();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto other_before = (*other)->ChangeVersion();
  const int64_t before = Version();
  ASSERT_TRUE(other_before.ok());
  ASSERT_TRUE(registry().DisableSystem(consumer_.client_id).ok());
  auto other_after = (*other)->ChangeVersion();
  ASSERT_TRUE(other_after.ok());
  EXPECT_GT(*other_after, *other_before);
  EXPECT_GT(Version(), before);
}

// The bus writes other tables all the time (evidence, deliveries, signature usage): a reload
// of the whole snapshot for each such commit would be CPU spent for nothing.
TEST_P(RegistryStoreContract, ChangeVersionStaysWhenOnlyTablesOutsideTheSnapshotChange) {
  AddFixtures();
  const int64_t before = Version();
  EXPECT_EQ(Version(), before) << "moved without any commit";
  // Another node's (or process's) usage flusher, and this store's own.
  auto flusher = harness_->OpenStore();
  ASSERT_TRUE(flusher.ok()) << flusher.status().ToString();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        (*flusher)
            ->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 2}})
            .ok());
    EXPECT_EQ(Version(), before) << "after signature usage " << i;
  }
  ASSERT_TRUE(
      store_->RecordSignatureUsage({{.system_id = provider_.id, .variant = "raw", .count = 1}})
          .ok());
  // The registry's tables that no Snapshot reads.
  ASSERT_TRUE(registry().SetComplianceSetting("window_days", "7").ok());
  ASSERT_TRUE(registry()
                  .SubmitApplication({.institution_code = "NIDA",
                                      .institution_name = "Identification Authority",
                                      .details = "Identity for all",
                                      .contact_name = "A. Mwita",
                                      .contact_email = "a.mwita@nida.go.tz",
                                      .planned_systems = {{.name = "ID lookup"}}})
                  .ok());
  // They were committed (the test would prove nothing otherwise).
  auto usage = registry().ListSignatureUsage(consumer_.client_id);
  ASSERT_TRUE(usage.ok() && usage->size() == 1u);
  EXPECT_EQ((*usage)[0].count, 6);
  EXPECT_EQ(registry().ListComplianceSettings()->size(), 1u);
  EXPECT_EQ(Version(), before);

  // A registry change still moves it, and the version then stays again.
  ASSERT_TRUE(registry().AddGrant(consumer_.client_id, "GETUSR").ok());
  const int64_t after = Version();
  EXPECT_GT(after, before);
  EXPECT_EQ(Version(), after);
}

TEST_P(RegistryStoreContract, SignatureUsageIncrementsAddUp) {
  AddFixtures();
  clock_.Set(1'000'000);
  ASSERT_TRUE(store_
                  ->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 3},
                                          {.system_id = consumer_.id,
                                           .variant = "compact",
                                           .count = 1,
                                           .first_at = 500,
                                           .last_at = 600}})
                  .ok());
  clock_.Set(2'000'000);
  ASSERT_TRUE(store_
                  ->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 4},
                                          {.system_id = provider_.id, .variant = "raw", .count = 1},
                                          {.system_id = consumer_.id,
                                           .variant = "compact",
                                           .count = 2,
                                           .first_at = 400,
                                           .last_at = 550}})
                  .ok());
  // Through another store too (another node's flusher).
  auto other = harness_->OpenStore();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      (*other)
          ->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 5}})
          .ok());
  EXPECT_TRUE(store_->RecordSignatureUsage({}).ok());

  auto usage = registry().ListSignatureUsage(consumer_.client_id);
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  ASSERT_EQ(usage->size(), 2u);
  const SignatureUsage* raw =
      FindRow(*usage, [](const SignatureUsage& u) { return u.variant == "raw"; });
  const SignatureUsage* compact =
      FindRow(*usage, [](const SignatureUsage& u) { return u.variant == "compact"; });
  ASSERT_TRUE(raw && compact);
  EXPECT_EQ(raw->count, 12);
  EXPECT_EQ(raw->first_at, 1'000'000);  // 0 = now, at the first call
  EXPECT_EQ(raw->last_at, 2'000'000);
  EXPECT_EQ(raw->client_id, consumer_.client_id);
  EXPECT_EQ(compact->count, 3);
  EXPECT_EQ(compact->first_at, 400);
  EXPECT_EQ(compact->last_at, 600);
  auto all = registry().ListSignatureUsage();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
}

TEST_P(RegistryStoreContract, BadSignatureUsageIsRefusedAndRecordsNothing) {
  AddFixtures();
  ASSERT_TRUE(
      store_->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 1}})
          .ok());
  auto before = registry().ListSignatureUsage();
  ASSERT_TRUE(before.ok());
  auto unchanged = [&] {
    auto now = registry().ListSignatureUsage();
    ASSERT_TRUE(now.ok());
    ASSERT_EQ(now->size(), before->size());
    for (size_t i = 0; i < now->size(); ++i) {
      EXPECT_EQ((*now)[i].count, (*before)[i].count);
      EXPECT_EQ((*now)[i].variant, (*before)[i].variant);
    }
  };

  // An unknown system: kNotFound, and the valid increment of the same batch is not kept.
  Status unknown =
      store_->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 1},
                                    {.system_id = 987654, .variant = "raw", .count = 1}});
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound) << unknown.ToString();
  EXPECT_NE(unknown.message().find("987654"), std::string::npos) << unknown.message();
  unchanged();

  EXPECT_EQ(
      store_->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "RAW!", .count = 1}})
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      store_->RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 0}})
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(store_
                ->RecordSignatureUsage({{.system_id = consumer_.id,
                                         .variant = "raw",
                                         .count = 1,
                                         .first_at = 10,
                                         .last_at = 5}})
                .code(),
            StatusCode::kInvalidArgument);
  std::vector<SignatureUsage> too_many(10001,
                                       {.system_id = consumer_.id, .variant = "raw", .count = 1});
  EXPECT_EQ(store_->RecordSignatureUsage(too_many).code(), StatusCode::kInvalidArgument);
  unchanged();
}

// The bus's promise: a registry change made elsewhere reaches the request path within a second.
TEST_P(RegistryStoreContract, AWatcherSeesAChangeMadeElsewhereWithinASecond) {
  AddFixtures();
  auto watched = harness_->OpenStore();
  ASSERT_TRUE(watched.ok());
  SnapshotWatcher watcher(std::move(watched).value());
  std::atomic<int> changes{0};
  watcher.OnChange([&](const Snapshot&) { ++changes; });
  ASSERT_TRUE(watcher.Start().ok());
  auto first = watcher.Current();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->system_count(), 4u);
  const Api* getusr = first->FindApi("GETUSR");
  ASSERT_NE(getusr, nullptr);
  const int64_t api_id = getusr->id;
  EXPECT_FALSE(first->HasApprovedGrant(consumer_.id, api_id));

  ASSERT_TRUE(registry().AddGrant(consumer_.client_id, "GETUSR").ok());
  const auto committed = steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return watcher.Current()->HasApprovedGrant(consumer_.id, api_id); },
                      milliseconds(3000)));
  // The promise is "within a second"; the generous limit above keeps loaded CI machines green.
  EXPECT_LT(steady_clock::now() - committed, milliseconds(1500));
  EXPECT_GE(changes.load(), 1);
  // The snapshot handed out before is unchanged.
  EXPECT_FALSE(first->HasApprovedGrant(consumer_.id, api_id));

  // Each kind of change, one after the other.
  ASSERT_TRUE(registry().DisableSystem(consumer_.client_id).ok());
  EXPECT_TRUE(WaitFor([&] { return !watcher.Current()->FindSystem(consumer_.client_id)->enabled; },
                      milliseconds(3000)));
  ASSERT_TRUE(registry().SuspendInstitution("TRA").ok());
  EXPECT_TRUE(WaitFor([&] { return !watcher.Current()->FindSystem(taxman_.client_id)->enabled; },
                      milliseconds(3000)));
  ASSERT_TRUE(registry().SetSignatureFallbacks(third_.client_id, false).ok());
  EXPECT_TRUE(
      WaitFor([&] { return !watcher.Current()->FindSystem(third_.client_id)->signature_fallbacks; },
              milliseconds(3000)));
  ASSERT_TRUE(registry().SetApiRateLimit("GETUSR", {.burst = 9}).ok());
  EXPECT_TRUE(WaitFor([&] { return watcher.Current()->FindApi("GETUSR")->rate_burst == 9; },
                      milliseconds(3000)));
  ASSERT_TRUE(registry().SetApiReplayPolicy("GETUSR", ReplayPolicy::kRefuse).ok());
  EXPECT_TRUE(WaitFor(
      [&] { return watcher.Current()->FindApi("GETUSR")->replay_policy == ReplayPolicy::kRefuse; },
      milliseconds(3000)));
  ASSERT_TRUE(registry().AddTopic(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry().AddSubscription(third_.client_id, "NEWUSR").ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        const Topic* topic = watcher.Current()->FindTopic("NEWUSR");
        return topic != nullptr && watcher.Current()->ApprovedSubscriptions(topic->id).size() == 1;
      },
      milliseconds(3000)));
  watcher.Stop();
}

INSTANTIATE_TEST_SUITE_P(Adapters, RegistryStoreContract, ::testing::ValuesIn(Adapters()),
                         [](const ::testing::TestParamInfo<RegistryStoreAdapter>& param) {
                           return param.param.name;
                         });

}  // namespace
}  // namespace govesb::registry
