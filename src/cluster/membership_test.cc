#include "cluster/membership.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "base/clock.h"
#include "base/temp_dir.h"
#include "postgres/test_server.h"

namespace govesb::cluster {
namespace {

class ClusterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conninfo_ = postgres::testing::FreshDatabase();
    ASSERT_FALSE(conninfo_.empty());
    db_ = store::Database::OpenPostgres(conninfo_).value();
    ASSERT_TRUE(MigrateClusterStore(*db_).ok());
  }
  std::string conninfo_;
  std::unique_ptr<store::Database> db_;
  TempDir dir_;
};

TEST(ClusterStore, LivesInPostgresOnly) {
  auto db = store::Database::Open(":memory:").value();
  EXPECT_EQ(MigrateClusterStore(*db).code(), StatusCode::kFailedPrecondition);
}

TEST(NodeIds, AreShortAndPlain) {
  EXPECT_TRUE(ValidateNodeId("node-1").ok());
  EXPECT_TRUE(ValidateNodeId("dc2.bus_3").ok());
  EXPECT_FALSE(ValidateNodeId("").ok());
  EXPECT_FALSE(ValidateNodeId(std::string(65, 'a')).ok());
  EXPECT_FALSE(ValidateNodeId("node 1").ok());
  EXPECT_FALSE(ValidateNodeId("node\n1").ok());
}

TEST_F(ClusterStoreTest, TheKeyEncryptionKeyFileIsMadeOnceAndPrivate) {
  const std::string path = dir_.path() + "/kek";
  EXPECT_EQ(LoadKeyEncryptionKey(path, false).status().code(), StatusCode::kNotFound);
  auto made = LoadKeyEncryptionKey(path, true);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadKeyEncryptionKey(path, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *made);  // not replaced
}

TEST_F(ClusterStoreTest, SecretsAreMadeOnceSealedAndOpenOnlyWithTheirKey) {
  const std::string kek(32, 'k');
  EXPECT_EQ(LoadSecrets(*db_, kek).status().code(), StatusCode::kNotFound);
  auto made = InitSecrets(*db_, kek, crypto::Curve::kSecp256k1);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  // A second init changes nothing.
  EXPECT_EQ(InitSecrets(*db_, kek, crypto::Curve::kP256).status().code(),
            StatusCode::kAlreadyExists);
  auto loaded = LoadSecrets(*db_, kek);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->bus_key.Pkcs8Base64(), made->bus_key.Pkcs8Base64());
  EXPECT_EQ(loaded->token_secret, made->token_secret);
  EXPECT_EQ(loaded->evidence_key, made->evidence_key);
  EXPECT_EQ(loaded->token_secret.size(), 32u);
  // Another key does not open them, and says so.
  auto wrong = LoadSecrets(*db_, std::string(32, 'x'));
  EXPECT_EQ(wrong.status().code(), StatusCode::kBadSignature);
  // The database never holds them in the clear.
  auto rows = db_->Prepare("SELECT sealed FROM cluster_secrets");
  ASSERT_TRUE(rows.ok());
  while (*rows->Step()) {
    EXPECT_EQ(rows->ColumnText(0).find(made->bus_key.Pkcs8Base64()), std::string::npos);
  }
  // A sealed value moved under another name does not open.
  ASSERT_TRUE(db_->Exec("UPDATE cluster_secrets SET sealed = (SELECT sealed FROM cluster_secrets"
                        " WHERE name = 'evidence-key') WHERE name = 'token-secret'")
                  .ok());
  EXPECT_EQ(LoadSecrets(*db_, kek).status().code(), StatusCode::kBadSignature);
}

TEST_F(ClusterStoreTest, TheKeyRingIsTheInitKeyThenRotatesSealed) {
  const std::string kek(32, 'k');
  auto made = InitSecrets(*db_, kek, crypto::Curve::kSecp256k1);
  ASSERT_TRUE(made.ok());
  // Before any rotation: the init key alone, signing since init.
  auto ring = LoadKeyRing(*db_, kek);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  ASSERT_EQ(ring->keys().size(), 1u);
  EXPECT_EQ(ring->keys()[0].private_key().Pkcs8Base64(), made->bus_key.Pkcs8Base64());
  EXPECT_GT(*ring->keys()[0].valid_from_ms, 0);

  const int64_t now = SystemClock().NowMillis();
  crypto::PrivateKey next = *crypto::PrivateKey::Generate(crypto::Curve::kP256);
  auto staged = UpdateKeyRing(*db_, kek,
                              [&](const crypto::KeyRing& r) { return r.Stage(next, now, 60'000); });
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  // A change that fails stores nothing.
  auto refused = UpdateKeyRing(*db_, kek, [&](const crypto::KeyRing& r) {
    return r.Stage(*crypto::PrivateKey::Generate(crypto::Curve::kP256), now, 0);
  });
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(UpdateKeyRing(*db_, kek, [&](const crypto::KeyRing& r) {
                return r.Activate(now, now);
              }).ok());
  auto loaded = LoadSecrets(*db_, kek);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->key_ring.keys().size(), 2u);
  EXPECT_EQ(loaded->bus_key.Pkcs8Base64(), next.Pkcs8Base64()) << "the new key signs";
  EXPECT_EQ(loaded->key_ring.StatusOf(loaded->key_ring.keys()[0], now + 1),
            crypto::KeyStatus::kOverlap);
  // Sealed: neither private key in the clear; another key-encryption key does not open it.
  auto rows = db_->Prepare("SELECT sealed FROM cluster_secrets WHERE name = 'esb-key-ring'");
  ASSERT_TRUE(rows.ok() && *rows->Step());
  EXPECT_EQ(rows->ColumnText(0).find(next.Pkcs8Base64()), std::string::npos);
  EXPECT_EQ(LoadKeyRing(*db_, std::string(32, 'x')).status().code(), StatusCode::kBadSignature);
  EXPECT_EQ(UpdateKeyRing(*db_, std::string(32, 'x'),
                          [](const crypto::KeyRing& r) { return Result<crypto::KeyRing>(r); })
                .status()
                .code(),
            StatusCode::kBadSignature);
}

TEST_F(ClusterStoreTest, NodesHeartbeatAndSayWhenTheyStop) {
  std::atomic<int64_t> delivered{0};
  auto stats = [&] {
    return NodeStats{.lanes_held = 2, .deliveries_pending = 5, .delivered = delivered.load()};
  };
  auto a = Membership::Start(conninfo_, {.node_id = "a", .address = "127.0.0.1:1"},
                             std::chrono::milliseconds(50), stats);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Membership::Start(conninfo_, {.node_id = "b", .address = "127.0.0.1:2"},
                             std::chrono::milliseconds(50), stats);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(
      Membership::Start(conninfo_, {.node_id = "bad id"}, std::chrono::milliseconds(50), stats)
          .ok());
  delivered = 7;
  // Both live; the stats of a later heartbeat arrive.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<NodeInfo> nodes;
  while (std::chrono::steady_clock::now() < deadline) {
    nodes = ListNodes(*db_).value();
    if (nodes.size() == 2 && nodes[0].stats.delivered == 7 && (*a)->live_nodes() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].node_id, "a");
  EXPECT_EQ(nodes[0].address, "127.0.0.1:1");
  EXPECT_EQ(nodes[0].state, "running");
  EXPECT_EQ(nodes[0].stats.lanes_held, 2);
  EXPECT_EQ(nodes[0].stats.delivered, 7);
  EXPECT_EQ((*a)->live_nodes(), 2);
  b->reset();
  nodes = ListNodes(*db_).value();
  EXPECT_EQ(nodes[1].state, "stopped");
  EXPECT_EQ(CountLiveNodes(*db_, SystemClock().NowMillis(), 10'000).value(), 1);
}

}  // namespace
}  // namespace govesb::cluster
