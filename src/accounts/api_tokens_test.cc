// API tokens: shown once, stored hashed, scoped at most to the user's role, revocable, and
// useless once revoked or when the user is disabled.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <chrono>

#include "accounts/accounts_testing.h"
#include "accounts/render.h"

namespace govesb::accounts {
namespace {

using admin::Role;

TEST_P(AccountsTest, ATokenAuthenticatesAsItsUserWithItsScope) {
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  const admin::Actor rita = ActorOf("admin@rita.go.tz");
  Result<NewApiToken> token =
      accounts_->CreateApiToken(rita, "nightly sync", Role::kInstitutionAdmin);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_TRUE(token->secret.starts_with("gvb_"));
  EXPECT_EQ(token->secret.size(), 44u);
  EXPECT_EQ(token->token.prefix, token->secret.substr(0, 12));
  EXPECT_EQ(token->token.institution, "RITA");

  Result<Principal> who = accounts_->AuthenticateBearer(token->secret, "10.7.7.7");
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->actor.account, "admin@rita.go.tz");
  EXPECT_EQ(who->actor.role, Role::kInstitutionAdmin);
  EXPECT_EQ(who->actor.institution, "RITA");
  EXPECT_EQ(who->actor.via, "api");
  EXPECT_EQ(who->actor.address, "10.7.7.7");
  EXPECT_EQ(who->api_token_id, token->token.id);
  EXPECT_TRUE(who->csrf_token.empty());

  // Stored as a hash only; listed without the secret.
  auto st = db_->Prepare("SELECT token_sha256 FROM api_tokens");
  ASSERT_TRUE(st.ok() && *st->Step());
  EXPECT_EQ(st->ColumnText(0).size(), 64u);
  EXPECT_EQ(st->ColumnText(0).find(token->secret.substr(4)), std::string::npos);
  std::vector<ApiToken> listed = *accounts_->ListApiTokens(rita);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "nightly sync");
  EXPECT_NE(listed[0].last_used_at_ms, 0);
  const std::string json = boost::json::serialize(ToJsonArray(listed));
  EXPECT_EQ(json.find(token->secret), std::string::npos);
}

TEST_P(AccountsTest, ARevokedTokenNoLongerWorks) {
  Add("op@ega.go.tz", Role::kOperator);
  const admin::Actor op = ActorOf("op@ega.go.tz");
  Result<NewApiToken> a = accounts_->CreateApiToken(op, "deploy", Role::kOperator);
  Result<NewApiToken> b = accounts_->CreateApiToken(op, "reports", Role::kAuditor);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(accounts_->AuthenticateBearer(a->secret, "x").ok());
  Result<ApiToken> revoked = accounts_->RevokeApiToken(op, a->token.id);
  ASSERT_TRUE(revoked.ok());
  EXPECT_NE(revoked->revoked_at_ms, 0);
  Result<Principal> refused = accounts_->AuthenticateBearer(a->secret, "x");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("revoked"), std::string::npos);
  Result<Principal> other = accounts_->AuthenticateBearer(b->secret, "x");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->actor.role, Role::kAuditor);
  // Revoking again changes and records nothing.
  const size_t actions = Actions().size();
  EXPECT_TRUE(accounts_->RevokeApiToken(op, a->token.id).ok());
  EXPECT_EQ(Actions().size(), actions);
  EXPECT_EQ(accounts_->RevokeApiToken(op, 999).status().code(), StatusCode::kNotFound);
}

TEST_P(AccountsTest, ATokensScopeIsNeverAboveItsUsersRole) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Add("audit@nao.go.tz", Role::kAuditor);
  const admin::Actor op = ActorOf("op@ega.go.tz");
  const admin::Actor rita = ActorOf("admin@rita.go.tz");
  const admin::Actor auditor = ActorOf("audit@nao.go.tz");
  auto code = [&](const admin::Actor& who, Role scope) {
    return accounts_->CreateApiToken(who, "t", scope).status().code();
  };
  EXPECT_EQ(code(rita, Role::kOperator), StatusCode::kPermissionDenied);
  EXPECT_EQ(code(rita, Role::kAuditor), StatusCode::kPermissionDenied);
  EXPECT_EQ(code(auditor, Role::kOperator), StatusCode::kPermissionDenied);
  EXPECT_EQ(code(auditor, Role::kInstitutionAdmin), StatusCode::kPermissionDenied);
  EXPECT_EQ(code(op, Role::kInstitutionAdmin), StatusCode::kPermissionDenied);
  EXPECT_EQ(Count("api_tokens"), 0);
  // An auditor-scoped token of an operator cannot make an operator token.
  Result<NewApiToken> weak = accounts_->CreateApiToken(op, "read", Role::kAuditor);
  ASSERT_TRUE(weak.ok());
  const admin::Actor weak_actor = accounts_->AuthenticateBearer(weak->secret, "x")->actor;
  EXPECT_EQ(code(weak_actor, Role::kOperator), StatusCode::kPermissionDenied);
  EXPECT_EQ(code(op, Role::kOperator), StatusCode::kOk);
  EXPECT_EQ(code(auditor, Role::kAuditor), StatusCode::kOk);
  // Nor manage users with it.
  EXPECT_EQ(accounts_->CreateUser(weak_actor, {.email = "n@ega.go.tz", .role = Role::kOperator})
                .status()
                .code(),
            StatusCode::kPermissionDenied);
}

TEST_P(AccountsTest, ADisabledUsersTokensStopWorking) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewApiToken> token =
      accounts_->CreateApiToken(ActorOf("juma@ega.go.tz"), "reports", Role::kAuditor);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(accounts_->DisableUser(cli_, "juma@ega.go.tz").ok());
  EXPECT_EQ(accounts_->AuthenticateBearer(token->secret, "x").status().code(),
            StatusCode::kUnauthenticated);
  ASSERT_TRUE(accounts_->EnableUser(cli_, "juma@ega.go.tz").ok());
  EXPECT_TRUE(accounts_->AuthenticateBearer(token->secret, "x").ok());
}

TEST_P(AccountsTest, OnlyTheOwnerOrAnOperatorRevokesOrListsTokens) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Add("other@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  const admin::Actor rita = ActorOf("admin@rita.go.tz");
  const admin::Actor other = ActorOf("other@rita.go.tz");
  Result<NewApiToken> token = accounts_->CreateApiToken(rita, "sync", Role::kInstitutionAdmin);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(accounts_->RevokeApiToken(other, token->token.id).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(accounts_->ListApiTokens(other, "admin@rita.go.tz").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(accounts_->ListApiTokens(other)->empty());
  EXPECT_EQ(accounts_->ListApiTokens(cli_, "admin@rita.go.tz")->size(), 1u);
  EXPECT_TRUE(accounts_->AuthenticateBearer(token->secret, "x").ok());
  EXPECT_TRUE(accounts_->RevokeApiToken(ActorOf("op@ega.go.tz"), token->token.id).ok());
  EXPECT_FALSE(accounts_->AuthenticateBearer(token->secret, "x").ok());
}

TEST_P(AccountsTest, TokenInputIsCheckedAndBounded) {
  Add("juma@ega.go.tz", Role::kAuditor);
  const admin::Actor juma = ActorOf("juma@ega.go.tz");
  EXPECT_EQ(accounts_->CreateApiToken(juma, "", Role::kAuditor).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->CreateApiToken(juma, std::string(65, 'n'), Role::kAuditor).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->CreateApiToken(cli_, "cli", Role::kOperator).status().code(),
            StatusCode::kPermissionDenied);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(accounts_->CreateApiToken(juma, "t" + std::to_string(i), Role::kAuditor).ok());
  }
  EXPECT_EQ(accounts_->CreateApiToken(juma, "one more", Role::kAuditor).status().code(),
            StatusCode::kFailedPrecondition);
  for (std::string_view bad :
       {"", "gvb_", "gvb_short", "Bearer gvb_x", "gvb_0000000000000000000000000000000000000000"}) {
    EXPECT_EQ(accounts_->AuthenticateBearer(bad, "x").status().code(), StatusCode::kUnauthenticated)
        << bad;
  }
}

TEST_P(AccountsTest, AnExpiredTokenAuthenticatesNothingFromItsExpiryOn) {
  Add("juma@ega.go.tz", Role::kAuditor);
  const admin::Actor juma = ActorOf("juma@ega.go.tz");
  const int64_t created_at = clock_.NowMillis();
  Result<NewApiToken> weekly = accounts_->CreateApiToken(juma, "weekly", Role::kAuditor, 7);
  Result<NewApiToken> forever = accounts_->CreateApiToken(juma, "forever", Role::kAuditor);
  ASSERT_TRUE(weekly.ok() && forever.ok()) << weekly.status().ToString();
  const int64_t expires_at = created_at + 7 * 24 * 3600 * 1000LL;
  EXPECT_EQ(weekly->token.expires_at_ms, expires_at);
  EXPECT_EQ(forever->token.expires_at_ms, 0);
  EXPECT_EQ(ToJson(weekly->token).at("expires_at"), "2023-11-21T22:13:20Z");
  EXPECT_TRUE(ToJson(forever->token).at("expires_at").is_null());

  clock_.Set(expires_at - 1);  // the last millisecond it works
  ASSERT_TRUE(accounts_->AuthenticateBearer(weekly->secret, "x").ok());
  clock_.Set(expires_at);
  Result<Principal> refused = accounts_->AuthenticateBearer(weekly->secret, "x");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("expired"), std::string::npos)
      << refused.status().message();
  clock_.Advance(std::chrono::hours(24 * 400));
  EXPECT_TRUE(accounts_->AuthenticateBearer(forever->secret, "x").ok());
  EXPECT_FALSE(accounts_->AuthenticateBearer(weekly->secret, "x").ok());

  // Listed as expired, with its expiry; it no longer counts towards the active tokens.
  std::vector<ApiToken> listed = *accounts_->ListApiTokens(juma);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_TRUE(listed[0].expired);
  EXPECT_EQ(ToJson(listed[0]).at("state"), "expired");
  EXPECT_EQ(ToJson(listed[1]).at("state"), "active");
}

TEST_P(AccountsTest, ATokensExpiryIsOneToThreeHundredSixtyFiveDays) {
  Add("juma@ega.go.tz", Role::kAuditor);
  const admin::Actor juma = ActorOf("juma@ega.go.tz");
  for (int64_t days : {int64_t{0}, int64_t{-1}, int64_t{366}, int64_t{1} << 50}) {
    Result<NewApiToken> r = accounts_->CreateApiToken(juma, "t", Role::kAuditor, days);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << days;
    EXPECT_NE(r.status().message().find("365 days"), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(Count("api_tokens"), 0);
  EXPECT_TRUE(accounts_->CreateApiToken(juma, "a", Role::kAuditor, 1).ok());
  EXPECT_TRUE(accounts_->CreateApiToken(juma, "b", Role::kAuditor, 365).ok());
}

TEST_P(AccountsTest, ExpiredTokensDoNotCountTowardsTheLimit) {
  Add("juma@ega.go.tz", Role::kAuditor);
  const admin::Actor juma = ActorOf("juma@ega.go.tz");
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(accounts_->CreateApiToken(juma, "t" + std::to_string(i), Role::kAuditor, 1).ok());
  }
  EXPECT_EQ(accounts_->CreateApiToken(juma, "one more", Role::kAuditor).status().code(),
            StatusCode::kFailedPrecondition);
  clock_.Advance(std::chrono::hours(24));
  EXPECT_TRUE(accounts_->CreateApiToken(juma, "one more", Role::kAuditor).ok());
}

}  // namespace
}  // namespace govesb::accounts
