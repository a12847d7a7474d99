#include <gtest/gtest.h>

#include "auth/client_credentials.h"
#include "auth/token.h"
#include "crypto/primitives.h"
#include "registry/registry.h"
#include "registry/registry_testing.h"
#include "registry/snapshot.h"

namespace govesb::auth {
namespace {

using registry::testing::NewPublicKey;
using registry::testing::OpenMigrated;
using registry::testing::TempDir;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = OpenMigrated(dir_.path() + "/govesb.db");
    registry_.emplace(*db_, registry::testing::TestOptions(clock_));
    ASSERT_TRUE(registry_->AddInstitution("EGA", "e-Government Authority").ok());
    auto added =
        registry_->AddSystem("EGA", "Portal", NewPublicKey(), "https://portal.example/esb");
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    client_id_ = added->system.client_id;
    secret_ = added->client_secret;
    Reload();
  }
  void Reload() {
    auto s = registry::Snapshot::Load(*db_);
    ASSERT_TRUE(s.ok());
    snapshot_ = *s;
  }

  TempDir dir_;
  SimulatedClock clock_;
  std::unique_ptr<store::Database> db_;
  std::optional<registry::Registry> registry_;
  std::shared_ptr<const registry::Snapshot> snapshot_;
  std::string client_id_;
  std::string secret_;
  TokenService tokens_{crypto::RandomBytes(32), clock_, std::chrono::seconds(3600)};
};

TEST_F(AuthTest, IssuedTokenAuthenticatesUntilExpiry) {
  const registry::System* system = snapshot_->FindSystem(client_id_);
  ASSERT_NE(system, nullptr);
  auto issued = tokens_.Issue(*system);
  EXPECT_EQ(issued.expires_in, 3600);
  auto who = tokens_.Authenticate(issued.access_token, *snapshot_);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ((*who)->client_id, client_id_);

  // A newer token does not invalidate the older one.
  auto newer = tokens_.Issue(*system);
  EXPECT_NE(newer.access_token, issued.access_token);
  EXPECT_TRUE(tokens_.Authenticate(issued.access_token, *snapshot_).ok());

  clock_.Advance(std::chrono::seconds(3599));
  EXPECT_TRUE(tokens_.Authenticate(issued.access_token, *snapshot_).ok());
  clock_.Advance(std::chrono::seconds(1));
  auto expired = tokens_.Authenticate(issued.access_token, *snapshot_);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
}

TEST_F(AuthTest, ForgedOrMalformedTokensAreRejected) {
  auto issued = tokens_.Issue(*snapshot_->FindSystem(client_id_));
  std::string t = issued.access_token;
  t[5] = t[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(tokens_.Authenticate(t, *snapshot_).ok());
  EXPECT_FALSE(tokens_.Authenticate("", *snapshot_).ok());
  EXPECT_FALSE(tokens_.Authenticate("no-dot-here", *snapshot_).ok());
  TokenService other(crypto::RandomBytes(32), clock_, std::chrono::seconds(3600));
  EXPECT_FALSE(other.Authenticate(issued.access_token, *snapshot_).ok());
}

TEST_F(AuthTest, RotationAndDisableRevokeTokens) {
  auto issued = tokens_.Issue(*snapshot_->FindSystem(client_id_));
  ASSERT_TRUE(registry_->RotateSecret(client_id_).ok());
  Reload();
  auto revoked = tokens_.Authenticate(issued.access_token, *snapshot_);
  ASSERT_FALSE(revoked.ok());
  EXPECT_NE(revoked.status().message().find("revoked"), std::string::npos);

  auto fresh = tokens_.Issue(*snapshot_->FindSystem(client_id_));
  EXPECT_TRUE(tokens_.Authenticate(fresh.access_token, *snapshot_).ok());
  ASSERT_TRUE(registry_->DisableSystem(client_id_).ok());
  Reload();
  auto disabled = tokens_.Authenticate(fresh.access_token, *snapshot_);
  ASSERT_FALSE(disabled.ok());
}

TEST(TokenFromAuthorization, AllPlacements) {
  EXPECT_EQ(TokenFromAuthorization("Bearer abc.def"), "abc.def");
  EXPECT_EQ(TokenFromAuthorization("bearer  abc.def "), "abc.def");
  EXPECT_EQ(TokenFromAuthorization("abc.def"), "abc.def");
  EXPECT_EQ(TokenFromAuthorization("Basic dXNlcjpwdw=="), "");
  EXPECT_EQ(TokenFromAuthorization(""), "");
}

TEST_F(AuthTest, ClientCredentialsSlowThenCached) {
  ClientAuthenticator auth;
  // Nothing cached yet: the slow path is needed.
  EXPECT_FALSE(auth.TryCached(*snapshot_, client_id_, secret_).has_value());
  auto ok = auth.Verify(*snapshot_, client_id_, secret_);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto cached = auth.TryCached(*snapshot_, client_id_, secret_);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(cached->ok());
  // A wrong secret is never answered from the cache.
  EXPECT_FALSE(auth.TryCached(*snapshot_, client_id_, secret_ + "x").has_value());
  EXPECT_FALSE(auth.Verify(*snapshot_, client_id_, secret_ + "x").ok());
  EXPECT_FALSE(auth.Verify(*snapshot_, "00000000-0000-4000-8000-000000000000", secret_).ok());

  // Rotation invalidates the cached entry and the old secret.
  auto rotated = registry_->RotateSecret(client_id_);
  ASSERT_TRUE(rotated.ok());
  Reload();
  EXPECT_FALSE(auth.TryCached(*snapshot_, client_id_, secret_).has_value());
  EXPECT_FALSE(auth.Verify(*snapshot_, client_id_, secret_).ok());
  EXPECT_TRUE(auth.Verify(*snapshot_, client_id_, *rotated).ok());

  ASSERT_TRUE(registry_->DisableSystem(client_id_).ok());
  Reload();
  auto disabled = auth.Verify(*snapshot_, client_id_, *rotated);
  ASSERT_FALSE(disabled.ok());
  EXPECT_NE(disabled.status().message().find("disabled"), std::string::npos);
}

}  // namespace
}  // namespace govesb::auth
