#include "registry/snapshot.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "registry/registry_testing.h"

namespace govesb::registry {
namespace {

using testing::NewPublicKey;
using testing::RegistryTest;

using SnapshotTest = RegistryTest;

TEST_F(SnapshotTest, EmptyRegistry) {
  auto snapshot = Snapshot::Load(*db_);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ((*snapshot)->system_count(), 0u);
  EXPECT_EQ((*snapshot)->api_count(), 0u);
  EXPECT_EQ((*snapshot)->FindSystem("x"), nullptr);
  EXPECT_EQ((*snapshot)->FindApi("ABCDE"), nullptr);
  EXPECT_EQ((*snapshot)->topic_count(), 0u);
  EXPECT_EQ((*snapshot)->FindTopic("ABCDE"), nullptr);
  EXPECT_TRUE((*snapshot)->ApprovedSubscriptions(1).empty());
}

TEST_F(SnapshotTest, LookupsAndParsedKeys) {
  ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
  auto signer = crypto::PrivateKey::Generate(crypto::Curve::kP256);
  ASSERT_TRUE(signer.ok());
  auto provider = registry_.AddSystem("EGA", "Provider", signer->public_key().SpkiBase64(),
                                      "https://provider.example/esb");
  ASSERT_TRUE(provider.ok());
  auto consumer = registry_.AddSystem("EGA", "Consumer", NewPublicKey(), "https://c.example/");
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE(registry_.AddApi(provider->system.client_id, "GETUSR").ok());
  ASSERT_TRUE(
      registry_.AddApi(provider->system.client_id, "OTHER", 500, "https://other.example/").ok());
  ASSERT_TRUE(registry_.SetApiStoreBodies("OTHER", true).ok());
  ASSERT_TRUE(registry_.AddGrant(consumer->system.client_id, "GETUSR").ok());
  ASSERT_TRUE(registry_.AddGrant(consumer->system.client_id, "OTHER").ok());
  ASSERT_TRUE(registry_.RevokeGrant(consumer->system.client_id, "OTHER").ok());
  ASSERT_TRUE(registry_.DisableSystem(provider->system.client_id).ok());

  auto loaded = Snapshot::Load(*db_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Snapshot& snap = **loaded;
  EXPECT_EQ(snap.institution_count(), 1u);
  EXPECT_EQ(snap.system_count(), 2u);
  EXPECT_EQ(snap.enabled_system_count(), 1u);
  EXPECT_EQ(snap.api_count(), 2u);
  EXPECT_EQ(snap.approved_grant_count(), 1u);

  // Lookup by a string_view into a larger buffer (no NUL terminator at the end of the id).
  const std::string buffer = "[" + provider->system.client_id + "]";
  const System* p =
      snap.FindSystem(std::string_view(buffer).substr(1, provider->system.client_id.size()));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "Provider");
  EXPECT_FALSE(p->enabled);
  EXPECT_EQ(p->credential_version, 2);
  EXPECT_EQ(p->institution_code, "EGA");
  EXPECT_EQ(p->curve, crypto::Curve::kP256);
  ASSERT_TRUE(p->public_key.has_value());
  EXPECT_TRUE(p->public_key->VerifyBase64("hello", signer->SignBase64("hello")));
  EXPECT_FALSE(p->public_key->VerifyBase64("hullo", signer->SignBase64("hello")));
  EXPECT_EQ(snap.FindSystemById(p->id), p);
  EXPECT_EQ(snap.FindSystemById(12345), nullptr);
  EXPECT_EQ(snap.FindSystem(provider->system.client_id.substr(1)), nullptr);
  ASSERT_NE(snap.FindInstitution("EGA"), nullptr);
  EXPECT_EQ(snap.FindInstitution("EGA")->name, "e-Government Authority");

  const System* c = snap.FindSystem(consumer->system.client_id);
  ASSERT_NE(c, nullptr);
  const Api* getusr = snap.FindApi("GETUSR");
  ASSERT_NE(getusr, nullptr);
  EXPECT_EQ(getusr->endpoint, "https://provider.example/esb");
  EXPECT_EQ(getusr->provider_system_id, p->id);
  const Api* other = snap.FindApi("OTHER");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->endpoint, "https://other.example/");
  EXPECT_EQ(other->timeout_ms, 500);
  EXPECT_TRUE(other->store_bodies);
  EXPECT_FALSE(getusr->store_bodies);
  EXPECT_EQ(snap.FindApi("getusr"), nullptr);  // case-sensitive

  EXPECT_TRUE(snap.HasApprovedGrant(c->id, getusr->id));
  EXPECT_FALSE(snap.HasApprovedGrant(c->id, other->id));  // revoked
  EXPECT_FALSE(snap.HasApprovedGrant(p->id, getusr->id));
}

TEST_F(SnapshotTest, TopicsAndApprovedSubscriptions) {
  AddFixtures();
  auto third = registry_.AddSystem("EGA", "Third", NewPublicKey(), "https://third.example/cb");
  ASSERT_TRUE(third.ok());
  const std::string& third_id = third->system.client_id;
  ASSERT_TRUE(registry_.AddTopic(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry_.AddTopic(consumer_.client_id, "QUIET").ok());
  // Subscription ids: third (1), consumer (2), provider (3, then revoked).
  ASSERT_TRUE(registry_.AddSubscription(third_id, "NEWUSR", "https://hooks.example/x").ok());
  ASSERT_TRUE(registry_.AddSubscription(consumer_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry_.AddSubscription(provider_.client_id, "NEWUSR").ok());
  ASSERT_TRUE(registry_.RevokeSubscription(provider_.client_id, "NEWUSR").ok());

  auto loaded = Snapshot::Load(*db_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Snapshot& snap = **loaded;
  EXPECT_EQ(snap.topic_count(), 2u);
  const Topic* topic = snap.FindTopic("NEWUSR");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->publisher_system_id, provider_.id);
  EXPECT_EQ(topic->publisher_client_id, provider_.client_id);
  EXPECT_EQ(snap.FindTopic("newusr"), nullptr);  // case-sensitive
  EXPECT_EQ(snap.FindTopic("GETUSR"), nullptr);  // an API, not a topic
  const std::string buffer = "xNEWUSRx";
  EXPECT_EQ(snap.FindTopic(std::string_view(buffer).substr(1, 6)), topic);

  std::vector<const Subscription*> subs = snap.ApprovedSubscriptions(topic->id);
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0]->subscriber_client_id, third_id);
  EXPECT_EQ(subs[0]->endpoint, "https://hooks.example/x");
  EXPECT_EQ(subs[1]->subscriber_client_id, consumer_.client_id);
  EXPECT_EQ(subs[1]->subscriber_system_id, consumer_.id);
  EXPECT_EQ(subs[1]->endpoint, consumer_.endpoint);
  EXPECT_LT(subs[0]->id, subs[1]->id);

  const Topic* quiet = snap.FindTopic("QUIET");
  ASSERT_NE(quiet, nullptr);
  EXPECT_TRUE(snap.ApprovedSubscriptions(quiet->id).empty());
  EXPECT_TRUE(snap.ApprovedSubscriptions(12345).empty());

  // Later changes do not touch a loaded snapshot.
  ASSERT_TRUE(registry_.RevokeSubscription(third_id, "NEWUSR").ok());
  EXPECT_EQ(snap.ApprovedSubscriptions(topic->id).size(), 2u);
  auto after = Snapshot::Load(*db_, &snap);
  ASSERT_TRUE(after.ok());
  auto after_subs = (*after)->ApprovedSubscriptions(topic->id);
  ASSERT_EQ(after_subs.size(), 1u);
  EXPECT_EQ(after_subs[0]->subscriber_client_id, consumer_.client_id);
}

TEST_F(SnapshotTest, CarriesLimitsFallbacksAndReplayPolicy) {
  AddFixtures();
  ApiSettings settings;
  settings.rate_per_second = 20;
  settings.rate_burst = 40;
  settings.replay_policy = ReplayPolicy::kRefuse;
  ASSERT_TRUE(registry_.AddApi(provider_.client_id, "PAYBIL", settings).ok());
  ASSERT_TRUE(
      registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = 0.25, .burst = 2})
          .ok());
  ASSERT_TRUE(
      registry_.SetSystemRateLimit(provider_.client_id, {.rate_per_second = kRateUnlimited}).ok());
  ASSERT_TRUE(registry_.SetSignatureFallbacks(consumer_.client_id, false).ok());

  auto loaded = Snapshot::Load(*db_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Snapshot& snap = **loaded;
  const System* c = snap.FindSystem(consumer_.client_id);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rate_per_second, 0.25);
  EXPECT_EQ(c->rate_burst, 2);
  EXPECT_FALSE(c->signature_fallbacks);
  const System* p = snap.FindSystemById(provider_.id);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->rate_per_second, kRateUnlimited);
  EXPECT_EQ(p->rate_burst, kRateDefault);
  EXPECT_TRUE(p->signature_fallbacks);
  const Api* paybil = snap.FindApi("PAYBIL");
  ASSERT_NE(paybil, nullptr);
  EXPECT_EQ(paybil->rate_per_second, 20);
  EXPECT_EQ(paybil->rate_burst, 40);
  EXPECT_EQ(paybil->replay_policy, ReplayPolicy::kRefuse);
  const Api* getusr = snap.FindApi("GETUSR");
  ASSERT_NE(getusr, nullptr);
  EXPECT_EQ(getusr->rate_per_second, kRateDefault);
  EXPECT_EQ(getusr->replay_policy, ReplayPolicy::kRecord);

  // A change reaches the next snapshot (loaded with the previous one, as the watcher does),
  // not the loaded one; the parsed key is reused.
  ASSERT_TRUE(registry_.SetSignatureFallbacks(consumer_.client_id, true).ok());
  ASSERT_TRUE(registry_.SetApiReplayPolicy("PAYBIL", ReplayPolicy::kRecord).ok());
  ASSERT_TRUE(registry_.SetApiRateLimit("PAYBIL", {.burst = 0}).ok());
  auto next = Snapshot::Load(*db_, &snap);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_TRUE((*next)->FindSystem(consumer_.client_id)->signature_fallbacks);
  EXPECT_TRUE((*next)->FindSystem(consumer_.client_id)->public_key.has_value());
  EXPECT_EQ((*next)->FindApi("PAYBIL")->replay_policy, ReplayPolicy::kRecord);
  EXPECT_EQ((*next)->FindApi("PAYBIL")->rate_burst, kRateDefault);
  EXPECT_EQ((*next)->FindApi("PAYBIL")->rate_per_second, 20);
  EXPECT_FALSE(c->signature_fallbacks);
  EXPECT_EQ(paybil->replay_policy, ReplayPolicy::kRefuse);
}

TEST_F(SnapshotTest, IsImmutableAfterLoad) {
  AddFixtures();
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
  auto before = Snapshot::Load(*db_);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(registry_.RevokeGrant(consumer_.client_id, "GETUSR").ok());
  ASSERT_TRUE(registry_.RotateSecret(consumer_.client_id).ok());
  auto after = Snapshot::Load(*db_, before->get());
  ASSERT_TRUE(after.ok());

  EXPECT_TRUE((*before)->HasApprovedGrant(consumer_.id, api_.id));
  EXPECT_FALSE((*after)->HasApprovedGrant(consumer_.id, api_.id));
  EXPECT_EQ((*before)->FindSystem(consumer_.client_id)->credential_version, 1);
  EXPECT_EQ((*after)->FindSystem(consumer_.client_id)->credential_version, 2);
  // Keys reused from `previous` still work.
  EXPECT_TRUE((*after)->FindSystem(consumer_.client_id)->public_key.has_value());
}

TEST_F(SnapshotTest, UnparseableStoredKeyFailsClosedForThatSystemOnly) {
  AddFixtures();
  ASSERT_TRUE(db_->Exec("UPDATE systems SET public_key = 'garbage' WHERE id = " +
                        std::to_string(consumer_.id))
                  .ok());
  auto snapshot = Snapshot::Load(*db_);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_FALSE((*snapshot)->FindSystem(consumer_.client_id)->public_key.has_value());
  EXPECT_TRUE((*snapshot)->FindSystem(provider_.client_id)->public_key.has_value());
}

TEST(SnapshotLoad, FailsOnAnUnmigratedDatabase) {
  auto db = store::Database::Open(":memory:");
  ASSERT_TRUE(db.ok());
  auto snapshot = Snapshot::Load(**db);
  EXPECT_FALSE(snapshot.ok());
}

}  // namespace
}  // namespace govesb::registry
