// Users: creating them (who may, what is checked), listing, disabling, passwords, and the admin
// actions every change leaves.
#include <gtest/gtest.h>

#include "accounts/accounts_testing.h"
#include "crypto/primitives.h"

namespace govesb::accounts {
namespace {

using admin::Role;

// The one instantiation of AccountsTest, for the tests of every file of the module.
INSTANTIATE_TEST_SUITE_P(Backends, AccountsTest, store::testing::BothBackends(),
                         store::testing::BackendName);

TEST_P(AccountsTest, TheFirstOperatorGetsAOneTimePasswordThatMustBeChanged) {
  Result<NewUser> created =
      accounts_->CreateUser(cli_, {.email = "Op@EGA.go.tz", .role = Role::kOperator});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->user.email, "op@ega.go.tz");
  EXPECT_EQ(created->user.display_name, "op");
  EXPECT_GE(created->one_time_password.size(), 16u);
  EXPECT_TRUE(created->user.must_change_password);

  Result<NewSession> session = SignIn("op@ega.go.tz", created->one_time_password);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_TRUE(session->must_change_password);
  Result<Principal> who = accounts_->Authenticate(session->token, "10.0.0.1");
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->must_change_password);
  EXPECT_EQ(who->actor.role, Role::kOperator);

  ASSERT_TRUE(
      accounts_->ChangePassword(who->actor, created->one_time_password, "a new long password")
          .ok());
  Result<NewSession> again = SignIn("op@ega.go.tz", "a new long password");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->must_change_password);
}

TEST_P(AccountsTest, AGivenPasswordMeetsThePolicyAndNeedNotBeChanged) {
  Result<NewUser> weak = accounts_->CreateUser(
      cli_, {.email = "op@ega.go.tz", .role = Role::kOperator, .password = "short"});
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("users"), 0);
  User user = Add("op@ega.go.tz", Role::kOperator);
  EXPECT_FALSE(user.must_change_password);
  EXPECT_TRUE(SignIn("op@ega.go.tz").ok());
}

TEST_P(AccountsTest, InstitutionAdminNeedsAnExistingInstitutionAndOnlyIt) {
  auto create = [&](Role role, std::string_view institution) {
    return accounts_
        ->CreateUser(cli_, {.email = "x@rita.go.tz", .role = role, .institution = institution})
        .status()
        .code();
  };
  EXPECT_EQ(create(Role::kInstitutionAdmin, ""), StatusCode::kInvalidArgument);
  EXPECT_EQ(create(Role::kInstitutionAdmin, "NOPE"), StatusCode::kNotFound);
  EXPECT_EQ(create(Role::kOperator, "RITA"), StatusCode::kInvalidArgument);
  EXPECT_EQ(create(Role::kAuditor, "RITA"), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("users"), 0);
  EXPECT_EQ(Actions().size(), 2u);  // the institutions': refused changes record nothing
  User admin = Add("x@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  EXPECT_EQ(admin.institution, "RITA");
  EXPECT_EQ(ActorOf("x@rita.go.tz").institution, "RITA");
}

TEST_P(AccountsTest, BadInputIsRefusedInWordsAndChangesNothing) {
  for (std::string_view email : {"", "not-an-email", "a@b", "a b@c.tz"}) {
    Result<NewUser> r = accounts_->CreateUser(cli_, {.email = email, .role = Role::kAuditor});
    ASSERT_FALSE(r.ok()) << email;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("e-mail"), std::string::npos) << r.status().message();
  }
  Result<NewUser> r = accounts_->CreateUser(
      cli_, {.email = "a@b.tz", .display_name = "bad\x07name", .role = Role::kAuditor});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = accounts_->CreateUser(
      cli_, {.email = "juma@ega.go.tz", .role = Role::kAuditor, .password = "JUMA@ega.go.tz"});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("users"), 0);
}

TEST_P(AccountsTest, EmailsAreUniqueWhateverTheirCase) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewUser> again =
      accounts_->CreateUser(cli_, {.email = "JUMA@ega.go.tz", .role = Role::kOperator});
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Count("users"), 1);
}

TEST_P(AccountsTest, OnlyOperatorsManageUsers) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Add("audit@nao.go.tz", Role::kAuditor);
  const admin::Actor rita = ActorOf("admin@rita.go.tz");
  const admin::Actor auditor = ActorOf("audit@nao.go.tz");
  const admin::Actor op = ActorOf("op@ega.go.tz");
  const size_t actions = Actions().size();
  for (const admin::Actor* who : {&rita, &auditor}) {
    EXPECT_EQ(accounts_->CreateUser(*who, {.email = "n@ega.go.tz", .role = Role::kAuditor})
                  .status()
                  .code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(accounts_->DisableUser(*who, "op@ega.go.tz").status().code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(accounts_->ResetPassword(*who, "op@ega.go.tz").status().code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(accounts_->LogoutAll(*who, "op@ega.go.tz").status().code(),
              StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(Actions().size(), actions);
  EXPECT_TRUE(accounts_->CreateUser(op, {.email = "n@ega.go.tz", .role = Role::kAuditor}).ok());
}

TEST_P(AccountsTest, ListingFollowsTheRole) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Add("clerk@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Add("admin@ega.go.tz", Role::kInstitutionAdmin, "EGA");
  Add("audit@nao.go.tz", Role::kAuditor);
  EXPECT_EQ(accounts_->ListUsers(cli_)->size(), 5u);
  EXPECT_EQ(accounts_->ListUsers(ActorOf("audit@nao.go.tz"))->size(), 5u);
  const admin::Actor rita = ActorOf("admin@rita.go.tz");
  std::vector<User> seen = *accounts_->ListUsers(rita);
  ASSERT_EQ(seen.size(), 2u);
  for (const User& u : seen) EXPECT_EQ(u.institution, "RITA");
  EXPECT_EQ(accounts_->GetUser(rita, "admin@ega.go.tz").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(accounts_->GetUser(rita, "clerk@rita.go.tz").ok());
  EXPECT_EQ(accounts_->GetUser(cli_, "nobody@ega.go.tz").status().code(), StatusCode::kNotFound);
}

TEST_P(AccountsTest, TheLastEnabledOperatorCannotBeDisabled) {
  Add("op@ega.go.tz", Role::kOperator);
  EXPECT_EQ(accounts_->DisableUser(cli_, "op@ega.go.tz").status().code(),
            StatusCode::kFailedPrecondition);
  Add("op2@ega.go.tz", Role::kOperator);
  EXPECT_TRUE(accounts_->DisableUser(cli_, "op@ega.go.tz").ok());
  EXPECT_EQ(accounts_->DisableUser(cli_, "op2@ega.go.tz").status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(AccountsTest, ChangePasswordNeedsTheOldOneAndEndsEverySession) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> first = SignIn("juma@ega.go.tz");
  Result<NewSession> second = SignIn("juma@ega.go.tz", kPassword, "10.9.9.9");
  ASSERT_TRUE(first.ok() && second.ok());
  const admin::Actor juma = accounts_->Authenticate(first->token, "10.0.0.1")->actor;

  EXPECT_EQ(accounts_->ChangePassword(juma, "not the password", "a brand new password").code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(accounts_->ChangePassword(juma, kPassword, "short").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->ChangePassword(juma, kPassword, "juma@ega.go.tz").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->ChangePassword(juma, kPassword, kPassword).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(accounts_->Authenticate(second->token, "10.9.9.9").ok());  // nothing changed

  ASSERT_TRUE(accounts_->ChangePassword(juma, kPassword, "a brand new password").ok());
  EXPECT_EQ(accounts_->Authenticate(first->token, "10.0.0.1").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(accounts_->Authenticate(second->token, "10.9.9.9").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(SignIn("juma@ega.go.tz").status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(SignIn("juma@ega.go.tz", "a brand new password").ok());
  // The CLI's operator has no password of its own.
  EXPECT_EQ(accounts_->ChangePassword(cli_, kPassword, "a brand new password").code(),
            StatusCode::kPermissionDenied);
}

TEST_P(AccountsTest, WrongOldPasswordsAreThrottledLikeSignIns) {
  Add("juma@ega.go.tz", Role::kAuditor);
  const admin::Actor juma = ActorOf("juma@ega.go.tz");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        accounts_->ChangePassword(juma, "guess number " + std::to_string(i), "a brand new password")
            .code(),
        StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(accounts_->ChangePassword(juma, "guess number 5", "a brand new password").code(),
            StatusCode::kUnauthenticated);  // the sixth locks
  EXPECT_EQ(accounts_->ChangePassword(juma, kPassword, "a brand new password").code(),
            StatusCode::kResourceExhausted);
}

TEST_P(AccountsTest, ResetPasswordGivesAOneTimePasswordAndEndsSessions) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  Result<std::string> otp = accounts_->ResetPassword(cli_, "JUMA@ega.go.tz");
  ASSERT_TRUE(otp.ok()) << otp.status().ToString();
  EXPECT_GE(otp->size(), 16u);
  EXPECT_FALSE(accounts_->Authenticate(session->token, "10.0.0.1").ok());
  EXPECT_EQ(SignIn("juma@ega.go.tz").status().code(), StatusCode::kUnauthenticated);
  Result<NewSession> fresh = SignIn("juma@ega.go.tz", *otp);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->must_change_password);
  EXPECT_EQ(accounts_->ResetPassword(cli_, "nobody@ega.go.tz").status().code(),
            StatusCode::kNotFound);
}

TEST_P(AccountsTest, EveryChangeIsAnAdminActionWithNoSecretInIt) {
  Result<NewUser> op =
      accounts_->CreateUser(cli_, {.email = "op@ega.go.tz", .role = Role::kOperator});
  ASSERT_TRUE(op.ok());
  Add("juma@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  ASSERT_TRUE(accounts_->DisableUser(cli_, "juma@rita.go.tz").ok());
  ASSERT_TRUE(accounts_->EnableUser(cli_, "juma@rita.go.tz").ok());
  Result<std::string> otp = accounts_->ResetPassword(cli_, "juma@rita.go.tz");
  ASSERT_TRUE(otp.ok());
  Result<NewSession> session = SignIn("juma@rita.go.tz", *otp);
  ASSERT_TRUE(session.ok());
  const admin::Actor juma = accounts_->Authenticate(session->token, "10.0.0.1")->actor;
  ASSERT_TRUE(accounts_->ChangePassword(juma, *otp, "my very own password").ok());
  session = SignIn("juma@rita.go.tz", "my very own password");
  ASSERT_TRUE(session.ok());
  const admin::Actor juma2 = accounts_->Authenticate(session->token, "10.0.0.1")->actor;
  Result<NewApiToken> token =
      accounts_->CreateApiToken(juma2, "nightly sync", Role::kInstitutionAdmin);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(accounts_->RevokeApiToken(juma2, token->token.id).ok());
  ASSERT_TRUE(accounts_->LogoutAll(cli_, "juma@rita.go.tz").ok());

  std::vector<admin::ActionRecord> actions = Actions();  // newest first
  std::vector<std::string> names;
  for (auto it = actions.rbegin(); it != actions.rend(); ++it) names.push_back(it->action);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "institution.add", "institution.add", "user.add", "user.add", "user.disable",
                       "user.enable", "user.reset-password", "user.change-password",
                       "api-token.add", "api-token.revoke", "user.logout-all"}));
  // Who did it: the CLI's operator, then juma himself.
  EXPECT_EQ(actions[1].account, "juma@rita.go.tz");
  EXPECT_EQ(actions[1].via, "portal");
  EXPECT_EQ(actions[1].object, "api-token:" + std::to_string(token->token.id));
  EXPECT_EQ(actions[1].object_institution, "RITA");
  EXPECT_EQ(actions[4].account, cli_.account);
  EXPECT_EQ(actions[4].object, "user:juma@rita.go.tz");

  // No secret, and no hash of one, in any record.
  std::string hash;
  {
    auto st = db_->Prepare("SELECT password_hash FROM users WHERE email = 'juma@rita.go.tz'");
    ASSERT_TRUE(st.ok() && *st->Step());
    hash = st->ColumnText(0);
  }
  for (const admin::ActionRecord& a : actions) {
    for (const std::string& secret :
         {op->one_time_password, *otp, std::string("my very own password"), hash, token->secret,
          token->secret.substr(12), std::string(kPassword), session->token, session->csrf_token}) {
      EXPECT_EQ(a.detail.find(secret), std::string::npos) << a.action << ": " << a.detail;
    }
    EXPECT_EQ(a.detail.find("scrypt$"), std::string::npos) << a.detail;
  }
}

}  // namespace
}  // namespace govesb::accounts
