#include "bench/setup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/temp_dir.h"
#include "crypto/primitives.h"
#include "govesb/client.h"
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

TEST(SetupTest, PushRegistersAPublisherTopicAndOneSubscriberPerUrl) {
  TempDir tmp("govesb-bench-setup");
  std::string dir = tmp.path() + "/data";
  SetupOptions options = Options(dir, crypto::Curve::kSecp256k1, "http://127.0.0.1:7001/");
  options.subscriber_urls = {"http://127.0.0.1:7101/", "http://127.0.0.1:7102/"};
  auto first = SetupBench(options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->push);
  EXPECT_TRUE(first->push_created);
  EXPECT_EQ(first->push_code, "PUSH01");
  ASSERT_EQ(first->subscriber_key_files.size(), 2u);
  EXPECT_EQ(first->subscriber_key_files[1], dir + "/bench/secp256k1/subscriber-2.key");
  std::string profile = Slurp(first->publisher_profile);
  EXPECT_NE(profile.find("\"api_code\":\"PUSH01\""), std::string::npos);
  EXPECT_NE(profile.find("\"client_id\":\"" + first->publisher_client_id + "\""),
            std::string::npos);
  std::string json = SetupResultJson(*first);
  EXPECT_NE(json.find("\"subscriber_key_files\":[\"" + first->subscriber_key_files[0] + "\",\""),
            std::string::npos);

  {
    auto data = store::DataDir::Open({.path = dir});
    ASSERT_TRUE(data.ok());
    auto db = data->OpenDatabase();
    ASSERT_TRUE(db.ok());
    registry::Registry reg(**db);
    auto topics = reg.ListTopics();
    ASSERT_TRUE(topics.ok());
    ASSERT_EQ(topics->size(), 1u);
    EXPECT_EQ((*topics)[0].publisher_client_id, first->publisher_client_id);
    auto subs = reg.ListSubscriptions();
    ASSERT_TRUE(subs.ok());
    ASSERT_EQ(subs->size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      const registry::Subscription& s = (*subs)[i];
      EXPECT_EQ(s.state, registry::kSubscriptionApproved);
      EXPECT_EQ(s.topic_code, "PUSH01");
      // The bus checks acknowledgements with the registered key: the key file must be it.
      size_t k = s.subscriber_client_id == first->subscriber_client_ids[0] ? 0 : 1;
      EXPECT_EQ(s.subscriber_client_id, first->subscriber_client_ids[k]);
      EXPECT_EQ(s.endpoint, options.subscriber_urls[k]);
      auto key = crypto::PrivateKey::FromText(Slurp(first->subscriber_key_files[k]));
      ASSERT_TRUE(key.ok());
      auto system = reg.GetSystem(s.subscriber_client_id);
      ASSERT_TRUE(system.ok());
      EXPECT_EQ(key->public_key().SpkiBase64(), system->public_key_b64);
    }
  }

  // Again with one subscriber on another port: the first is reused and follows the URL, the
  // second no longer gets deliveries.
  options.subscriber_urls = {"http://127.0.0.1:7201/"};
  auto again = SetupBench(options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->push_created);
  EXPECT_EQ(again->publisher_client_id, first->publisher_client_id);
  ASSERT_EQ(again->subscriber_client_ids.size(), 1u);
  EXPECT_EQ(again->subscriber_client_ids[0], first->subscriber_client_ids[0]);
  EXPECT_EQ(Slurp(again->publisher_profile), profile);
  auto data = store::DataDir::Open({.path = dir});
  ASSERT_TRUE(data.ok());
  auto db = data->OpenDatabase();
  ASSERT_TRUE(db.ok());
  registry::Registry reg(**db);
  auto subs = reg.ListSubscriptions();
  ASSERT_TRUE(subs.ok());
  size_t approved = 0;
  for (const auto& s : *subs) {
    if (s.state != registry::kSubscriptionApproved) continue;
    ++approved;
    EXPECT_EQ(s.subscriber_client_id, first->subscriber_client_ids[0]);
    EXPECT_EQ(s.endpoint, "http://127.0.0.1:7201/");
  }
  EXPECT_EQ(approved, 1u);
}

TEST(SetupTest, PushFilesLostTakesTheTopicOverAndRevokesStraySubscriptions) {
  TempDir tmp("govesb-bench-setup");
  std::string dir = tmp.path() + "/data";
  SetupOptions options = Options(dir, crypto::Curve::kP256, "http://127.0.0.1:7001/");
  options.subscriber_urls = {"http://127.0.0.1:7101/"};
  auto first = SetupBench(options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->push_code, "PUSHP256");
  std::filesystem::remove_all(dir + "/bench");
  auto second = SetupBench(options);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->push_created);
  EXPECT_EQ(second->publisher_client_id, first->publisher_client_id);  // the topic's owner
  EXPECT_NE(Slurp(second->publisher_profile).find("\"client_secret\":\""), std::string::npos);
  EXPECT_NE(second->subscriber_client_ids[0], first->subscriber_client_ids[0]);

  auto data = store::DataDir::Open({.path = dir});
  ASSERT_TRUE(data.ok());
  auto db = data->OpenDatabase();
  ASSERT_TRUE(db.ok());
  registry::Registry reg(**db);
  auto publisher = reg.GetSystem(second->publisher_client_id);
  ASSERT_TRUE(publisher.ok());
  // The profile's key and secret are the taken-over publisher's now.
  auto profile = sdk::LoadProfile(second->publisher_profile);
  ASSERT_TRUE(profile.ok());
  auto profile_key = crypto::PrivateKey::FromText(profile->options.private_key);
  ASSERT_TRUE(profile_key.ok());
  EXPECT_EQ(profile_key->public_key().SpkiBase64(), publisher->public_key_b64);
  auto subs = reg.ListSubscriptions();
  ASSERT_TRUE(subs.ok());
  for (const auto& s : *subs) {
    EXPECT_EQ(s.state == registry::kSubscriptionApproved,
              s.subscriber_client_id == second->subscriber_client_ids[0])
        << s.subscriber_client_id;
  }
}

TEST(SetupTest, RefusesABadSubscriberUrlBeforeChangingAnything) {
  TempDir tmp("govesb-bench-setup");
  SetupOptions options =
      Options(tmp.path() + "/data", crypto::Curve::kSecp256k1, "http://127.0.0.1:7001/");
  options.subscriber_urls = {"http://127.0.0.1:7101/", "nope"};
  EXPECT_FALSE(SetupBench(options).ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/data"));
}

TEST(SetupTest, RefusesABadProviderUrl) {
  TempDir tmp("govesb-bench-setup");
  auto r = SetupBench(Options(tmp.path(), crypto::Curve::kSecp256k1, "not a url"));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace govesb::bench
