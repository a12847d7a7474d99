#include "admin/service.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "store/database.h"

namespace govesb::admin {
namespace {

const Actor kOperator{
    .account = "op@ega.go.tz", .role = Role::kOperator, .address = "local", .via = "cli"};
const Actor kRitaAdmin{.account = "admin@rita.go.tz",
                       .role = Role::kInstitutionAdmin,
                       .institution = "RITA",
                       .address = "10.1.1.1",
                       .via = "api"};
const Actor kMohAdmin{.account = "admin@moh.go.tz",
                      .role = Role::kInstitutionAdmin,
                      .institution = "MOH",
                      .address = "10.2.2.2",
                      .via = "api"};
const Actor kAuditor{
    .account = "audit@nao.go.tz", .role = Role::kAuditor, .address = "10.3.3.3", .via = "api"};

std::string NewKey() {
  return crypto::PrivateKey::Generate(crypto::Curve::kP256)->public_key().SpkiBase64();
}

// A registry with two institutions: RITA provides BRTH01 and publishes BIRTHS from its system;
// MOH has a consumer system, granted BRTH01 and subscribed to BIRTHS.
class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Database::Open(":memory:");
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
    ASSERT_TRUE(MigrateAll(*db_).ok());
    service_ = std::make_unique<AdminService>(
        *db_, ServiceOptions{.clock = &clock_, .hash_secret = [](std::string_view s) {
                               return crypto::HashSecretForTest(s);
                             }});
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
  }

  int64_t ActionCount() { return ListActions(*db_, {.limit = 1000})->size(); }

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

class AuthorisationTest : public AdminServiceTest, public ::testing::WithParamInterface<Case> {};

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
  // Unknown references are kNotFound for whoever asks (before any role check that needs them).
  row("DisableUnknownSystem", {kNotFound, kNotFound, kNotFound, kNotFound},
      [](S& s, const Actor& a, Id, Id) { return Of(s.DisableSystem(a, "no-such-system")); });
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryRole, AuthorisationTest, ::testing::ValuesIn(Cases()),
                         [](const auto& test) { return test.param.name; });

TEST_F(AdminServiceTest, AnInstitutionAdminSeesOnlyItsOwnSystemsGrantsAndActions) {
  auto systems = service_->ListSystems(kMohAdmin);
  ASSERT_TRUE(systems.ok());
  ASSERT_EQ(systems->size(), 1u);
  EXPECT_EQ((*systems)[0].client_id, moh_);
  EXPECT_EQ(service_->ListSystems(kAuditor)->size(), 2u);
  // A third institution with no part in the grant sees none of it.
  ASSERT_TRUE(service_->AddInstitution(kOperator, "TRA", "Revenue").ok());
  Actor tra{.account = "a@tra.go.tz", .role = Role::kInstitutionAdmin, .institution = "TRA"};
  EXPECT_TRUE(service_->ListGrants(tra)->empty());
  EXPECT_EQ(service_->ListGrants(kMohAdmin)->size(), 1u);   // as consumer
  EXPECT_EQ(service_->ListGrants(kRitaAdmin)->size(), 1u);  // as provider
  EXPECT_TRUE(service_->ListSubscriptions(tra)->empty());
  EXPECT_EQ(service_->ListSubscriptions(kMohAdmin)->size(), 1u);
  // TRA's actions: only its own institution.add (on object institution:TRA).
  auto actions = service_->ListActions(tra, {});
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 1u);
  EXPECT_EQ((*actions)[0].action, "institution.add");
  EXPECT_GT(service_->ListActions(kAuditor, {})->size(), 5u);
}

TEST_F(AdminServiceTest, EveryChangeIsRecordedWithBeforeAndAfterAndNeverASecret) {
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

TEST_F(AdminServiceTest, AChangeTheRegistryRefusesLeavesNoRecord) {
  const int64_t before = ActionCount();
  auto bad = service_->AddSystem(kOperator, "RITA", "Bad", "not a key", "https://x/");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto dup = service_->AddApi(kOperator, rita_, "BRTH01", {});
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ActionCount(), before);
}

}  // namespace
}  // namespace govesb::admin
