// Snapshot::Build over rows made by hand: no storage. What a store must read back, and the
// snapshot a store's rows make, are in store_contract_test.cc.
#include "registry/snapshot.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "registry/registry_testing.h"

namespace govesb::registry {
namespace {

using testing::NewPublicKey;

Institution MakeInstitution(int64_t id, std::string code, bool suspended = false) {
  Institution institution;
  institution.id = id;
  institution.code = std::move(code);
  institution.name = "Institution " + institution.code;
  institution.suspended = suspended;
  return institution;
}

System MakeSystem(int64_t id, std::string client_id, const Institution& institution,
                  std::string public_key = NewPublicKey()) {
  System system;
  system.id = id;
  system.client_id = std::move(client_id);
  system.institution_id = institution.id;
  system.institution_code = institution.code;
  system.institution_suspended = institution.suspended;
  system.name = "System " + system.client_id;
  system.public_key_b64 = std::move(public_key);
  system.endpoint = "https://" + system.client_id + ".example/";
  return system;
}

Api MakeApi(int64_t id, std::string code, const System& provider) {
  Api api;
  api.id = id;
  api.code = std::move(code);
  api.provider_system_id = provider.id;
  api.provider_client_id = provider.client_id;
  api.endpoint = provider.endpoint;
  return api;
}

Grant MakeGrant(int64_t id, const System& consumer, const Api& api, std::string_view state) {
  Grant grant;
  grant.id = id;
  grant.consumer_system_id = consumer.id;
  grant.consumer_client_id = consumer.client_id;
  grant.api_id = api.id;
  grant.api_code = api.code;
  grant.state = std::string(state);
  return grant;
}

Subscription MakeSubscription(int64_t id, const System& subscriber, const Topic& topic,
                              std::string_view state) {
  Subscription subscription;
  subscription.id = id;
  subscription.subscriber_system_id = subscriber.id;
  subscription.subscriber_client_id = subscriber.client_id;
  subscription.topic_id = topic.id;
  subscription.topic_code = topic.code;
  subscription.endpoint = subscriber.endpoint;
  subscription.state = std::string(state);
  return subscription;
}

// EGA with provider (1) and consumer (2), TRA (suspended) with taxman (3); GETUSR and OTHER of
// the provider; the consumer's grants: GETUSR approved, OTHER in `other_grant_state`.
RegistryRows Fixture(std::string_view other_grant_state = kGrantRevoked) {
  RegistryRows rows;
  rows.institutions = {MakeInstitution(1, "EGA"), MakeInstitution(2, "TRA", true)};
  rows.systems = {
      MakeSystem(1, "provider", rows.institutions[0]),
      MakeSystem(2, "consumer", rows.institutions[0], NewPublicKey(crypto::Curve::kP256)),
      MakeSystem(3, "taxman", rows.institutions[1])};
  rows.apis = {MakeApi(10, "GETUSR", rows.systems[0]), MakeApi(11, "OTHER", rows.systems[0])};
  rows.grants = {MakeGrant(20, rows.systems[1], rows.apis[0], kGrantApproved),
                 MakeGrant(21, rows.systems[1], rows.apis[1], other_grant_state)};
  return rows;
}

TEST(SnapshotBuild, FromNoRows) {
  auto snapshot = Snapshot::Build(RegistryRows{});
  EXPECT_EQ(snapshot->system_count(), 0u);
  EXPECT_EQ(snapshot->api_count(), 0u);
  EXPECT_EQ(snapshot->FindSystem("x"), nullptr);
  EXPECT_EQ(snapshot->FindApi("ABCDE"), nullptr);
  EXPECT_EQ(snapshot->topic_count(), 0u);
  EXPECT_EQ(snapshot->FindTopic("ABCDE"), nullptr);
  EXPECT_TRUE(snapshot->ApprovedSubscriptions(1).empty());
}

TEST(SnapshotBuild, LookupsAndParsedKeys) {
  auto signer = crypto::PrivateKey::Generate(crypto::Curve::kP256);
  ASSERT_TRUE(signer.ok());
  RegistryRows rows = Fixture();
  rows.systems[0].public_key_b64 = signer->public_key().SpkiBase64();
  rows.systems[1].enabled = false;
  auto snapshot = Snapshot::Build(std::move(rows));
  const Snapshot& snap = *snapshot;
  EXPECT_EQ(snap.institution_count(), 2u);
  EXPECT_EQ(snap.system_count(), 3u);
  EXPECT_EQ(snap.enabled_system_count(), 1u);  // the consumer is disabled, taxman suspended
  EXPECT_EQ(snap.api_count(), 2u);
  EXPECT_EQ(snap.approved_grant_count(), 1u);

  // Lookup by a string_view into a larger buffer (no NUL terminator at the end of the id).
  const std::string buffer = "[provider]";
  const System* p = snap.FindSystem(std::string_view(buffer).substr(1, 8));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->curve, crypto::Curve::kP256);
  ASSERT_TRUE(p->public_key.has_value());
  EXPECT_TRUE(p->public_key->VerifyBase64("hello", signer->SignBase64("hello")));
  EXPECT_FALSE(p->public_key->VerifyBase64("hullo", signer->SignBase64("hello")));
  EXPECT_EQ(snap.FindSystemById(1), p);
  EXPECT_EQ(snap.FindSystemById(12345), nullptr);
  EXPECT_EQ(snap.FindSystem("rovider"), nullptr);
  ASSERT_NE(snap.FindInstitution("EGA"), nullptr);
  EXPECT_EQ(snap.FindInstitution("EGA")->name, "Institution EGA");
  EXPECT_FALSE(snap.FindSystem("consumer")->enabled);

  ASSERT_NE(snap.FindApi("GETUSR"), nullptr);
  EXPECT_EQ(snap.FindApi("getusr"), nullptr);  // case-sensitive
  EXPECT_TRUE(snap.HasApprovedGrant(2, 10));
  EXPECT_FALSE(snap.HasApprovedGrant(2, 11));  // revoked
  EXPECT_FALSE(snap.HasApprovedGrant(1, 10));
}

TEST(SnapshotBuild, OnlyApprovedGrantsCount) {
  for (std::string_view state : {kGrantPending, kGrantRefused, kGrantRevoked}) {
    auto snapshot = Snapshot::Build(Fixture(state));
    EXPECT_FALSE(snapshot->HasApprovedGrant(2, 11)) << state;
    EXPECT_TRUE(snapshot->HasApprovedGrant(2, 10)) << state;
  }
  EXPECT_TRUE(Snapshot::Build(Fixture(kGrantApproved))->HasApprovedGrant(2, 11));
}

TEST(SnapshotBuild, ASuspendedInstitutionsSystemsAreDisabled) {
  auto snapshot = Snapshot::Build(Fixture());
  const System* taxman = snapshot->FindSystem("taxman");
  ASSERT_NE(taxman, nullptr);
  EXPECT_FALSE(taxman->enabled);
  EXPECT_TRUE(taxman->institution_suspended);
  EXPECT_TRUE(snapshot->FindSystem("provider")->enabled);
}

TEST(SnapshotBuild, TopicsAndApprovedSubscriptionsInIdOrder) {
  RegistryRows rows = Fixture();
  Topic topic;
  topic.id = 30;
  topic.code = "NEWUSR";
  topic.publisher_system_id = 1;
  topic.publisher_client_id = "provider";
  topic.title = "New users";
  topic.message_example = R"({"id":1})";
  Topic quiet = topic;
  quiet.id = 31;
  quiet.code = "QUIET";
  rows.topics = {topic, quiet};
  // Out of order on purpose: the snapshot orders approved subscriptions by id.
  rows.subscriptions = {MakeSubscription(42, rows.systems[1], topic, kSubscriptionApproved),
                        MakeSubscription(41, rows.systems[2], topic, kSubscriptionApproved),
                        MakeSubscription(43, rows.systems[0], topic, kSubscriptionRevoked),
                        MakeSubscription(44, rows.systems[0], quiet, kSubscriptionPending),
                        MakeSubscription(45, rows.systems[1], quiet, kSubscriptionRefused)};
  rows.subscriptions[1].endpoint = "https://hooks.example/x";
  auto snapshot = Snapshot::Build(std::move(rows));
  const Snapshot& snap = *snapshot;

  EXPECT_EQ(snap.topic_count(), 2u);
  const Topic* found = snap.FindTopic("NEWUSR");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->publisher_client_id, "provider");
  EXPECT_TRUE(found->title.empty());  // the catalogue's texts are left out
  EXPECT_TRUE(found->message_example.empty());
  EXPECT_EQ(snap.FindTopic("newusr"), nullptr);  // case-sensitive
  EXPECT_EQ(snap.FindTopic("GETUSR"), nullptr);  // an API, not a topic
  const std::string buffer = "xNEWUSRx";
  EXPECT_EQ(snap.FindTopic(std::string_view(buffer).substr(1, 6)), found);

  std::vector<const Subscription*> subs = snap.ApprovedSubscriptions(30);
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0]->id, 41);
  EXPECT_EQ(subs[0]->endpoint, "https://hooks.example/x");
  EXPECT_EQ(subs[1]->id, 42);
  EXPECT_EQ(snap.FindApprovedSubscription(41), subs[0]);
  EXPECT_EQ(snap.FindApprovedSubscription(43), nullptr);  // revoked
  EXPECT_EQ(snap.FindApprovedSubscription(44), nullptr);  // pending
  EXPECT_TRUE(snap.ApprovedSubscriptions(31).empty());    // pending and refused only
  EXPECT_TRUE(snap.ApprovedSubscriptions(12345).empty());
}

TEST(SnapshotBuild, ReusesTheParsedKeysOfUnchangedSystemsOnly) {
  RegistryRows rows = Fixture();
  auto before = Snapshot::Build(rows);
  const System* provider_before = before->FindSystem("provider");
  const System* consumer_before = before->FindSystem("consumer");
  ASSERT_TRUE(provider_before->public_key.has_value());
  ASSERT_TRUE(consumer_before->public_key.has_value());

  // The provider's key changes; the consumer's does not.
  rows.systems[0].public_key_b64 = NewPublicKey(crypto::Curve::kP521);
  auto after = Snapshot::Build(rows, before.get());
  const System* provider_after = after->FindSystem("provider");
  const System* consumer_after = after->FindSystem("consumer");
  ASSERT_TRUE(provider_after->public_key.has_value());
  ASSERT_TRUE(consumer_after->public_key.has_value());
  // The same OpenSSL key object: reused, not parsed again.
  EXPECT_EQ(consumer_after->public_key->evp(), consumer_before->public_key->evp());
  EXPECT_NE(provider_after->public_key->evp(), provider_before->public_key->evp());
  EXPECT_EQ(provider_after->curve, crypto::Curve::kP521);
  EXPECT_EQ(provider_before->curve, crypto::Curve::kSecp256k1);
  EXPECT_EQ(consumer_after->curve, crypto::Curve::kP256);
}

TEST(SnapshotBuild, IsImmutableOnceBuilt) {
  RegistryRows rows = Fixture();
  auto before = Snapshot::Build(rows);
  rows.grants[0].state = std::string(kGrantRevoked);
  rows.systems[1].credential_version = 2;
  auto after = Snapshot::Build(rows, before.get());
  EXPECT_TRUE(before->HasApprovedGrant(2, 10));
  EXPECT_FALSE(after->HasApprovedGrant(2, 10));
  EXPECT_EQ(before->FindSystem("consumer")->credential_version, 1);
  EXPECT_EQ(after->FindSystem("consumer")->credential_version, 2);
}

TEST(SnapshotBuild, AnUnparseableKeyFailsClosedForThatSystemOnly) {
  RegistryRows rows = Fixture();
  auto before = Snapshot::Build(rows);
  rows.systems[1].public_key_b64 = "garbage";
  // Also with a previous snapshot whose key for it did parse: it must not be reused.
  for (const Snapshot* previous : {static_cast<const Snapshot*>(nullptr), before.get()}) {
    auto snapshot = Snapshot::Build(rows, previous);
    EXPECT_FALSE(snapshot->FindSystem("consumer")->public_key.has_value());
    EXPECT_TRUE(snapshot->FindSystem("provider")->public_key.has_value());
  }
}

}  // namespace
}  // namespace govesb::registry
