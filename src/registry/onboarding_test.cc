// Onboarding in the registry: institutions renamed and suspended, the catalogue entries, APIs
// disabled, access requests and their decisions, membership applications.
#include <gtest/gtest.h>

#include <string>

#include "registry/registry_testing.h"
#include "registry/snapshot.h"
#include "registry/validation.h"

namespace govesb::registry {
namespace {

using testing::DumpTables;
using testing::NewPublicKey;

class OnboardingTest : public testing::RegistryOnBoth {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.AddInstitution("RITA", "Registration Agency").ok());
    ASSERT_TRUE(registry_.AddInstitution("MOH", "Ministry of Health").ok());
    auto provider = registry_.AddSystem("RITA", "Births", NewPublicKey(), "https://rita/api");
    auto consumer = registry_.AddSystem("MOH", "Records", NewPublicKey(), "https://moh/api");
    ASSERT_TRUE(provider.ok() && consumer.ok());
    rita_ = provider->system.client_id;
    moh_ = consumer->system.client_id;
    ASSERT_TRUE(registry_.AddApi(rita_, "BRTH01").ok());
    ASSERT_TRUE(registry_.AddTopic(rita_, "BIRTHS").ok());
  }

  // Expects `status` to be `code`, with `text` in its message, and no table changed by it.
  template <typename T>
  void ExpectRefused(const std::string& before, const Result<T>& result, StatusCode code,
                     std::string_view text) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), code) << result.status().ToString();
    EXPECT_NE(result.status().message().find(text), std::string::npos) << result.status().message();
    EXPECT_EQ(DumpTables(*db_), before) << "a refused operation changed the registry";
  }

  NewApplication Application(std::string code = "TRA") {
    return NewApplication{.institution_code = std::move(code),
                          .institution_name = "Revenue Authority",
                          .details = "Collects taxes.",
                          .contact_name = "Asha Mussa",
                          .contact_email = "asha@tra.go.tz",
                          .contact_phone = "+255 22 211 9343",
                          .planned_systems = {{"Tax Portal", "checks taxpayer numbers"}}};
  }

  std::string rita_;
  std::string moh_;
};

// ---- institutions ----

INSTANTIATE_TEST_SUITE_P(Backends, OnboardingTest, store::testing::BothBackends(),
                         store::testing::BackendName);

TEST_P(OnboardingTest, RenamingChangesTheNameOnly) {
  auto renamed = registry_.RenameInstitution("RITA", "  Registration, Insolvency Agency ");
  ASSERT_TRUE(renamed.ok()) << renamed.status().ToString();
  EXPECT_EQ(renamed->code, "RITA");
  EXPECT_EQ(renamed->name, "Registration, Insolvency Agency");
  EXPECT_EQ(registry_.GetSystem(rita_)->credential_version, 1) << "credentials untouched";
  const std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.RenameInstitution("RITA", " "), StatusCode::kInvalidArgument,
                "institution name is empty");
  ExpectRefused(before, registry_.RenameInstitution("NOPE", "x"), StatusCode::kNotFound,
                "institution 'NOPE' not found");
}

TEST_P(OnboardingTest, SuspendingStopsEverySystemOfTheInstitutionInTheSnapshot) {
  auto suspended = registry_.SuspendInstitution("RITA");
  ASSERT_TRUE(suspended.ok()) << suspended.status().ToString();
  EXPECT_TRUE(suspended->suspended);
  auto snapshot = Snapshot::Load(*db_);
  ASSERT_TRUE(snapshot.ok());
  const System* provider = (*snapshot)->FindSystem(rita_);
  ASSERT_NE(provider, nullptr);
  EXPECT_FALSE(provider->enabled);
  EXPECT_EQ(provider->credential_version, 2) << "tokens issued before die";
  EXPECT_TRUE((*snapshot)->FindSystem(moh_)->enabled) << "other institutions unaffected";
  // The registry's own view keeps the system's flag, and says why it is stopped.
  EXPECT_TRUE(registry_.GetSystem(rita_)->enabled);
  EXPECT_TRUE(registry_.GetSystem(rita_)->institution_suspended);

  const std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.SuspendInstitution("RITA"), StatusCode::kFailedPrecondition,
                "already suspended");
  ASSERT_TRUE(registry_.ResumeInstitution("RITA").ok());
  snapshot = Snapshot::Load(*db_);
  EXPECT_TRUE((*snapshot)->FindSystem(rita_)->enabled);
  EXPECT_EQ((*snapshot)->FindSystem(rita_)->credential_version, 3);
  EXPECT_EQ(registry_.ResumeInstitution("RITA").status().code(), StatusCode::kFailedPrecondition);
}

// ---- the catalogue ----

TEST_P(OnboardingTest, AnApiIsDescribedWithValidatedJsonExamplesAndAnOpenApiDocument) {
  ApiDescription d{.title = "Birth certificate lookup",
                   .description = "Finds a birth certificate by number.\nAnswers in a second.",
                   .request_example = R"({"certificateNo":"B-2024-000117"})",
                   .response_example = R"({"name":"Asha","born":"2024-01-02"})",
                   .openapi = R"({"openapi":"3.0.3","info":{"title":"x","version":"1"}})"};
  auto described = registry_.DescribeApi("BRTH01", d);
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(described->title, "Birth certificate lookup");
  EXPECT_TRUE(described->has_openapi);
  EXPECT_EQ(described->openapi, *d.openapi);
  // Lists carry everything but the document itself; the provider is named.
  auto listed = registry_.ListApis();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)[0].description, *d.description);
  EXPECT_EQ((*listed)[0].request_example, *d.request_example);
  EXPECT_TRUE((*listed)[0].has_openapi);
  EXPECT_TRUE((*listed)[0].openapi.empty());
  EXPECT_EQ((*listed)[0].provider_name, "Births");
  EXPECT_EQ((*listed)[0].provider_institution_code, "RITA");
  EXPECT_EQ((*listed)[0].provider_institution_name, "Registration Agency");
  // Unset members stay; "" clears one.
  auto cleared = registry_.DescribeApi("BRTH01", {.response_example = ""});
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->title, "Birth certificate lookup");
  EXPECT_EQ(cleared->response_example, "");

  const std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.DescribeApi("BRTH01", {.request_example = "{\"a\":"}),
                StatusCode::kInvalidArgument, "the request example is not valid JSON");
  ExpectRefused(before, registry_.DescribeApi("BRTH01", {.openapi = R"({"swagger":"2.0"})"}),
                StatusCode::kInvalidArgument, "\"openapi\" member");
  ExpectRefused(
      before, registry_.DescribeApi("BRTH01", {.openapi = std::string(kMaxOpenApiBytes + 1, ' ')}),
      StatusCode::kInvalidArgument, "larger than 256 KB");
  ExpectRefused(
      before,
      registry_.DescribeApi("BRTH01", {.description = std::string(kMaxDescriptionBytes + 1, 'x')}),
      StatusCode::kInvalidArgument, "the description is longer than");
  ExpectRefused(before, registry_.DescribeApi("BRTH01", {.description = "bad \x01 byte"}),
                StatusCode::kInvalidArgument, "control characters");
  ExpectRefused(before, registry_.DescribeApi("BRTH01", {.description = "bad \xC3 utf8"}),
                StatusCode::kInvalidArgument, "not valid UTF-8");
  ExpectRefused(before, registry_.DescribeApi("BRTH01", {}), StatusCode::kInvalidArgument,
                "nothing to change");
  ExpectRefused(before, registry_.DescribeApi("NOSUCH", {.title = "x"}), StatusCode::kNotFound,
                "API 'NOSUCH' not found");
}

TEST_P(OnboardingTest, PublishingAnApiWithABadDescriptionAddsNothing) {
  const std::string before = DumpTables(*db_);
  ApiSettings settings;
  settings.description.title = "Deaths";
  settings.description.response_example = "not json";
  ExpectRefused(before, registry_.AddApi(rita_, "DETH01", settings), StatusCode::kInvalidArgument,
                "the response example is not valid JSON");
  settings.description.response_example = "[]";
  auto added = registry_.AddApi(rita_, "DETH01", settings);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->title, "Deaths");
}

TEST_P(OnboardingTest, ADisabledApiIsInTheSnapshotAsDisabledAndKeepsItsGrants) {
  ASSERT_TRUE(registry_.AddGrant(moh_, "BRTH01").ok());
  auto disabled = registry_.DisableApi("BRTH01");
  ASSERT_TRUE(disabled.ok());
  EXPECT_FALSE(disabled->enabled);
  auto snapshot = Snapshot::Load(*db_);
  ASSERT_TRUE(snapshot.ok());
  const Api* api = (*snapshot)->FindApi("BRTH01");
  ASSERT_NE(api, nullptr);
  EXPECT_FALSE(api->enabled);
  EXPECT_EQ((*snapshot)->approved_grant_count(), 1u);
  EXPECT_EQ(registry_.DisableApi("BRTH01").status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(registry_.EnableApi("BRTH01").ok());
  EXPECT_TRUE((*Snapshot::Load(*db_))->FindApi("BRTH01")->enabled);
  EXPECT_EQ(registry_.EnableApi("BRTH01").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry_.DisableApi("NOSUCH").status().code(), StatusCode::kNotFound);
}

TEST_P(OnboardingTest, ADisabledTopicIsInTheSnapshotAsDisabledAndKeepsItsSubscriptions) {
  ASSERT_TRUE(registry_.AddSubscription(moh_, "BIRTHS").ok());
  EXPECT_TRUE(registry_.GetTopic("BIRTHS")->enabled) << "a new topic is enabled";
  const std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.EnableTopic("BIRTHS"), StatusCode::kFailedPrecondition,
                "push topic 'BIRTHS' is already enabled");
  ExpectRefused(before, registry_.DisableTopic("NOSUCH"), StatusCode::kNotFound,
                "topic 'NOSUCH' not found");
  auto disabled = registry_.DisableTopic("BIRTHS");
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  EXPECT_FALSE(disabled->enabled);
  EXPECT_FALSE(registry_.ListTopics()->front().enabled);
  auto snapshot = Snapshot::Load(*db_);
  ASSERT_TRUE(snapshot.ok());
  const Topic* topic = (*snapshot)->FindTopic("BIRTHS");
  ASSERT_NE(topic, nullptr) << "a disabled topic is found, to be refused by name";
  EXPECT_FALSE(topic->enabled);
  EXPECT_EQ((*snapshot)->ApprovedSubscriptions(topic->id).size(), 1u);
  const std::string disabled_tables = DumpTables(*db_);
  ExpectRefused(disabled_tables, registry_.DisableTopic("BIRTHS"), StatusCode::kFailedPrecondition,
                "push topic 'BIRTHS' is already disabled");
  auto enabled = registry_.EnableTopic("BIRTHS");
  ASSERT_TRUE(enabled.ok()) << enabled.status().ToString();
  EXPECT_TRUE(enabled->enabled);
  EXPECT_TRUE((*Snapshot::Load(*db_))->FindTopic("BIRTHS")->enabled);
  EXPECT_EQ(registry_.GetSubscription(moh_, "BIRTHS")->state, kSubscriptionApproved);
}

TEST_P(OnboardingTest, ATopicIsDescribed) {
  auto described =
      registry_.DescribeTopic("BIRTHS", {.title = "Births",
                                         .description = "Every birth registered",
                                         .message_example = R"({"certificateNo":"B-1"})"});
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(described->title, "Births");
  EXPECT_EQ(registry_.ListTopics()->front().message_example, R"({"certificateNo":"B-1"})");
  const std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.DescribeTopic("BIRTHS", {.message_example = "{"}),
                StatusCode::kInvalidArgument, "the message example is not valid JSON");
}

// ---- access requests ----

TEST_P(OnboardingTest, AGrantIsRequestedRefusedRequestedAgainApprovedAndRevoked) {
  const AccessRequest request{.requested_by = "admin@moh.go.tz",
                              .purpose = "verify births of patients"};
  auto pending = registry_.RequestGrant(moh_, "BRTH01", request);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(pending->state, kAccessPending);
  EXPECT_EQ(pending->trail.requested_by, "admin@moh.go.tz");
  EXPECT_EQ(pending->trail.purpose, "verify births of patients");
  auto snapshot = Snapshot::Load(*db_);
  EXPECT_EQ((*snapshot)->approved_grant_count(), 0u) << "a request is not access";

  std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.RequestGrant(moh_, "BRTH01", request), StatusCode::kAlreadyExists,
                "awaits a decision");
  ExpectRefused(before, registry_.RefuseGrantRequest(moh_, "BRTH01", {.decided_by = "admin@rita"}),
                StatusCode::kInvalidArgument, "the reason is required");
  ExpectRefused(before, registry_.RevokeGrant(moh_, "NOSUCH", {}), StatusCode::kNotFound,
                "API 'NOSUCH' not found");

  auto refused = registry_.RefuseGrantRequest(
      moh_, "BRTH01", {.decided_by = "admin@rita.go.tz", .reason = "no legal basis"});
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->state, kAccessRefused);
  EXPECT_EQ(refused->trail.reason, "no legal basis");
  EXPECT_EQ(refused->trail.purpose, "verify births of patients") << "the request is kept";
  before = DumpTables(*db_);
  ExpectRefused(before, registry_.ApproveGrantRequest(moh_, "BRTH01", {.decided_by = "admin@rita"}),
                StatusCode::kFailedPrecondition, "only a pending request can be approved");
  ExpectRefused(before, registry_.RevokeGrant(moh_, "BRTH01", {.reason = "x"}),
                StatusCode::kFailedPrecondition, "nothing to revoke");

  // Asked again, with a new purpose: the old decision is cleared.
  auto again = registry_.RequestGrant(
      moh_, "BRTH01", {.requested_by = "admin@moh.go.tz", .purpose = "under the 2025 act"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->state, kAccessPending);
  EXPECT_EQ(again->trail.reason, "");
  auto approved = registry_.ApproveGrantRequest(moh_, "BRTH01", {.decided_by = "admin@rita.go.tz"});
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->state, kAccessApproved);
  EXPECT_EQ(approved->trail.decided_by, "admin@rita.go.tz");
  snapshot = Snapshot::Load(*db_);
  EXPECT_EQ((*snapshot)->approved_grant_count(), 1u);
  before = DumpTables(*db_);
  ExpectRefused(before, registry_.RequestGrant(moh_, "BRTH01", request), StatusCode::kAlreadyExists,
                "already has an approved grant");

  auto revoked = registry_.RevokeGrant(moh_, "BRTH01",
                                       {.decided_by = "op@ega.go.tz", .reason = "contract ended"});
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->state, kAccessRevoked);
  EXPECT_EQ(revoked->trail.reason, "contract ended");
  EXPECT_EQ(registry_.ListGrants("revoked")->size(), 1u);
  EXPECT_TRUE(registry_.ListGrants("pending")->empty());
  EXPECT_EQ(registry_.ListGrants("maybe").status().code(), StatusCode::kInvalidArgument);
  // Re-requesting after revocation is allowed.
  EXPECT_TRUE(registry_.RequestGrant(moh_, "BRTH01", request).ok());
}

TEST_P(OnboardingTest, ARequestNeedsAPurposeAndARequester) {
  const std::string before = DumpTables(*db_);
  ExpectRefused(before,
                registry_.RequestGrant(moh_, "BRTH01", {.requested_by = "a@moh", .purpose = " "}),
                StatusCode::kInvalidArgument, "the purpose of the request is required");
  ExpectRefused(before, registry_.RequestGrant(moh_, "BRTH01", {.purpose = "x"}),
                StatusCode::kInvalidArgument, "name the account asking");
  ExpectRefused(before,
                registry_.RequestGrant(
                    moh_, "BRTH01",
                    {.requested_by = "a@moh", .purpose = std::string(kMaxReasonBytes + 1, 'p')}),
                StatusCode::kInvalidArgument, "longer than 2000 bytes");
  ExpectRefused(
      before,
      registry_.RequestGrant("no-such-system", "BRTH01", {.requested_by = "a@moh", .purpose = "x"}),
      StatusCode::kNotFound, "consumer system 'no-such-system' not found");
}

TEST_P(OnboardingTest, ASubscriptionIsRequestedWithItsEndpointAndApproved) {
  auto pending = registry_.RequestSubscription(
      moh_, "BIRTHS", {.requested_by = "admin@moh.go.tz", .purpose = "birth notices"},
      "https://moh/births");
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(pending->state, kAccessPending);
  EXPECT_TRUE((*Snapshot::Load(*db_))->ApprovedSubscriptions(pending->topic_id).empty());
  auto approved =
      registry_.ApproveSubscriptionRequest(moh_, "BIRTHS", {.decided_by = "admin@rita.go.tz"});
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->endpoint, "https://moh/births") << "the requested endpoint is kept";
  EXPECT_EQ((*Snapshot::Load(*db_))->ApprovedSubscriptions(pending->topic_id).size(), 1u);
  const std::string before = DumpTables(*db_);
  ExpectRefused(
      before,
      registry_.RefuseSubscriptionRequest(moh_, "BIRTHS", {.decided_by = "x", .reason = "late"}),
      StatusCode::kFailedPrecondition, "only a pending request can be refused");
  auto revoked = registry_.RevokeSubscription(moh_, "BIRTHS", {.reason = "ended"});
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->trail.reason, "ended");
}

TEST_P(OnboardingTest, MigrationSixKeepsGrantAndSubscriptionIds) {
  ASSERT_TRUE(registry_.AddGrant(moh_, "BRTH01").ok());
  auto sub = registry_.AddSubscription(moh_, "BIRTHS");
  ASSERT_TRUE(sub.ok());
  // Refused is a state the table accepts now.
  ASSERT_TRUE(db_->Exec("UPDATE grants SET state = 'refused'").ok());
  EXPECT_FALSE(db_->Exec("UPDATE grants SET state = 'maybe'").ok());
  EXPECT_EQ(registry_.GetSubscription(moh_, "BIRTHS")->id, sub->id);
}

// ---- membership applications ----

TEST_P(OnboardingTest, AnApplicationIsSubmittedAndAcceptedCreatingTheInstitution) {
  auto submitted = registry_.SubmitApplication(Application());
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  EXPECT_EQ(submitted->state, kApplicationPending);
  ASSERT_EQ(submitted->planned_systems.size(), 1u);
  EXPECT_EQ(submitted->planned_systems[0].name, "Tax Portal");
  EXPECT_EQ(registry_.ListApplications("pending")->size(), 1u);
  std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.SubmitApplication(Application()), StatusCode::kAlreadyExists,
                "already pending");
  ExpectRefused(before, registry_.SubmitApplication(Application("RITA")),
                StatusCode::kAlreadyExists, "already on the bus");

  auto accepted = registry_.AcceptApplication(submitted->id, "op@ega.go.tz");
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(accepted->institution.code, "TRA");
  EXPECT_EQ(accepted->institution.name, "Revenue Authority");
  EXPECT_EQ(accepted->application.state, kApplicationAccepted);
  EXPECT_EQ(accepted->application.contact_email, "asha@tra.go.tz");
  EXPECT_EQ(accepted->application.decided_by, "op@ega.go.tz");
  EXPECT_TRUE(registry_.GetInstitution("TRA").ok());
  before = DumpTables(*db_);
  ExpectRefused(before, registry_.AcceptApplication(submitted->id, "op"),
                StatusCode::kFailedPrecondition, "was already accepted");
  ExpectRefused(before, registry_.AcceptApplication(999, "op"), StatusCode::kNotFound,
                "membership application 999 not found");
}

TEST_P(OnboardingTest, AnApplicationIsRefusedWithAReason) {
  auto submitted = registry_.SubmitApplication(Application());
  ASSERT_TRUE(submitted.ok());
  const std::string before = DumpTables(*db_);
  ExpectRefused(before, registry_.RefuseApplication(submitted->id, {.decided_by = "op"}),
                StatusCode::kInvalidArgument, "the reason for the refusal is required");
  auto refused = registry_.RefuseApplication(
      submitted->id, {.decided_by = "op@ega.go.tz", .reason = "not a public body"});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->state, kApplicationRefused);
  EXPECT_EQ(refused->reason, "not a public body");
  EXPECT_FALSE(registry_.GetInstitution("TRA").ok());
  // Refused: the code may be applied for again.
  EXPECT_TRUE(registry_.SubmitApplication(Application()).ok());
}

TEST_P(OnboardingTest, ABadApplicationIsRefusedNamingTheField) {
  const std::string before = DumpTables(*db_);
  NewApplication a = Application();
  a.contact_email = "asha at tra";
  ExpectRefused(before, registry_.SubmitApplication(a), StatusCode::kInvalidArgument,
                "invalid contact e-mail address");
  a = Application();
  a.planned_systems.clear();
  ExpectRefused(before, registry_.SubmitApplication(a), StatusCode::kInvalidArgument,
                "at least one system");
  a = Application();
  a.institution_code = "T";
  ExpectRefused(before, registry_.SubmitApplication(a), StatusCode::kInvalidArgument,
                "invalid institution code");
  a = Application();
  a.contact_phone = "call me";
  ExpectRefused(before, registry_.SubmitApplication(a), StatusCode::kInvalidArgument,
                "invalid telephone number");
  a = Application();
  a.details = "";
  ExpectRefused(before, registry_.SubmitApplication(a), StatusCode::kInvalidArgument,
                "the details of the institution is required");
}

}  // namespace
}  // namespace govesb::registry
