#include "bench/setup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/temp_dir.h"
#include "crypto/primitives.h"
#include "store/data_dir.h"

namespace govesb::bench {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

SetupOptions Options(const std::string& dir, crypto::Curve curve, std::string url) {
  SetupOptions o;
  o.data_dir = dir;
  o.provider_url = std::move(url);
  o.curve = curve;
  o.hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); };
  return o;
}

TEST(SetupTest, CreatesOncePerCurveThenReusesAndFollowsTheProviderUrl) {
  TempDir tmp("govesb-bench-setup");
  std::string dir = tmp.path() + "/data";
  auto first = SetupBench(Options(dir, crypto::Curve::kSecp256k1, "http://127.0.0.1:7001/"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->api_code, "BNCH01");
  EXPECT_EQ(first->provider_key_file, dir + "/bench/secp256k1/provider.key");
  auto provider_key = crypto::PrivateKey::FromText(Slurp(first->provider_key_file));
  ASSERT_TRUE(provider_key.ok());
  EXPECT_EQ(provider_key->curve(), crypto::Curve::kSecp256k1);
  std::string profile = Slurp(first->consumer_profile);
  EXPECT_NE(profile.find("\"client_secret\":\""), std::string::npos);
  EXPECT_NE(profile.find("\"url\":\"\""), std::string::npos);
  EXPECT_NE(profile.find(first->esb_public_key), std::string::npos);
  EXPECT_EQ(std::filesystem::status(first->consumer_profile).permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);

  auto again = SetupBench(Options(dir, crypto::Curve::kSecp256k1, "http://127.0.0.1:7002/"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->consumer_client_id, first->consumer_client_id);
  EXPECT_EQ(Slurp(again->consumer_profile), profile);

  auto p256 = SetupBench(Options(dir, crypto::Curve::kP256, "http://127.0.0.1:7003/"));
  ASSERT_TRUE(p256.ok()) << p256.status().ToString();
  EXPECT_TRUE(p256->created);
  EXPECT_EQ(p256->api_code, "BNCHP256");
  EXPECT_NE(p256->consumer_client_id, first->consumer_client_id);

  // The registry sees the new endpoint of the secp256k1 provider and both grants.
  auto data = store::DataDir::Open({.path = dir});
  ASSERT_TRUE(data.ok());
  auto db = data->OpenDatabase();
  ASSERT_TRUE(db.ok());
  registry::Registry reg(**db);
  auto provider = reg.GetSystem(first->provider_client_id);
  ASSERT_TRUE(provider.ok());
  EXPECT_EQ(provider->endpoint, "http://127.0.0.1:7002/");
  auto grants = reg.ListGrants();
  ASSERT_TRUE(grants.ok());
  EXPECT_EQ(grants->size(), 2u);
}

TEST(SetupTest, LostFilesAreRecreatedAndTheApiTakenOver) {
  TempDir tmp("govesb-bench-setup");
  std::string dir = tmp.path() + "/data";
  auto first = SetupBench(Options(dir, crypto::Curve::kP256, "http://127.0.0.1:7001/"));
  ASSERT_TRUE(first.ok());
  std::filesystem::remove_all(dir + "/bench");
  auto second = SetupBench(Options(dir, crypto::Curve::kP256, "http://127.0.0.1:7001/"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->created);
  EXPECT_EQ(second->provider_client_id, first->provider_client_id);
  EXPECT_NE(second->consumer_client_id, first->consumer_client_id);
}

TEST(SetupTest, RefusesABadProviderUrl) {
  TempDir tmp("govesb-bench-setup");
  auto r = SetupBench(Options(tmp.path(), crypto::Curve::kSecp256k1, "not a url"));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace govesb::bench
