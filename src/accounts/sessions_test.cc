// Sessions: sign-in, the same answer for an unknown e-mail and a wrong password, throttling per
// account and per address, idle and absolute expiry, logout, CSRF.
#include <gtest/gtest.h>

#include <chrono>

#include "accounts/accounts_testing.h"
#include "accounts/login_guard.h"

namespace govesb::accounts {
namespace {

using admin::Role;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST_P(AccountsTest, SignInGivesASessionThatAuthenticatesAsTheUser) {
  Add("admin@rita.go.tz", Role::kInstitutionAdmin, "RITA");
  Result<NewSession> session = accounts_->Login({.email = "Admin@RITA.go.tz",
                                                 .password = kPassword,
                                                 .address = "10.0.0.7",
                                                 .user_agent = std::string(5000, 'u')});
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ(session->token.size(), 43u);
  EXPECT_EQ(session->expires_at_ms, clock_.NowMillis() + milliseconds(hours(12)).count());
  Result<Principal> who = accounts_->Authenticate(session->token, "10.0.0.8");
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->actor.account, "admin@rita.go.tz");
  EXPECT_EQ(who->actor.role, Role::kInstitutionAdmin);
  EXPECT_EQ(who->actor.institution, "RITA");
  EXPECT_EQ(who->actor.address, "10.0.0.8");
  EXPECT_EQ(who->actor.via, "portal");
  EXPECT_EQ(who->csrf_token, session->csrf_token);
  EXPECT_EQ(who->expires_at_ms, clock_.NowMillis() + milliseconds(minutes(30)).count());
  EXPECT_NE(accounts_->GetUser(cli_, "admin@rita.go.tz")->last_login_at_ms, 0);

  // Only the hash of the token is stored, and the user agent is bounded.
  auto st = db_->Prepare("SELECT id, length(user_agent) FROM sessions");
  ASSERT_TRUE(st.ok() && *st->Step());
  EXPECT_NE(st->ColumnText(0), session->token);
  EXPECT_EQ(st->ColumnText(0).size(), 64u);
  EXPECT_EQ(st->ColumnInt64(1), 256);
}

TEST_P(AccountsTest, UnknownUserAndWrongPasswordGetTheSameAnswer) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> wrong = SignIn("juma@ega.go.tz", "not the password");
  Result<NewSession> unknown = SignIn("nobody@ega.go.tz", kPassword);
  Result<NewSession> garbage = SignIn("not an e-mail", kPassword);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.status(), wrong.status());
  EXPECT_EQ(garbage.status(), wrong.status());
  EXPECT_EQ(Count("sessions"), 0);
  EXPECT_EQ(guard_.Stats().failed, 3u);
}

TEST_P(AccountsTest, RepeatedFailuresLockTheAccountWithRetryAfter) {
  Add("juma@ega.go.tz", Role::kAuditor);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(SignIn("juma@ega.go.tz", "guess " + std::to_string(i)).status().code(),
              StatusCode::kUnauthenticated);
  }
  EXPECT_TRUE(SignIn("juma@ega.go.tz").ok());  // five are free, and success forgives them
  for (int i = 0; i < 5; ++i) (void)SignIn("juma@ega.go.tz", "guess " + std::to_string(i));
  EXPECT_TRUE(SignIn("juma@ega.go.tz").ok());
  for (int i = 0; i < 6; ++i) (void)SignIn("juma@ega.go.tz", "guess " + std::to_string(i));
  // Locked now, even with the right password and from another address.
  milliseconds retry_after{0};
  Result<NewSession> locked = accounts_->Login(
      {.email = "juma@ega.go.tz", .password = kPassword, .address = "10.5.5.5"}, &retry_after);
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(retry_after, seconds(1));
  EXPECT_NE(locked.status().message().find("try again in 1 seconds"), std::string::npos)
      << locked.status().message();
  // Each further failure doubles the lock.
  clock_.Advance(seconds(1));
  (void)SignIn("juma@ega.go.tz", "guess 7");
  (void)accounts_->Login({.email = "juma@ega.go.tz", .password = kPassword, .address = "x"},
                         &retry_after);
  EXPECT_EQ(retry_after, seconds(2));
  // Other accounts are not affected.
  Add("asha@ega.go.tz", Role::kAuditor);
  EXPECT_TRUE(SignIn("asha@ega.go.tz", kPassword, "10.6.6.6").ok());
  clock_.Advance(seconds(2));
  EXPECT_TRUE(SignIn("juma@ega.go.tz").ok());
  EXPECT_GE(guard_.Stats().throttled, 2u);
}

TEST_P(AccountsTest, RepeatedFailuresFromOneAddressLockThatAddress) {
  Add("juma@ega.go.tz", Role::kAuditor);
  // A guesser trying many accounts from one address: 20 are free, the 21st locks the address.
  for (int i = 0; i < 21; ++i) {
    EXPECT_EQ(
        SignIn("user" + std::to_string(i) + "@ega.go.tz", "guess", "10.6.6.6").status().code(),
        StatusCode::kUnauthenticated);
  }
  milliseconds retry_after{0};
  Result<NewSession> locked = accounts_->Login(
      {.email = "juma@ega.go.tz", .password = kPassword, .address = "10.6.6.6"}, &retry_after);
  EXPECT_EQ(locked.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(retry_after, seconds(1));
  // The account itself is fine from elsewhere, and a success does not forgive the address.
  EXPECT_TRUE(SignIn("juma@ega.go.tz", kPassword, "10.0.0.1").ok());
  EXPECT_EQ(SignIn("juma@ega.go.tz", kPassword, "10.6.6.6").status().code(),
            StatusCode::kResourceExhausted);
  clock_.Advance(seconds(1));
  EXPECT_TRUE(SignIn("juma@ega.go.tz", kPassword, "10.6.6.6").ok());
}

TEST_P(AccountsTest, IdleSessionsEndAfterThirtyMinutes) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  // Used every 20 minutes, it lives on.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(minutes(20));
    ASSERT_TRUE(accounts_->Authenticate(session->token, "10.0.0.1").ok()) << i;
  }
  clock_.Advance(minutes(30));
  Result<Principal> idle = accounts_->Authenticate(session->token, "10.0.0.1");
  EXPECT_EQ(idle.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(idle.status().message().find("expired"), std::string::npos);
  EXPECT_EQ(Count("sessions"), 0);  // ended for good
}

TEST_P(AccountsTest, LastSeenIsWrittenAtMostOnceAMinute) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  auto last_seen = [&] {
    auto st = db_->Prepare("SELECT last_seen_at FROM sessions");
    EXPECT_TRUE(st.ok() && *st->Step());
    return st->ColumnInt64(0);
  };
  const int64_t start = last_seen();
  clock_.Advance(seconds(30));
  ASSERT_TRUE(accounts_->Authenticate(session->token, "10.0.0.1").ok());
  EXPECT_EQ(last_seen(), start);
  clock_.Advance(seconds(30));
  ASSERT_TRUE(accounts_->Authenticate(session->token, "10.0.0.1").ok());
  EXPECT_EQ(last_seen(), start + 60'000);
}

TEST_P(AccountsTest, SessionsEndAfterTwelveHoursHoweverBusy) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  for (int i = 0; i < 47; ++i) {
    clock_.Advance(minutes(15));
    ASSERT_TRUE(accounts_->Authenticate(session->token, "10.0.0.1").ok()) << i;
  }
  Result<Principal> near = accounts_->Authenticate(session->token, "10.0.0.1");
  ASSERT_TRUE(near.ok());
  EXPECT_EQ(near->expires_at_ms, session->expires_at_ms);  // the absolute end comes first
  clock_.Advance(minutes(15));                             // 12 h
  EXPECT_EQ(accounts_->Authenticate(session->token, "10.0.0.1").status().code(),
            StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, ExpiryIsConfigurable) {
  accounts_ = std::make_unique<Accounts>(*db_, [&] {
    AccountsOptions o = Options();
    o.idle_timeout = minutes(5);
    o.absolute_timeout = hours(1);
    return o;
  }());
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  clock_.Advance(minutes(5));
  EXPECT_FALSE(accounts_->Authenticate(session->token, "10.0.0.1").ok());
}

TEST_P(AccountsTest, LogoutEndsOnlyThatSession) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> phone = SignIn("juma@ega.go.tz");
  Result<NewSession> desk = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(phone.ok() && desk.ok());
  EXPECT_NE(phone->token, desk->token);
  ASSERT_TRUE(accounts_->Logout(phone->token).ok());
  EXPECT_EQ(accounts_->Authenticate(phone->token, "10.0.0.1").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_TRUE(accounts_->Authenticate(desk->token, "10.0.0.1").ok());
  EXPECT_TRUE(accounts_->Logout(phone->token).ok());  // again: nothing to do
  EXPECT_TRUE(accounts_->Logout("garbage").ok());
}

TEST_P(AccountsTest, LogoutAllEndsEverySessionOfTheUser) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Add("asha@ega.go.tz", Role::kAuditor);
  Result<NewSession> a = SignIn("juma@ega.go.tz");
  Result<NewSession> b = SignIn("juma@ega.go.tz");
  Result<NewSession> other = SignIn("asha@ega.go.tz");
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  const admin::Actor juma = accounts_->Authenticate(a->token, "10.0.0.1")->actor;
  const admin::Actor asha = accounts_->Authenticate(other->token, "10.0.0.1")->actor;
  EXPECT_EQ(accounts_->LogoutAll(asha, "juma@ega.go.tz").status().code(),
            StatusCode::kPermissionDenied);
  Result<int64_t> ended = accounts_->LogoutAll(juma, "juma@ega.go.tz");
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, 2);
  EXPECT_FALSE(accounts_->Authenticate(a->token, "10.0.0.1").ok());
  EXPECT_FALSE(accounts_->Authenticate(b->token, "10.0.0.1").ok());
  EXPECT_TRUE(accounts_->Authenticate(other->token, "10.0.0.1").ok());
}

TEST_P(AccountsTest, SessionsPerUserAreBounded) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> first = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(milliseconds(1));
    ASSERT_TRUE(SignIn("juma@ega.go.tz").ok());
  }
  EXPECT_EQ(Count("sessions"), 20);
  EXPECT_FALSE(accounts_->Authenticate(first->token, "10.0.0.1").ok());  // the oldest ended
}

TEST_P(AccountsTest, CsrfTokenBelongsToItsSession) {
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> a = SignIn("juma@ega.go.tz");
  Result<NewSession> b = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(Accounts::CheckCsrf(a->token, a->csrf_token));
  EXPECT_FALSE(Accounts::CheckCsrf(a->token, b->csrf_token));
  EXPECT_FALSE(Accounts::CheckCsrf(a->token, ""));
  EXPECT_FALSE(Accounts::CheckCsrf("", ""));
  EXPECT_FALSE(Accounts::CheckCsrf(a->token, a->csrf_token.substr(1)));
  EXPECT_FALSE(Accounts::CheckCsrf(a->token, a->token));
  EXPECT_NE(a->csrf_token, a->token);
  EXPECT_EQ(accounts_->Authenticate(a->token, "x")->csrf_token, a->csrf_token);
}

TEST_P(AccountsTest, DisabledUsersCannotSignInAndTheirSessionsEnd) {
  Add("op@ega.go.tz", Role::kOperator);
  Add("juma@ega.go.tz", Role::kAuditor);
  Result<NewSession> session = SignIn("juma@ega.go.tz");
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(accounts_->DisableUser(cli_, "juma@ega.go.tz").ok());
  EXPECT_FALSE(accounts_->Authenticate(session->token, "10.0.0.1").ok());
  Result<NewSession> refused = SignIn("juma@ega.go.tz");
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  // With a wrong password it is told nothing more than anyone.
  EXPECT_EQ(SignIn("juma@ega.go.tz", "wrong password").status().code(),
            StatusCode::kUnauthenticated);
  ASSERT_TRUE(accounts_->EnableUser(cli_, "juma@ega.go.tz").ok());
  EXPECT_TRUE(SignIn("juma@ega.go.tz").ok());
}

TEST_P(AccountsTest, GarbageTokensAreRefused) {
  for (std::string_view token :
       {"", "x", "not a token at all", "0000000000000000000000000000000000000000000"}) {
    EXPECT_EQ(accounts_->Authenticate(token, "10.0.0.1").status().code(),
              StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(SignIn(std::string(100000, 'a'), std::string(100000, 'b')).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, PurgeDeletesEndedSessions) {
  Add("juma@ega.go.tz", Role::kAuditor);
  ASSERT_TRUE(SignIn("juma@ega.go.tz").ok());
  clock_.Advance(minutes(29));
  ASSERT_TRUE(SignIn("juma@ega.go.tz").ok());
  clock_.Advance(minutes(1));
  EXPECT_EQ(*accounts_->PurgeExpiredSessions(), 1);
  EXPECT_EQ(Count("sessions"), 1);
}

// With the real scrypt: an unknown e-mail costs a verification as a wrong password does (a
// lower bound only, so a busy machine cannot make it fail).
TEST_P(AccountsTest, AnUnknownEmailCostsAsMuchAsAWrongPassword) {
  AccountsOptions options = Options();
  options.hash_password = nullptr;  // crypto::HashSecret
  accounts_ = std::make_unique<Accounts>(*db_, std::move(options));
  Add("juma@ega.go.tz", Role::kAuditor);
  (void)SignIn("warm@ega.go.tz", "wrong password", "10.1.1.1");  // makes the dummy hash
  auto time = [&](std::string_view email) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(SignIn(email, "wrong password", "10.2.2.2").status().code(),
              StatusCode::kUnauthenticated);
    return std::chrono::steady_clock::now() - start;
  };
  const auto wrong = time("juma@ega.go.tz");
  const auto unknown = time("nobody@ega.go.tz");
  EXPECT_GT(wrong, milliseconds(5));  // scrypt N=2^15 really ran
  EXPECT_GT(unknown, wrong / 3);
}

}  // namespace
}  // namespace govesb::accounts
