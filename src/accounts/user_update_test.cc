// Changing a user's role, institution and display name: who may, the rules of a new user, the
// last operator, and what a role change ends (sessions) and revokes (tokens above the new role).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "accounts/accounts_testing.h"

namespace govesb::accounts {
namespace {

using admin::Role;

TEST_P(AccountsTest, ARoleChangeEndsSessionsAndRevokesTokensAboveTheNewRole) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("boss@ega.go.tz", Role::kOperator);
  const admin::Actor boss = ActorOf("boss@ega.go.tz");
  Result<NewSession> session = SignIn("boss@ega.go.tz");
  ASSERT_TRUE(session.ok());
  Result<NewApiToken> deploy = accounts_->CreateApiToken(boss, "deploy", Role::kOperator);
  Result<NewApiToken> reports = accounts_->CreateApiToken(boss, "reports", Role::kAuditor);
  ASSERT_TRUE(deploy.ok() && reports.ok());

  Result<User> changed =
      accounts_->UpdateUser(ActorOf("op@ega.go.tz"), "Boss@EGA.go.tz", {.role = Role::kAuditor});
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(changed->role, Role::kAuditor);
  EXPECT_EQ(changed->institution, "");
  EXPECT_EQ(accounts_->Authenticate(session->token, "10.0.0.1").status().code(),
            StatusCode::kUnauthenticated);
  Result<Principal> refused = accounts_->AuthenticateBearer(deploy->secret, "x");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("revoked"), std::string::npos)
      << refused.status().message();
  Result<Principal> kept = accounts_->AuthenticateBearer(reports->secret, "x");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->actor.role, Role::kAuditor);
  // Revoked for good: giving the role back does not revive the operator token.
  ASSERT_TRUE(accounts_->UpdateUser(cli_, "boss@ega.go.tz", {.role = Role::kOperator}).ok());
  EXPECT_FALSE(accounts_->AuthenticateBearer(deploy->secret, "x").ok());
  EXPECT_EQ(ActorOf("boss@ega.go.tz").role, Role::kOperator);  // signs in with the new role
}

TEST_P(AccountsTest, MovingAnInstitutionAdminRevokesItsTokensForTheOldInstitution) {
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Result<NewApiToken> sync =
      accounts_->CreateApiToken(ActorOf("admin@rita.go.tz"), "sync", Role::kInstitutionAdmin);
  ASSERT_TRUE(sync.ok());
  Result<User> moved =
      accounts_->UpdateUser(cli_, "admin@rita.go.tz", {.institution = std::string("EGA")});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->institution, "EGA");
  EXPECT_EQ(accounts_->AuthenticateBearer(sync->secret, "x").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(ActorOf("admin@rita.go.tz").institution, "EGA");
  std::vector<admin::ActionRecord> actions = Actions();  // newest first
  ASSERT_GE(actions.size(), 2u);
  EXPECT_EQ(actions[0].action, "user.update");
  EXPECT_EQ(actions[1].action, "api-token.revoke");
  EXPECT_EQ(actions[1].object, "api-token:" + std::to_string(sync->token.id));
  EXPECT_EQ(actions[1].object_institution, "RITA");
}

TEST_P(AccountsTest, TheLastEnabledOperatorCannotBeDemoted) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("old@ega.go.tz", Role::kOperator);
  ASSERT_TRUE(accounts_->DisableUser(cli_, "old@ega.go.tz").ok());
  const size_t actions = Actions().size();
  Result<User> refused = accounts_->UpdateUser(cli_, "op@ega.go.tz", {.role = Role::kAuditor});
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("last enabled operator"), std::string::npos);
  EXPECT_EQ(accounts_->GetUser(cli_, "op@ega.go.tz")->role, Role::kOperator);
  EXPECT_EQ(Actions().size(), actions);
  // A disabled operator may be demoted; with another enabled operator, so may this one.
  EXPECT_TRUE(accounts_->UpdateUser(cli_, "old@ega.go.tz", {.role = Role::kAuditor}).ok());
  Add("op2@ega.go.tz", Role::kOperator);
  EXPECT_TRUE(accounts_->UpdateUser(cli_, "op@ega.go.tz", {.role = Role::kAuditor}).ok());
}

TEST_P(AccountsTest, AnUpdateFollowsTheRulesOfANewUserAndARefusalChangesNothing) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("juma@ega.go.tz", Role::kAuditor);
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  const size_t actions = Actions().size();
  auto code = [&](std::string_view email, const UserUpdate& u) {
    return accounts_->UpdateUser(cli_, email, u).status().code();
  };
  EXPECT_EQ(code("juma@ega.go.tz", {.role = Role::kInstitutionAdmin}),
            StatusCode::kInvalidArgument);  // which institution?
  EXPECT_EQ(
      code("juma@ega.go.tz", {.role = Role::kInstitutionAdmin, .institution = std::string("NOPE")}),
      StatusCode::kNotFound);
  EXPECT_EQ(code("juma@ega.go.tz", {.institution = std::string("RITA")}),
            StatusCode::kInvalidArgument);  // an auditor has none
  EXPECT_EQ(code("admin@rita.go.tz", {.institution = std::string("NOPE")}), StatusCode::kNotFound);
  EXPECT_EQ(code("admin@rita.go.tz", {.institution = std::string()}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("juma@ega.go.tz", {.display_name = std::string("bad\x07name")}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code("nobody@ega.go.tz", {.role = Role::kAuditor}), StatusCode::kNotFound);
  EXPECT_EQ(code("not an e-mail", {.role = Role::kAuditor}), StatusCode::kInvalidArgument);
  Result<User> unknown = accounts_->UpdateUser(
      cli_, "juma@ega.go.tz", {.role = Role::kInstitutionAdmin, .institution = "NOPE"});
  EXPECT_NE(unknown.status().message().find("no institution with the code 'NOPE'"),
            std::string::npos)
      << unknown.status().message();
  EXPECT_EQ(Actions().size(), actions);
  EXPECT_EQ(accounts_->GetUser(cli_, "juma@ega.go.tz")->role, Role::kAuditor);
  EXPECT_EQ(accounts_->GetUser(cli_, "admin@rita.go.tz")->institution, "RITA");
  EXPECT_TRUE(accounts_->Authenticate(session->token, "10.0.0.1").ok());

  // Leaving institution-admin drops the institution; becoming one needs it.
  Result<User> auditor = accounts_->UpdateUser(cli_, "admin@rita.go.tz", {.role = Role::kAuditor});
  ASSERT_TRUE(auditor.ok()) << auditor.status().ToString();
  EXPECT_EQ(auditor->institution, "");
  Result<User> admin = accounts_->UpdateUser(
      cli_, "juma@ega.go.tz", {.role = Role::kInstitutionAdmin, .institution = "EGA"});
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  EXPECT_EQ(admin->institution, "EGA");
  EXPECT_FALSE(accounts_->Authenticate(session->token, "10.0.0.1").ok());
}

TEST_P(AccountsTest, OnlyOperatorsChangeUsers) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Add("audit@nao.go.tz", Role::kAuditor);
  const size_t actions = Actions().size();
  for (std::string_view who : {"admin@rita.go.tz", "audit@nao.go.tz"}) {
    EXPECT_EQ(accounts_->UpdateUser(ActorOf(who), who, {.role = Role::kOperator}).status().code(),
              StatusCode::kPermissionDenied);
  }
  // Nor an operator's auditor-scoped token.
  Result<NewApiToken> weak =
      accounts_->CreateApiToken(ActorOf("op@ega.go.tz"), "read", Role::kAuditor);
  ASSERT_TRUE(weak.ok());
  const admin::Actor weak_actor = accounts_->AuthenticateBearer(weak->secret, "x")->actor;
  EXPECT_EQ(accounts_->UpdateUser(weak_actor, "audit@nao.go.tz", {.role = Role::kOperator})
                .status()
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(Actions().size(), actions + 1);  // the token
  EXPECT_EQ(accounts_->GetUser(cli_, "audit@nao.go.tz")->role, Role::kAuditor);
}

TEST_P(AccountsTest, AnUpdateIsRecordedOnceWithBeforeAndAfterAndNoChangeRecordsNothing) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  const size_t actions = Actions().size();
  // The same values again, or nothing at all: no action, the session goes on.
  EXPECT_TRUE(accounts_->UpdateUser(cli_, "juma@ega.go.tz", {}).ok());
  EXPECT_TRUE(accounts_
                  ->UpdateUser(cli_, "juma@ega.go.tz",
                               {.role = Role::kAuditor, .display_name = std::string("juma")})
                  .ok());
  EXPECT_EQ(Actions().size(), actions);
  EXPECT_TRUE(accounts_->Authenticate(session->token, "10.0.0.1").ok());

  // A new name only: recorded, the session goes on (the role did not change).
  Result<User> renamed = accounts_->UpdateUser(cli_, "juma@ega.go.tz",
                                               {.display_name = std::string("  Juma Hassan ")});
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->display_name, "Juma Hassan");
  EXPECT_TRUE(accounts_->Authenticate(session->token, "10.0.0.1").ok());
  std::vector<admin::ActionRecord> all = Actions();
  ASSERT_EQ(all.size(), actions + 1);
  EXPECT_EQ(all[0].action, "user.update");
  EXPECT_EQ(all[0].object, "user:juma@ega.go.tz");
  EXPECT_EQ(all[0].account, cli_.account);
  boost::json::value detail = boost::json::parse(all[0].detail);
  EXPECT_EQ(detail.at("before").at("name"), "juma");
  EXPECT_EQ(detail.at("after").at("name"), "Juma Hassan");
  EXPECT_EQ(detail.at("before").at("role"), "auditor");
  EXPECT_EQ(all[0].detail.find("scrypt$"), std::string::npos);
  EXPECT_EQ(all[0].detail.find("password_hash"), std::string::npos);

  // A role change: one user.update, with the roles before and after.
  ASSERT_TRUE(accounts_
                  ->UpdateUser(cli_, "juma@ega.go.tz",
                               {.role = Role::kInstitutionAdmin, .institution = "RITA"})
                  .ok());
  all = Actions();
  ASSERT_EQ(all.size(), actions + 2);
  detail = boost::json::parse(all[0].detail);
  EXPECT_EQ(detail.at("before").at("role"), "auditor");
  EXPECT_EQ(detail.at("after").at("role"), "institution-admin");
  EXPECT_EQ(detail.at("after").at("institution"), "RITA");
  EXPECT_EQ(all[0].object_institution, "RITA");
}

}  // namespace
}  // namespace govesb::accounts
