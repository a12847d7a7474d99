#pragma once

// The fixture of the accounts tests: an in-memory database with every schema, two institutions
// (EGA, RITA), a simulated clock, a fast password hasher, and helpers to add users and sign in.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "admin/journal.h"
#include "admin/service.h"
#include "base/temp_dir.h"
#include "crypto/primitives.h"
#include "store/database.h"
#include "store/database_testing.h"

namespace govesb::accounts {

inline constexpr std::string_view kPassword = "correct horse battery";

// On both backends (instantiated once for all the test files, in accounts_test.cc): a database
// file of its own (SQLite) or a database of its own (PostgreSQL).
class AccountsTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    db_ = store::testing::Connect(GetParam(), store::testing::NewDatabase(GetParam(), dir_));
    ASSERT_TRUE(MigrateAccountsStore(*db_).ok());
    admin::AdminService service(*db_, {.clock = &clock_, .hash_secret = FastHash});
    ASSERT_TRUE(service.AddInstitution(cli_, "EGA", "e-Government Authority").ok());
    ASSERT_TRUE(service.AddInstitution(cli_, "RITA", "Registration Agency").ok());
    accounts_ = std::make_unique<Accounts>(*db_, Options());
  }

  static std::string FastHash(std::string_view s) { return crypto::HashSecretForTest(s); }

  AccountsOptions Options() {
    return AccountsOptions{.clock = &clock_, .hash_password = FastHash, .guard = &guard_};
  }

  // A user with kPassword (or a one-time password when `password` is empty).
  User Add(std::string_view email, admin::Role role, std::string_view institution = {},
           std::string_view password = kPassword) {
    Result<NewUser> created = accounts_->CreateUser(
        cli_, {.email = email, .role = role, .institution = institution, .password = password});
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created->user : User{};
  }

  Result<NewSession> SignIn(std::string_view email, std::string_view password = kPassword,
                            std::string_view address = "10.0.0.1") {
    return accounts_->Login(
        {.email = email, .password = password, .address = address, .user_agent = "test"});
  }

  // The actor of a fresh session of `email`.
  admin::Actor ActorOf(std::string_view email) {
    Result<NewSession> session = SignIn(email);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    if (!session.ok()) return {};
    Result<Principal> p = accounts_->Authenticate(session->token, "10.0.0.1");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? p->actor : admin::Actor{};
  }

  std::vector<admin::ActionRecord> Actions() {
    auto actions = admin::ListActions(*db_, {.limit = 1000});
    EXPECT_TRUE(actions.ok());
    return actions.ok() ? *actions : std::vector<admin::ActionRecord>{};
  }

  int64_t Count(const std::string& table) {
    auto st = db_->Prepare("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(st.ok());
    auto row = st->Step();
    EXPECT_TRUE(row.ok() && *row);
    return st->ColumnInt64(0);
  }

  TempDir dir_;
  SimulatedClock clock_;
  LoginGuard guard_{clock_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Accounts> accounts_;
  const admin::Actor cli_ = admin::Actor::LocalOperator();
};

}  // namespace govesb::accounts
