#include "admin/service.h"

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <memory>
#include <string>

#include "admin/actors_testing.h"
#include "admin/render.h"
#include "base/encoding.h"
#include "base/temp_dir.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "delivery/pg_queue.h"
#include "delivery/sqlite_queue.h"
#include "evidence/pg_store.h"
#include "evidence/proof.h"
#include "evidence/sqlite_store.h"
#include "evidence/test_records.h"
#include "store/database.h"
#include "store/database_testing.h"
#include "store/group_commit.h"

namespace govesb::admin {
namespace {

using testing::kAuditor;
using testing::kMohAdmin;
using testing::kOperator;
using testing::kRitaAdmin;

std::string NewKey() {
  return crypto::PrivateKey::Generate(crypto::Curve::kP256)->public_key().SpkiBase64();
}

// A registry with two institutions: RITA provides BRTH01 and publishes BIRTHS from its system;
// MOH has a consumer system, granted BRTH01 and subscribed to BIRTHS.
class AdminServiceTest : public ::testing::Test {
 protected:
  // The registry above on a fresh database: `location` a SQLite file (or ":memory:") or a
  // PostgreSQL conninfo (store::testing::NewDatabase).
  void Open(store::Backend backend, const std::string& location) {
    backend_ = backend;
    location_ = location;
    db_ = store::testing::Connect(backend, location);
    ASSERT_TRUE(MigrateAll(*db_).ok());
    service_ = std::make_unique<AdminService>(*db_, Options());
    ASSERT_TRUE(service_->AddInstitution(kOperator, "RITA", "Registration Agency").ok());
    ASSERT_TRUE(service_->AddInstitution(kOperator, "MOH", "Ministry of Health").ok());
    auto rita = service_->AddSystem(kOperator, "RITA", "Births", NewKey(), "https://rita/api");
    auto moh = service_->AddSystem(kOperator, "MOH", "Records", NewKey(), "https://moh/api");
    ASSERT_TRUE(rita.ok() && moh.ok());
    rita_ = rita->system.client_id;
    moh_ = moh->system.client_id;
    ASSERT_TRUE(service_->AddApi(kOperator, rita_, "BRTH01", {}).ok());
    ASSERT_TRUE(service_->AddTopic(kOperator, rita_, "BIRTHS").ok());
    // Offered, but MOH has no access yet.
    ASSERT_TRUE(service_->AddApi(kOperator, rita_, "BRTH02", {}).ok());
    ASSERT_TRUE(service_->AddTopic(kOperator, rita_, "BIRTH2").ok());
    ASSERT_TRUE(service_->ApproveGrant(kOperator, moh_, "BRTH01").ok());
    ASSERT_TRUE(service_->ApproveSubscription(kOperator, moh_, "BIRTHS").ok());
    // Onboarding: BRTH02 and the topic BIRTH4 are disabled; MOH asked for BRTH03 and for
    // BIRTH3, pending; NAO is suspended; ZAN applied for membership (application 1).
    ASSERT_TRUE(service_->DisableApi(kOperator, "BRTH02").ok());
    ASSERT_TRUE(service_->AddTopic(kOperator, rita_, "BIRTH4").ok());
    ASSERT_TRUE(service_->DisableTopic(kOperator, "BIRTH4").ok());
    ASSERT_TRUE(service_->AddApi(kOperator, rita_, "BRTH03", {}).ok());
    ASSERT_TRUE(service_->AddTopic(kOperator, rita_, "BIRTH3").ok());
    ASSERT_TRUE(service_->RequestAccess(kMohAdmin, moh_, "BRTH03", "patients' births").ok());
    ASSERT_TRUE(service_->RequestSubscription(kMohAdmin, moh_, "BIRTH3", "birth notices").ok());
    ASSERT_TRUE(service_->AddInstitution(kOperator, "NAO", "Audit Office").ok());
    ASSERT_TRUE(service_->SuspendInstitution(kOperator, "NAO").ok());
    auto applied = service_->ApplyForMembership(Actor::Applicant("asha@tra.go.tz", "10.9.9.9"),
                                                Application("ZAN"));
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    ASSERT_EQ(applied->id, 1);
  }

 public:
  static registry::NewApplication Application(std::string code) {
    return registry::NewApplication{.institution_code = std::move(code),
                                    .institution_name = "Revenue Authority",
                                    .details = "Collects taxes.",
                                    .contact_name = "Asha Mussa",
                                    .contact_email = "asha@tra.go.tz",
                                    .contact_phone = "",
                                    .planned_systems = {{"Tax Portal", "taxpayer numbers"}}};
  }

 protected:
  int64_t ActionCount() { return ListActions(*db_, {.limit = 1000})->size(); }

  // What the CLI and the admin API give the service: on PostgreSQL, the conninfo for its
  // reading evidence store.
  // MOH's subscription to BIRTHS.
  registry::Subscription Births() {
    const std::vector<registry::Subscription> all = service_->ListSubscriptions(kOperator).value();
    for (const registry::Subscription& sub : all) {
      if (sub.topic_code == "BIRTHS") return sub;
    }
    ADD_FAILURE() << "no subscription to BIRTHS";
    return {};
  }

  ServiceOptions Options(std::optional<crypto::PublicKey> bus_key = std::nullopt) {
    return ServiceOptions{
        .clock = &clock_,
        .hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); },
        .bus_key = std::move(bus_key),
        .postgres_conninfo = backend_ == store::Backend::kPostgres ? location_ : "",
        .signer = &report_signer_};
  }

  // What signs the service's access reports.
  crypto::PrivateKey report_key_ = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value();
  crypto::LocalSigner report_signer_{report_key_};

  TempDir dir_;
  store::Backend backend_ = store::Backend::kSqlite;
  std::string location_;
  SimulatedClock clock_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AdminService> service_;
  std::string rita_;
  std::string moh_;
};

// Who may do what, as one table: each case runs on a fresh registry.
using Call = std::function<Status(AdminService&, const Actor&, const std::string& rita,
                                  const std::string& moh)>;
struct Case {
  std::string name;
  const Actor* actor;
  Call call;
  StatusCode expect;
};

// On SQLite in memory only: the table is long, and each case starts from a fresh registry.
class AuthorisationTest : public AdminServiceTest, public ::testing::WithParamInterface<Case> {
 protected:
  void SetUp() override { Open(store::Backend::kSqlite, ":memory:"); }
};

TEST_P(AuthorisationTest, AllowsOrRefusesAsTheRoleSays) {
  const Case& c = GetParam();
  const int64_t before = ActionCount();
  Status s = c.call(*service_, *c.actor, rita_, moh_);
  EXPECT_EQ(s.code(), c.expect) << s.ToString();
  if (!s.ok()) {
    EXPECT_EQ(ActionCount(), before) << "a refused call recorded an action";
  }
}

template <typename T>
Status Of(const Result<T>& result) {
  return result.status();
}

std::vector<Case> Cases() {
  using enum StatusCode;
  const std::array<const Actor*, 4> actors = {&kOperator, &kRitaAdmin, &kMohAdmin, &kAuditor};
  const std::array<const char*, 4> names = {"Operator", "RitaAdmin", "MohAdmin", "Auditor"};
  constexpr StatusCode kDenied = kPermissionDenied;
  std::vector<Case> out;
  // One operation: the expected code for the operator, RITA's admin (the provider), MOH's admin
  // (the consumer) and the auditor.
  auto row = [&](const std::string& op, std::array<StatusCode, 4> expect, Call call) {
    for (size_t i = 0; i < 4; ++i)
      out.push_back(Case{op + "_" + names[i], actors[i], call, expect[i]});
  };
  using S = AdminService;
  using Id = const std::string&;
  row("AddInstitution", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.AddInstitution(a, "TRA", "Revenue")); });
  row("ListInstitutions", {kOk, kOk, kOk, kOk},
      [](S& s, const Actor& a, Id, Id) { return Of(s.ListInstitutions(a)); });
  row("AddSystemToRita", {kOk, kOk, kDenied, kDenied}, [](S& s, const Actor& a, Id, Id) {
    return Of(s.AddSystem(a, "RITA", "Deaths", NewKey(), "https://rita/deaths"));
  });
  row("GetRitaSystem", {kOk, kOk, kDenied, kOk},
      [](S& s, const Actor& a, Id r, Id) { return Of(s.GetSystem(a, r)); });
  row("DisableRitaSystem", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id r, Id) { return Of(s.DisableSystem(a, r)); });
  row("RotateRitaSecret", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id r, Id) { return Of(s.RotateSecret(a, r)); });
  row("UpdateRitaEndpoint", {kOk, kOk, kDenied, kDenied}, [](S& s, const Actor& a, Id r, Id) {
    return Of(s.UpdateSystem(a, r, {.endpoint = "https://rita/v2"}));
  });
  row("SetRitaRateLimit", {kOk, kDenied, kDenied, kDenied}, [](S& s, const Actor& a, Id r, Id) {
    return Of(s.SetSystemRateLimit(a, r, {.rate_per_second = 10}));
  });
  row("SetRitaFallbacks", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id r, Id) { return Of(s.SetSignatureFallbacks(a, r, false)); });
  row("AddApiOfRitaSystem", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id r, Id) { return Of(s.AddApi(a, r, "DETH01", {})); });
  row("AddApiKeepingBodies", {kOk, kDenied, kDenied, kDenied}, [](S& s, const Actor& a, Id r, Id) {
    registry::ApiSettings settings;
    settings.store_bodies = true;
    return Of(s.AddApi(a, r, "DETH01", settings));
  });
  row("ListApis", {kOk, kOk, kOk, kOk},
      [](S& s, const Actor& a, Id, Id) { return Of(s.ListApis(a)); });
  row("ApiReplayPolicy", {kOk, kOk, kDenied, kDenied}, [](S& s, const Actor& a, Id, Id) {
    return Of(s.SetApiReplayPolicy(a, "BRTH01", registry::ReplayPolicy::kRefuse));
  });
  row("ApiStoreBodies", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.SetApiStoreBodies(a, "BRTH01", true)); });
  // Approval is the provider's (or the operator's); the consumer may withdraw its own access.
  row("ApproveMohGrant", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id m) { return Of(s.ApproveGrant(a, m, "BRTH02")); });
  row("RevokeMohGrant", {kOk, kOk, kOk, kDenied},
      [](S& s, const Actor& a, Id, Id m) { return Of(s.RevokeGrant(a, m, "BRTH01")); });
  row("AddTopicOfRitaSystem", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id r, Id) { return Of(s.AddTopic(a, r, "DEATHS")); });
  row("ApproveMohSubscription", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id m) { return Of(s.ApproveSubscription(a, m, "BIRTH2")); });
  row("RevokeMohSubscription", {kOk, kOk, kOk, kDenied},
      [](S& s, const Actor& a, Id, Id m) { return Of(s.RevokeSubscription(a, m, "BIRTHS")); });
  row("RedeliverAllDead", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.RedeliverAllDead(a, "")); });
  row("ListActions", {kOk, kOk, kOk, kOk},
      [](S& s, const Actor& a, Id, Id) { return Of(s.ListActions(a, {})); });
  // ---- onboarding ----
  constexpr StatusCode kBad = kInvalidArgument;
  row("RenameInstitution", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.RenameInstitution(a, "RITA", "RITA II")); });
  row("SuspendInstitution", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.SuspendInstitution(a, "RITA")); });
  row("ResumeInstitution", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.ResumeInstitution(a, "NAO")); });
  row("DescribeRitaApi", {kOk, kOk, kDenied, kDenied}, [](S& s, const Actor& a, Id, Id) {
    return Of(s.UpdateApiDescription(a, "BRTH01", {.title = "Births", .request_example = "{}"}));
  });
  row("PublishRitaApiContract", {kOk, kOk, kDenied, kDenied}, [](S& s, const Actor& a, Id, Id) {
    return Of(s.SetApiContract(a, "BRTH01", {.request_schema = R"({"type":"object"})"}));
  });
  row("DisableRitaApi", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.DisableApi(a, "BRTH01")); });
  row("EnableRitaApi", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.EnableApi(a, "BRTH02")); });
  row("DescribeRitaTopic", {kOk, kOk, kDenied, kDenied}, [](S& s, const Actor& a, Id, Id) {
    return Of(s.UpdateTopicDescription(a, "BIRTHS", {.description = "every birth"}));
  });
  row("DisableRitaTopic", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.DisableTopic(a, "BIRTHS")); });
  row("EnableRitaTopic", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.EnableTopic(a, "BIRTH4")); });
  // The registry's vocabulary, for whoever may ask: the state does not allow it, or no such topic.
  row("DisableDisabledTopic", {kFailedPrecondition, kFailedPrecondition, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.DisableTopic(a, "BIRTH4")); });
  row("EnableUnknownTopic", {kNotFound, kNotFound, kNotFound, kNotFound},
      [](S& s, const Actor& a, Id, Id) { return Of(s.EnableTopic(a, "NOSUCH")); });
  // Anyone may apply (the portal's applicant has no account).
  row("ApplyForMembership", {kOk, kOk, kOk, kOk}, [](S& s, const Actor& a, Id, Id) {
    return Of(s.ApplyForMembership(a, AdminServiceTest::Application("TRC")));
  });
  row("ListApplications", {kOk, kDenied, kDenied, kOk},
      [](S& s, const Actor& a, Id, Id) { return Of(s.ListApplications(a)); });
  row("AcceptApplication", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.AcceptApplication(a, 1)); });
  row("RefuseApplication", {kOk, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.RefuseApplication(a, 1, "not public")); });
  row("RefuseApplicationWithoutReason", {kBad, kDenied, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id) { return Of(s.RefuseApplication(a, 1, " ")); });
  // Access is requested by the consumer's side, decided by the provider's.
  row("RequestAccessForMoh", {kOk, kDenied, kOk, kDenied}, [](S& s, const Actor& a, Id, Id m) {
    return Of(s.RequestAccess(a, m, "BRTH02", "death records"));
  });
  row("ApproveMohRequest", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id m) { return Of(s.ApproveRequest(a, m, "BRTH03")); });
  row("RefuseMohRequest", {kOk, kOk, kDenied, kDenied}, [](S& s, const Actor& a, Id, Id m) {
    return Of(s.RefuseRequest(a, m, "BRTH03", "no legal basis"));
  });
  row("RefuseMohRequestWithoutReason", {kBad, kBad, kBad, kBad},
      [](S& s, const Actor& a, Id, Id m) { return Of(s.RefuseRequest(a, m, "BRTH03", "")); });
  row("RevokeMohGrantWithReason", {kOk, kOk, kOk, kDenied}, [](S& s, const Actor& a, Id, Id m) {
    return Of(s.RevokeGrant(a, m, "BRTH01", "contract ended"));
  });
  row("RevokeMohGrantWithoutReason", {kBad, kBad, kBad, kBad},
      [](S& s, const Actor& a, Id, Id m) { return Of(s.RevokeGrant(a, m, "BRTH01", "\n")); });
  row("ListAccessRequests", {kOk, kOk, kOk, kOk},
      [](S& s, const Actor& a, Id, Id) { return Of(s.ListAccessRequests(a)); });
  row("RequestSubscriptionForMoh", {kOk, kDenied, kOk, kDenied},
      [](S& s, const Actor& a, Id, Id m) {
        return Of(s.RequestSubscription(a, m, "BIRTH2", "birth notices"));
      });
  row("ApproveMohSubscriptionRequest", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id m) {
        return Of(s.ApproveSubscriptionRequest(a, m, "BIRTH3"));
      });
  row("RefuseMohSubscriptionRequest", {kOk, kOk, kDenied, kDenied},
      [](S& s, const Actor& a, Id, Id m) {
        return Of(s.RefuseSubscriptionRequest(a, m, "BIRTH3", "not needed"));
      });
  row("RevokeMohSubscriptionWithReason", {kOk, kOk, kOk, kDenied},
      [](S& s, const Actor& a, Id, Id m) {
        return Of(s.RevokeSubscription(a, m, "BIRTHS", "ended"));
      });
  row("MakeSubjectReport", {kOk, kDenied, kDenied, kOk}, [](S& s, const Actor& a, Id, Id) {
    return Of(s.MakeSubjectReport(a, {.user_id = "19900101-12345-00001-12"}));
  });
  row("MakeSubjectReportForNobody", {kBad, kDenied, kDenied, kBad},
      [](S& s, const Actor& a, Id, Id) { return Of(s.MakeSubjectReport(a, {.user_id = ""})); });
  // Unknown references are kNotFound for whoever asks (before any role check that needs them).
  row("DisableUnknownSystem", {kNotFound, kNotFound, kNotFound, kNotFound},
      [](S& s, const Actor& a, Id, Id) { return Of(s.DisableSystem(a, "no-such-system")); });
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryRole, AuthorisationTest, ::testing::ValuesIn(Cases()),
                         [](const auto& test) { return test.param.name; });

// The service on both backends: a database file of its own (SQLite) or a database of its own on
// the run's PostgreSQL server (a cluster's), per test.
class AdminServiceOnBoth : public AdminServiceTest,
                           public ::testing::WithParamInterface<store::Backend> {
 protected:
  void SetUp() override { Open(GetParam(), store::testing::NewDatabase(GetParam(), dir_)); }
};

INSTANTIATE_TEST_SUITE_P(Backends, AdminServiceOnBoth, store::testing::BothBackends(),
                         store::testing::BackendName);

TEST_P(AdminServiceOnBoth, AnInstitutionAdminSeesOnlyItsOwnSystemsGrantsAndActions) {
  auto systems = service_->ListSystems(kMohAdmin);
  ASSERT_TRUE(systems.ok());
  ASSERT_EQ(systems->size(), 1u);
  EXPECT_EQ((*systems)[0].client_id, moh_);
  EXPECT_EQ(service_->ListSystems(kAuditor)->size(), 2u);
  // A third institution with no part in the grant sees none of it.
  ASSERT_TRUE(service_->AddInstitution(kOperator, "TRA", "Revenue").ok());
  Actor tra{.account = "a@tra.go.tz", .role = Role::kInstitutionAdmin, .institution = "TRA"};
  EXPECT_TRUE(service_->ListGrants(tra)->empty());
  // BRTH01 approved and BRTH03 requested; BIRTHS approved and BIRTH3 requested.
  EXPECT_EQ(service_->ListGrants(kMohAdmin)->size(), 2u);   // as consumer
  EXPECT_EQ(service_->ListGrants(kRitaAdmin)->size(), 2u);  // as provider
  EXPECT_TRUE(service_->ListSubscriptions(tra)->empty());
  EXPECT_EQ(service_->ListSubscriptions(kMohAdmin)->size(), 2u);
  // TRA's actions: only its own institution.add (on object institution:TRA).
  auto actions = service_->ListActions(tra, {});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ((*actions)[0].action, "institution.add");
  EXPECT_GT(service_->ListActions(kAuditor, {})->size(), 5u);
}

TEST_P(AdminServiceOnBoth, EveryChangeIsRecordedWithBeforeAndAfterAndNeverASecret) {
  auto secret = service_->RotateSecret(kRitaAdmin, rita_);
  ASSERT_TRUE(secret.ok());
  auto actions = service_->ListActions(kOperator, {.object = "system:" + rita_, .limit = 1});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 1u);
  const ActionRecord& a = (*actions)[0];
  EXPECT_EQ(a.action, "system.rotate-secret");
  EXPECT_EQ(a.account, "admin@rita.go.tz");
  EXPECT_EQ(a.role, "institution-admin");
  EXPECT_EQ(a.address, "10.1.1.1");
  EXPECT_EQ(a.object_institution, "RITA");
  EXPECT_NE(a.detail.find("\"credential_version\":1"), std::string::npos) << a.detail;
  EXPECT_NE(a.detail.find("\"credential_version\":2"), std::string::npos) << a.detail;
  EXPECT_EQ(a.detail.find(*secret), std::string::npos) << "the new secret is in the record";
  EXPECT_EQ(a.detail.find("secret_hash"), std::string::npos);
}

TEST_P(AdminServiceOnBoth, AChangeTheRegistryRefusesLeavesNoRecord) {
  const int64_t before = ActionCount();
  auto bad = service_->AddSystem(kOperator, "RITA", "Bad", "not a key", "https://x/");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto dup = service_->AddApi(kOperator, rita_, "BRTH01", {});
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ActionCount(), before);
}

TEST_P(AdminServiceOnBoth, AnAccessRequestIsAskedRefusedAskedAgainAndApprovedWithItsTrail) {
  const Actor tra{.account = "a@tra.go.tz",
                  .role = Role::kInstitutionAdmin,
                  .institution = "TRA",
                  .address = "10.4.4.4",
                  .via = "portal"};
  auto requests = service_->ListAccessRequests(kRitaAdmin);
  ASSERT_TRUE(requests.ok());
  ASSERT_EQ(requests->grants.size(), 1u) << "RITA sees the request to its API";
  EXPECT_EQ(requests->grants[0].trail.requested_by, "admin@moh.go.tz");
  EXPECT_EQ(requests->grants[0].trail.purpose, "patients' births");
  EXPECT_EQ(requests->subscriptions.size(), 1u);
  EXPECT_EQ(service_->ListAccessRequests(kMohAdmin)->grants.size(), 1u) << "MOH asked";
  EXPECT_TRUE(service_->ListAccessRequests(tra)->grants.empty()) << "none of TRA's business";
  EXPECT_EQ(service_->ListAccessRequests(kOperator, "bogus").status().code(),
            StatusCode::kInvalidArgument);

  auto refused = service_->RefuseRequest(kRitaAdmin, moh_, "BRTH03", "no legal basis");
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->state, registry::kAccessRefused);
  EXPECT_EQ(refused->trail.decided_by, "admin@rita.go.tz");
  EXPECT_TRUE(service_->ListAccessRequests(kRitaAdmin)->grants.empty()) << "no longer pending";
  auto again = service_->RequestAccess(kMohAdmin, moh_, "BRTH03", "under the new act");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto approved = service_->ApproveRequest(kOperator, moh_, "BRTH03");
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->state, registry::kAccessApproved);
  EXPECT_EQ(service_->RequestAccess(kMohAdmin, moh_, "BRTH03", "again").status().code(),
            StatusCode::kAlreadyExists);
  auto actions = service_->ListActions(kOperator, {.object = "grant:" + moh_ + ":BRTH03"});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 4u);  // request, refuse, request, approve-request; newest first
  EXPECT_EQ((*actions)[0].action, "grant.approve-request");
  EXPECT_EQ((*actions)[2].action, "grant.refuse");
  EXPECT_NE((*actions)[2].detail.find("no legal basis"), std::string::npos);
}

TEST_P(AdminServiceOnBoth, TheOldRevokeRecordsTheCliReason) {
  const Actor cli = Actor::LocalOperator();
  auto revoked = service_->RevokeGrant(cli, moh_, "BRTH01");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->trail.reason, kCliRevokeReason);
  EXPECT_EQ(revoked->trail.decided_by, cli.account);
  auto sub = service_->RevokeSubscription(kMohAdmin, moh_, "BIRTHS");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->trail.reason, kNoStatedReason);
}

TEST_P(AdminServiceOnBoth, AnAcceptedApplicationCreatesTheInstitutionAndNamesItsContact) {
  auto applications = service_->ListApplications(kOperator, "pending");
  ASSERT_TRUE(applications.ok());
  ASSERT_EQ(applications->size(), 1u);
  auto submitted = service_->ListActions(kOperator, {.object = "application:1"});
  ASSERT_EQ(submitted->size(), 1u);
  EXPECT_EQ((*submitted)[0].account, "applicant:asha@tra.go.tz");
  EXPECT_EQ((*submitted)[0].role, "applicant");  // not the policy role it acts with
  EXPECT_EQ((*submitted)[0].via, "portal");

  auto accepted = service_->AcceptApplication(kOperator, 1);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(accepted->institution.code, "ZAN");
  EXPECT_EQ(accepted->application.contact_email, "asha@tra.go.tz");
  EXPECT_EQ(accepted->application.decided_by, "op@ega.go.tz");
  bool listed = false;
  auto institutions = service_->ListInstitutions(kAuditor);
  ASSERT_TRUE(institutions.ok());
  for (const registry::Institution& i : *institutions) {
    listed = listed || i.code == "ZAN";
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(service_->AcceptApplication(kOperator, 1).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->RefuseApplication(kOperator, 1, "late").status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(AdminServiceOnBoth, TheCatalogueNamesEachApisProviderAndDescription) {
  ASSERT_TRUE(service_
                  ->UpdateApiDescription(kRitaAdmin, "BRTH01",
                                         {.title = "Birth lookup",
                                          .description = "By certificate number",
                                          .openapi = R"({"openapi":"3.1.0"})"})
                  .ok());
  auto apis = service_->ListApis(kMohAdmin);
  ASSERT_TRUE(apis.ok());
  const registry::Api& api = apis->front();
  EXPECT_EQ(api.code, "BRTH01");
  EXPECT_EQ(api.title, "Birth lookup");
  EXPECT_EQ(api.provider_name, "Births");
  EXPECT_EQ(api.provider_institution_name, "Registration Agency");
  EXPECT_TRUE(api.has_openapi);
  EXPECT_FALSE((*apis)[1].enabled) << "BRTH02 was disabled";
  EXPECT_EQ(service_->GetApi(kMohAdmin, "BRTH01")->openapi, R"({"openapi":"3.1.0"})");
  auto bad = service_->UpdateApiDescription(kRitaAdmin, "BRTH01", {.openapi = "{}"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_P(AdminServiceOnBoth, AContractIsPublishedRecordedAndARefusedOneChangesNothing) {
  constexpr char kRequest[] = R"({"type":"object","required":["certificateNo"]})";
  auto published = service_->SetApiContract(kRitaAdmin, "BRTH01", {.request_schema = kRequest});
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  EXPECT_EQ(service_->GetApi(kMohAdmin, "BRTH01")->request_schema, kRequest);  // the catalogue
  const std::string digest = HexEncode(crypto::Sha256(kRequest));
  EXPECT_EQ(ToJson(*published).at("request_schema_sha256").as_string(), digest);
  EXPECT_TRUE(ToJson(*published).at("response_schema_sha256").is_null());

  const int64_t before = ActionCount();
  auto bad = service_->SetApiContract(kRitaAdmin, "BRTH01",
                                      {.request_schema = R"({"required":"certificateNo"})"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "the request schema: #/required: must be an array of strings");
  EXPECT_EQ(ActionCount(), before) << "a refused contract left a record";
  EXPECT_EQ(service_->GetApi(kOperator, "BRTH01")->request_schema, kRequest);

  auto actions = service_->ListActions(kOperator, {.object = "api:BRTH01", .limit = 1});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ((*actions)[0].action, "api.contract");
  EXPECT_NE((*actions)[0].detail.find("\"request_schema_sha256\":\"" + digest + "\""),
            std::string::npos)
      << (*actions)[0].detail;
}

TEST_P(AdminServiceOnBoth, TheCatalogueShowsWhetherEachTopicTakesPushes) {
  auto topics = service_->ListTopics(kMohAdmin);
  ASSERT_TRUE(topics.ok()) << topics.status().ToString();
  for (const registry::Topic& t : *topics) {
    EXPECT_EQ(t.enabled, t.code != "BIRTH4") << t.code;
    EXPECT_EQ(ToJson(t).at("enabled").as_bool(), t.enabled) << t.code;
  }
}

TEST_P(AdminServiceOnBoth, SuspendingAnInstitutionIsRecorded) {
  ASSERT_TRUE(service_->SuspendInstitution(kOperator, "RITA").ok());
  EXPECT_TRUE(service_->GetSystem(kOperator, rita_)->institution_suspended);
  auto actions = service_->ListActions(kOperator, {.object = "institution:RITA", .limit = 1});
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ((*actions)[0].action, "institution.suspend");
  EXPECT_EQ(service_->SuspendInstitution(kOperator, "RITA").status().code(),
            StatusCode::kFailedPrecondition);
}

// What the bus (or a cluster node) writes with, on the service's database: the group-commit
// writer with the evidence store as its commit participant, and the delivery queue on it, as
// `govesb serve` wires them (on PostgreSQL: node-1's chain).
class BusWritePath {
 public:
  BusWritePath(store::Backend backend, const std::string& location)
      : key_(crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value()), signer_(key_) {
    if (backend == store::Backend::kSqlite) {
      writer_ = store::GroupCommitWriter::Open(location).value();
      evidence_ = evidence::SqliteEvidenceStore::Open(location, *writer_, signer_).value();
      queue_ = delivery::SqliteDeliveryQueue::Open(location, *writer_).value();
    } else {
      writer_ = store::GroupCommitWriter::Start(store::testing::Connect(backend, location)).value();
      evidence_ = evidence::PgEvidenceStore::Open(location, *writer_, signer_,
                                                  {.node_id = "node-1", .postgres = {}})
                      .value();
      queue_ = delivery::PgDeliveryQueue::Open(location, *writer_).value();
    }
  }
  ~BusWritePath() {
    queue_.reset();
    evidence_.reset();  // before its writer
    writer_->Stop();
  }

  // A push accepted with its evidence (one record), durable; its delivery to `recipient`.
  delivery::PendingDelivery Accept(const std::string& request_id, const registry::System& from,
                                   const registry::Subscription& to, int64_t now_ms) {
    delivery::NewMessage m;
    m.request_id = request_id;
    m.code = to.topic_code;
    m.source_system_id = from.id;
    m.envelope = R"({"data":{},"signature":"x"})";
    m.recipients = {
        delivery::Recipient{"sub:" + std::to_string(to.id), to.id, to.subscriber_system_id}};
    m.created_at_ms = now_ms;
    const std::vector<evidence::Record> records = {
        evidence::Step(now_ms, request_id, "push", from.client_id, "esb", to.topic_code, "", "ok")};
    m.evidence = evidence::Prepare(records);
    std::promise<std::pair<Status, std::vector<delivery::PendingDelivery>>> done;
    queue_->Enqueue(std::move(m), [&](Status s, std::vector<delivery::PendingDelivery> d) {
      done.set_value({std::move(s), std::move(d)});
    });
    auto [status, deliveries] = done.get_future().get();
    GOVESB_CHECK(status.ok() && deliveries.size() == 1);
    return deliveries[0];
  }
  // Its delivery given up after a failed attempt (what the dispatcher does at the last one).
  void GiveUp(int64_t delivery_id, int64_t now_ms) {
    delivery::Attempt attempt;
    attempt.at_ms = now_ms;
    attempt.outcome = "unreachable";
    attempt.error = "connection refused";
    queue_->DeadLetter(delivery_id, std::move(attempt));
    std::promise<Status> synced;
    queue_->Sync([&](Status s) { synced.set_value(std::move(s)); });
    GOVESB_CHECK(synced.get_future().get().ok());
  }

  // Moves the admin actions not yet in the evidence log into it, as the bus does every second.
  size_t MoveActions() {
    std::promise<Status> moved;
    size_t n = 0;
    writer_->Submit(
        [&n](store::WriteContext& ctx) -> Status {
          GOVESB_ASSIGN_OR_RETURN(n, MoveActionsIntoEvidence(ctx));
          return Status::Ok();
        },
        [&moved](const Status& s) { moved.set_value(s); });
    GOVESB_CHECK(moved.get_future().get().ok());
    return n;
  }

  // Records appended as the engine appends an exchange's, durable on return.
  void Append(const std::vector<evidence::Record>& records) {
    std::promise<Status> done;
    evidence_->Append(evidence::Prepare(records), [&](Status s) { done.set_value(std::move(s)); });
    GOVESB_CHECK(done.get_future().get().ok());
  }

  delivery::DeliveryQueue& queue() { return *queue_; }
  evidence::EvidenceStore& evidence() { return *evidence_; }
  crypto::PublicKey bus_key() const { return key_.public_key(); }

 private:
  crypto::PrivateKey key_;
  crypto::LocalSigner signer_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<evidence::EvidenceStore> evidence_;
  std::unique_ptr<delivery::DeliveryQueue> queue_;
};

evidence::SearchFilter ByRequest(const std::string& request_id) {
  evidence::SearchFilter f;
  f.request_id = request_id;
  return f;
}

TEST_P(AdminServiceOnBoth, DisablingATopicIsRecordedAndReachesTheEvidenceLog) {
  BusWritePath bus(GetParam(), location_);
  ASSERT_GT(bus.MoveActions(), 0u) << "the set-up's actions";
  auto disabled = service_->DisableTopic(kRitaAdmin, "BIRTHS");
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  EXPECT_FALSE(disabled->enabled);
  const int64_t before = ActionCount();
  EXPECT_EQ(service_->DisableTopic(kOperator, "BIRTHS").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->DisableTopic(kMohAdmin, "BIRTHS").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ActionCount(), before) << "a refused change left a record";

  auto actions = service_->ListActions(kOperator, {.object = "topic:BIRTHS", .limit = 1});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 1u);
  const ActionRecord& a = (*actions)[0];
  EXPECT_EQ(a.action, "topic.disable");
  EXPECT_EQ(a.account, kRitaAdmin.account);
  EXPECT_EQ(a.object_institution, "RITA");
  EXPECT_NE(a.detail.find("\"enabled\":true"), std::string::npos) << a.detail;   // before
  EXPECT_NE(a.detail.find("\"enabled\":false"), std::string::npos) << a.detail;  // after

  ASSERT_EQ(bus.MoveActions(), 1u);
  evidence::SearchFilter f;
  f.kind = "admin";
  f.code = "topic.disable";
  f.actor = kRitaAdmin.account;  // not the set-up's (BIRTH4, by the operator)
  auto found = service_->SearchEvidence(kAuditor, f);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].record.request_id, a.request_id);
  EXPECT_EQ(found->records[0].record.from, kRitaAdmin.account);
  EXPECT_EQ(found->records[0].record.to, "topic:BIRTHS");

  auto enabled = service_->EnableTopic(kOperator, "BIRTHS");
  ASSERT_TRUE(enabled.ok()) << enabled.status().ToString();
  EXPECT_TRUE(enabled->enabled);
  EXPECT_EQ(
      service_->ListActions(kOperator, {.object = "topic:BIRTHS", .limit = 1})->front().action,
      "topic.enable");
}

TEST_P(AdminServiceOnBoth, ADeadPushIsListedToItsRecipientAndRedeliveredWithItsRecord) {
  BusWritePath bus(GetParam(), location_);
  const registry::System rita = *service_->GetSystem(kOperator, rita_);
  const registry::Subscription births = Births();
  ASSERT_NE(births.id, 0);
  const std::string rid = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
  const delivery::PendingDelivery pending = bus.Accept(rid, rita, births, clock_.NowMillis());
  bus.GiveUp(pending.id, clock_.NowMillis());

  auto dead = service_->ListDeliveries(kOperator, {.state = delivery::DeliveryState::kDead});
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, pending.id);
  EXPECT_EQ((*dead)[0].request_id, rid);
  EXPECT_EQ((*dead)[0].target_client_id, moh_);
  EXPECT_EQ((*dead)[0].last_error, "connection refused");
  EXPECT_EQ(service_->ListDeliveries(kMohAdmin, {})->size(), 1u) << "to MOH's system";
  EXPECT_TRUE(service_->ListDeliveries(kRitaAdmin, {})->empty()) << "not to RITA's";
  EXPECT_EQ(service_->CountOpenDeliveries(kMohAdmin)->dead, 1);
  auto attempts = service_->ListAttempts(kOperator, pending.id);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].outcome, "unreachable");

  // Redelivered by the recipient's admin: pending again, seen by the running queue, recorded.
  const int64_t generation = *bus.queue().RedeliverGeneration();
  EXPECT_EQ(service_->Redeliver(kRitaAdmin, pending.id).code(), StatusCode::kPermissionDenied);
  Status redelivered = service_->Redeliver(kMohAdmin, pending.id);
  ASSERT_TRUE(redelivered.ok()) << redelivered.ToString();
  EXPECT_GT(*bus.queue().RedeliverGeneration(), generation);
  auto again = service_->ListDeliveries(kOperator, {.id = pending.id});
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].state, delivery::DeliveryState::kPending);
  auto loaded = bus.queue().LoadPending(0, 10);
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].id, pending.id);
  EXPECT_EQ(service_->Redeliver(kOperator, pending.id).code(), StatusCode::kFailedPrecondition);
  auto actions = service_->ListActions(kMohAdmin, {.limit = 1});
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ((*actions)[0].account, kMohAdmin.account);
  EXPECT_NE((*actions)[0].action.find("redeliver"), std::string::npos) << (*actions)[0].action;

  // The push's acceptance record, found through the service (the reading store it opened).
  auto found = service_->SearchEvidence(kAuditor, ByRequest(rid));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].record.kind, "push");
  EXPECT_EQ(found->records[0].record.from, rita_);
  EXPECT_EQ(found->records[0].node, GetParam() == store::Backend::kPostgres ? "node-1" : "");
  EXPECT_EQ(service_->SearchEvidence(kRitaAdmin, ByRequest(rid))->records.size(), 1u);
  EXPECT_TRUE(service_->SearchEvidence(kMohAdmin, ByRequest(rid))->records.empty())
      << "MOH's system is neither its sender nor its receiver";
}

TEST_P(AdminServiceOnBoth, TheEvidenceLogIsVerifiedAndProvenThroughTheService) {
  BusWritePath bus(GetParam(), location_);
  const registry::System rita = *service_->GetSystem(kOperator, rita_);
  const registry::Subscription births = Births();
  const std::string rid = "ffeeddccbbaa99887766554433221100";
  (void)bus.Accept(rid, rita, births, clock_.NowMillis());
  ASSERT_TRUE(bus.evidence().SealAll(clock_.NowMillis()).ok());

  AdminService with_key(*db_, Options(bus.bus_key()));
  auto report = with_key.VerifyEvidence(kAuditor);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->records, 1);
  EXPECT_EQ(report->checkpoints, 1);
  auto proof = with_key.ExchangeProof(kRitaAdmin, rid);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  auto checked = evidence::CheckProof(*proof, bus.bus_key());
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->request_id, rid);
  EXPECT_EQ(with_key.ExchangeProof(kMohAdmin, rid).status().code(), StatusCode::kNotFound);
  // Another key did not sign the checkpoint.
  AdminService other_key(
      *db_, Options(crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1)->public_key()));
  EXPECT_FALSE(other_key.VerifyEvidence(kAuditor)->intact);
}

TEST_P(AdminServiceOnBoth, APersonsAccessReportNamesWhoAskedAndIsSignedByTheBus) {
  BusWritePath bus(GetParam(), location_);
  ASSERT_TRUE(service_->UpdateApiDescription(kOperator, "BRTH01", {.title = "Birth record"}).ok());
  const std::string alice = "19900101-12345-00001-12";
  const int64_t t = clock_.NowMillis();
  using evidence::Step;
  bus.Append({Step(t, "a1", "nida-request", moh_, "bus", "BRTH01", alice, "ok"),
              Step(t + 1, "a1", "delivery", "bus", rita_, "BRTH01", alice, "ok"),
              Step(t + 2, "a1", "reply", rita_, "bus", "BRTH01", alice, "ok"),
              Step(t + 3, "a1", "response", "bus", moh_, "BRTH01", alice, "ok")});
  bus.Append({Step(t + 10, "p1", "request", moh_, "bus", "BRTH01", "", "ok"),
              Step(t + 11, "p1", "response", "bus", moh_, "BRTH01", "", "ok")});
  bus.Append({Step(t + 20, "b1", "nida-request", moh_, "bus", "BRTH01", "someone else", "ok"),
              Step(t + 21, "b1", "response", "bus", moh_, "BRTH01", "someone else", "ok")});
  bus.Append(
      {Step(t + 30, "a2", "nida-request", "gone", "bus", "BRTH02", alice, "PERMISSION_DENIED"),
       Step(t + 31, "a2", "response", "bus", "gone", "BRTH02", alice, "PERMISSION_DENIED")});
  // The bus's indexing round, which also records how far the evidence is committed (what a
  // reader on another connection reads up to).
  ASSERT_TRUE(bus.evidence().IndexCommitted().ok());
  clock_.Advance(std::chrono::seconds(5));

  auto document = service_->MakeSubjectReport(kAuditor, {.user_id = alice});
  ASSERT_TRUE(document.ok()) << document.status().ToString();
  auto checked = evidence::CheckSubjectReport(*document, {report_key_.public_key()});
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  const evidence::SubjectReport& r = checked->report;
  EXPECT_EQ(r.user_id, alice);
  EXPECT_EQ(r.generated_at_ms, clock_.NowMillis());
  ASSERT_EQ(r.exchanges.size(), 2u);
  const evidence::SubjectExchange& asked = r.exchanges[0];
  EXPECT_EQ(asked.request_id, "a1");
  EXPECT_EQ(asked.consumer.client_id, moh_);
  EXPECT_EQ(asked.consumer.system, "Records");
  EXPECT_EQ(asked.consumer.institution_code, "MOH");
  EXPECT_EQ(asked.consumer.institution, "Ministry of Health");
  EXPECT_EQ(asked.api_code, "BRTH01");
  EXPECT_EQ(asked.api_name, "Birth record");
  ASSERT_TRUE(asked.provider.has_value());
  EXPECT_EQ(asked.provider->institution, "Registration Agency");
  EXPECT_EQ(asked.provider->system, "Births");
  EXPECT_TRUE(asked.answered);
  EXPECT_EQ(asked.records.size(), 4u);
  EXPECT_EQ(asked.records[0].node, GetParam() == store::Backend::kPostgres ? "node-1" : "");
  const evidence::SubjectExchange& refused = r.exchanges[1];
  EXPECT_EQ(refused.consumer.client_id, "gone");
  EXPECT_EQ(refused.consumer.institution, "") << "a system the registry does not know";
  EXPECT_EQ(refused.api_name, "");
  EXPECT_FALSE(refused.provider.has_value());
  EXPECT_EQ(refused.outcome, "PERMISSION_DENIED");
  EXPECT_FALSE(refused.answered);

  EXPECT_TRUE(service_->MakeSubjectReport(kOperator, {.user_id = alice}).ok());
  EXPECT_EQ(service_->MakeSubjectReport(kMohAdmin, {.user_id = alice}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(
      service_->MakeSubjectReport(kAuditor, {.user_id = std::string(129, '1')}).status().code(),
      StatusCode::kInvalidArgument);
  ServiceOptions unsigned_options = Options();
  unsigned_options.signer = nullptr;
  AdminService without_key(*db_, std::move(unsigned_options));
  EXPECT_EQ(without_key.MakeSubjectReport(kAuditor, {.user_id = alice}).status().code(),
            StatusCode::kFailedPrecondition);
}

// A cluster's service needs the conninfo for the evidence log; without it the rest still works.
TEST(AdminServiceOnPostgres, WithoutAConninfoTheEvidenceLogIsUnavailableAndTheRestWorks) {
  TempDir dir;
  auto db = store::testing::Connect(store::Backend::kPostgres,
                                    store::testing::NewDatabase(store::Backend::kPostgres, dir));
  ASSERT_TRUE(MigrateAll(*db).ok());
  AdminService service(*db, ServiceOptions{.hash_secret = [](std::string_view s) {
    return crypto::HashSecretForTest(s);
  }});
  EXPECT_TRUE(service.AddInstitution(kOperator, "RITA", "Registration Agency").ok());
  auto search = service.SearchEvidence(kAuditor, {});
  EXPECT_EQ(search.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(search.status().message().find("evidence log"), std::string::npos);
  AdminService unreachable(*db, ServiceOptions{.postgres_conninfo = "host=/nonexistent"});
  EXPECT_EQ(unreachable.SearchEvidence(kAuditor, {}).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace govesb::admin

namespace govesb::admin {
namespace {

// The bus as the admin layer describes it: everyone gets the key, the CA and the addresses;
// only the operator and the auditor where the files are on the bus's machine.
TEST(DescribeBusTest, EveryRoleGetsWhatItNeedsToConnectAndOnlyTheOperatorAndAuditorThePaths) {
  auto db = store::Database::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(MigrateAll(**db).ok());
  const std::string chain = std::string(GOVESB_SOURCE_DIR) + "/src/crypto/testdata/tls_chain.pem";
  SimulatedClock clock(2'111'544'167'000 - 10 * 86'400'000LL - 1);  // 10 days (and 1 ms) left
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  AdminService service(**db, ServiceOptions{.clock = &clock,
                                            .bus_key = key->public_key(),
                                            .bus = BusInfo{.exchange_url = "https://bus:8443",
                                                           .tls = "self-signed",
                                                           .certificate_file = chain,
                                                           .ca_file = chain,
                                                           .data_dir = "/var/lib/govesb"}});
  service.set_admin_url("https://127.0.0.1:8444");
  for (const Actor& who : {kOperator, kAuditor, kRitaAdmin}) {
    SCOPED_TRACE(who.account);
    auto bus = service.DescribeBus(who);
    ASSERT_TRUE(bus.ok()) << bus.status().ToString();
    EXPECT_EQ(bus->public_key, key->public_key().SpkiBase64());
    EXPECT_EQ(bus->curve, "secp256k1");
    EXPECT_EQ(bus->info.exchange_url, "https://bus:8443");
    EXPECT_EQ(bus->info.admin_url, "https://127.0.0.1:8444");
    ASSERT_EQ(bus->certificates.size(), 2u);
    EXPECT_EQ(bus->certificates[0].names[0], "bus.example");
    EXPECT_NE(bus->ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
    const bool sees_paths = who.role != Role::kInstitutionAdmin;
    EXPECT_EQ(bus->info.certificate_file.empty(), !sees_paths);
    EXPECT_EQ(bus->info.data_dir.empty(), !sees_paths);
    boost::json::object out = ToJson(*bus);
    EXPECT_EQ(out.at("token_url").as_string(), "https://bus:8443/gw/govesb-uaa/oauth/token");
    EXPECT_EQ(out.at("tls").at("certificates").as_array()[0].at("days_left").as_int64(), 10);
    EXPECT_EQ(out.at("tls").at("ca_file").is_null(), !sees_paths);
  }
  // A certificate that cannot be read is reported, not an error of the whole page.
  AdminService broken(**db, ServiceOptions{.clock = &clock,
                                           .bus = BusInfo{.tls = "provided",
                                                          .certificate_file = "/nonexistent.pem"}});
  auto bus = broken.DescribeBus(kOperator);
  ASSERT_TRUE(bus.ok());
  EXPECT_TRUE(bus->certificates.empty());
  EXPECT_NE(bus->certificate_problem.find("/nonexistent.pem"), std::string::npos);
  EXPECT_EQ(broken.DescribeBus(kRitaAdmin)->certificate_problem.find("/nonexistent"),
            std::string::npos);
}

// With the running bus's key ring: the key it signs with, the published keys with their status
// and times; the old key no longer once its overlap ended.
TEST(DescribeBusTest, ARotatedRingShowsTheKeyItSignsWithAndThePublishedKeys) {
  auto db = store::Database::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(MigrateAll(**db).ok());
  SimulatedClock clock(1'800'000'000'000);
  const crypto::PrivateKey first = *crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  const crypto::PrivateKey second = *crypto::PrivateKey::Generate(crypto::Curve::kP256);
  const int64_t t = clock.NowMillis();
  auto ring =
      std::make_shared<const crypto::KeyRing>(*crypto::KeyRing::Single(first, t - 1000, t - 1000)
                                                   .Stage(second, t - 500, 3'600'000)
                                                   ->Activate(t - 500, t - 100));
  AdminService service(**db,
                       ServiceOptions{.clock = &clock, .bus_key_ring = [ring] { return ring; }});
  auto bus = service.DescribeBus(kRitaAdmin);
  ASSERT_TRUE(bus.ok());
  EXPECT_EQ(bus->public_key, second.public_key().SpkiBase64());
  EXPECT_EQ(bus->curve, "prime256v1");
  ASSERT_EQ(bus->keys.size(), 2u);
  EXPECT_EQ(bus->keys[0].status, "current");
  EXPECT_EQ(bus->keys[1].status, "overlap");
  EXPECT_EQ(bus->keys[1].public_key, first.public_key().SpkiBase64());
  EXPECT_EQ(bus->keys[1].not_after_ms, t - 100 + 3'600'000);
  boost::json::object out = ToJson(*bus);
  EXPECT_EQ(out.at("keys").as_array()[1].at("status").as_string(), "overlap");
  EXPECT_EQ(out.at("keys").as_array()[0].at("key_id").as_string(),
            crypto::KeyId(second.public_key()));
  // After the overlap the old key is no longer published.
  clock.Advance(std::chrono::hours(2));
  EXPECT_EQ(service.DescribeBus(kRitaAdmin)->keys.size(), 1u);
}

}  // namespace
}  // namespace govesb::admin
