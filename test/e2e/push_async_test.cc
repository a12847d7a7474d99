// End to end: push with guaranteed delivery and asynchronous answers, through a real bus (in
// process, on port 0) with real receivers behind it, driven by the C++ SDK client.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "base/file_size_limit.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "delivery/sqlite_queue.h"
#include "evidence/log.h"
#include "evidence/query.h"
#include "evidence/segments.h"
#include "govesb/client.h"
#include "registry/registry.h"
#include "server/bus_server.h"
#include "store/data_dir.h"
#include "support/test_receiver.h"
#include "traffic/query.h"

namespace govesb {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::TestReceiver;

struct Party {
  std::optional<crypto::PrivateKey> key;
  std::string client_id;
  std::string secret;
  int64_t id = 0;
};

class PushAsyncTest : public ::testing::Test {
 protected:
  static constexpr int kMaxAttempts = 6;

  void SetUp() override {
    // The whole id: its first 12 digits are the millisecond, which two tests started at once
    // (ctest -j) share.
    dir_ = fs::temp_directory_path() / ("govesb-push-" + crypto::NewRequestId());
    store::DataDirOptions dopts;
    dopts.path = dir_.string();
    auto data_dir = store::DataDir::Open(dopts);
    ASSERT_TRUE(data_dir.ok()) << data_dir.status().ToString();
    bus_key_.emplace(data_dir->bus_key().public_key());
    evidence_key_ = data_dir->evidence_key();
    auto db = data_dir->OpenDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());
    ASSERT_TRUE(delivery::MigrateDeliveryStore(*db_).ok());
    registry::RegistryOptions ropts;
    ropts.hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); };
    registry_.emplace(*db_, ropts);
    ASSERT_TRUE(registry_->AddInstitution("RITA", "Registration Agency").ok());
    ASSERT_TRUE(registry_->AddInstitution("MOH", "Ministry of Health").ok());
  }

  void TearDown() override {
    bus_.reset();
    registry_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Party Register(const std::string& institution, const std::string& name,
                 const std::string& endpoint, crypto::Curve curve = crypto::Curve::kP256) {
    auto key = crypto::PrivateKey::Generate(curve);
    GOVESB_CHECK(key.ok());
    auto added = registry_->AddSystem(institution, name, key->public_key().SpkiBase64(), endpoint);
    GOVESB_CHECK(added.ok());
    return Party{std::move(*key), added->system.client_id, added->client_secret, added->system.id};
  }

  std::unique_ptr<TestReceiver> Receiver(const Party& p, uint16_t port = 0) {
    return std::make_unique<TestReceiver>(*p.key, *bus_key_, port);
  }

  void StartBus() {
    server::ServeOptions o;
    o.durability.busy_timeout_ms = 300;
    o.data_dir = dir_.string();
    o.listen = "127.0.0.1:0";
    o.plain_http = true;
    o.io_threads = 2;
    o.delivery.retry_base = milliseconds(100);
    o.delivery.retry_max = milliseconds(400);
    o.delivery.max_attempts = kMaxAttempts;
    o.delivery.breaker_threshold = 3;
    o.delivery.breaker_cooldown = milliseconds(100);
    o.delivery.breaker_cooldown_max = milliseconds(200);
    o.delivery.timeout = milliseconds(2000);
    o.delivery.poll_interval = milliseconds(50);
    bus_ = std::make_unique<server::BusServer>(o);
    Status s = bus_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::unique_ptr<sdk::Client> ClientFor(const Party& p) {
    sdk::ClientOptions o;
    o.bus_url = bus_->base_url();
    o.client_id = p.client_id;
    o.client_secret = p.secret;
    o.private_key = p.key->Pkcs8Base64();
    o.bus_public_key = bus_->bus_public_key();
    auto client = sdk::Client::Create(o);
    GOVESB_CHECK(client.ok());
    return std::move(client).value();
  }

  std::vector<delivery::DeliveryInfo> Deliveries(std::optional<delivery::DeliveryState> state) {
    delivery::DeliveryFilter filter;
    filter.state = state;
    auto list = delivery::SqliteDeliveryOperations(*db_).List(filter);
    GOVESB_CHECK(list.ok());
    return std::move(*list);
  }

  // Waits until `pred` holds (the bus works in the background); false on timeout.
  template <typename Pred>
  bool Eventually(Pred pred, milliseconds timeout = milliseconds(10'000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  fs::path dir_;
  std::optional<crypto::PublicKey> bus_key_;
  std::string evidence_key_;  // the data directory's evidence body key
  std::unique_ptr<store::Database> db_;
  std::optional<registry::Registry> registry_;
  std::unique_ptr<server::BusServer> bus_;
};

std::vector<std::string> RequestIds(const std::vector<TestReceiver::Received>& received) {
  std::vector<std::string> out;
  for (const auto& r : received) out.push_back(r.request_id);
  return out;
}

// The issue's scenario: three subscribers, one down for a while, one answering with bad
// signatures.
TEST_F(PushAsyncTest, PushReachesEverySubscriberRetriesTheDownOneAndDeadLettersTheBadOne) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  uint16_t down_port = TestReceiver::FreePort();
  Party healthy = Register("MOH", "Health records", "http://127.0.0.1:9/set-below");
  Party down = Register("MOH", "District office", "http://127.0.0.1:9/set-below");
  Party bad =
      Register("MOH", "Statistics", "http://127.0.0.1:9/set-below", crypto::Curve::kSecp256k1);
  auto healthy_rx = Receiver(healthy);
  auto bad_rx = Receiver(bad);
  bad_rx->set_mode(TestReceiver::Mode::kBadSignature);
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(healthy.client_id, "BIRTHS", healthy_rx->url()).ok());
  ASSERT_TRUE(registry_
                  ->AddSubscription(down.client_id, "BIRTHS",
                                    "http://127.0.0.1:" + std::to_string(down_port) + "/in")
                  .ok());
  ASSERT_TRUE(registry_->AddSubscription(bad.client_id, "BIRTHS", bad_rx->url()).ok());
  StartBus();

  auto client = ClientFor(publisher);
  std::vector<std::string> accepted;
  for (int i = 0; i < 3; ++i) {
    auto r = client->Push("BIRTHS", R"({"child":"Baraka","n":)" + std::to_string(i) + "}");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->success);
    EXPECT_EQ(r->request_id.size(), 32u);
    accepted.push_back(r->request_id);
  }

  // The healthy subscriber gets them at once, in order, signed by the bus.
  ASSERT_TRUE(healthy_rx->WaitFor(3, milliseconds(3000)));
  auto got = healthy_rx->received();
  EXPECT_EQ(RequestIds(got), accepted);
  for (const auto& r : got) {
    EXPECT_TRUE(r.bus_signature_ok);
    EXPECT_EQ(r.push_code, "BIRTHS");
  }
  EXPECT_EQ(got[1].esb_body, R"({"child":"Baraka","n":1})");

  // The down one: its circuit opens after a few failed attempts; nothing is lost meanwhile ...
  ASSERT_TRUE(Eventually([&] { return bus_->delivery_metrics().open_circuits >= 1; }));
  size_t down_pending = 0;
  for (const auto& d : Deliveries(delivery::DeliveryState::kPending)) {
    if (d.target_client_id == down.client_id) ++down_pending;
  }
  EXPECT_EQ(down_pending, 3u);
  // ... and it gets everything, in order, once it comes back.
  auto down_rx = Receiver(down, down_port);
  ASSERT_TRUE(down_rx->WaitFor(3, milliseconds(5000)));
  EXPECT_EQ(RequestIds(down_rx->received()), accepted);
  for (const auto& r : down_rx->received()) EXPECT_TRUE(r.bus_signature_ok);

  // The bad one ends dead-lettered with the reason, after all its attempts.
  ASSERT_TRUE(Eventually([&] { return Deliveries(delivery::DeliveryState::kDead).size() == 3; }))
      << "the bad subscriber's deliveries should be dead-lettered";
  for (const auto& d : Deliveries(delivery::DeliveryState::kDead)) {
    EXPECT_EQ(d.target_client_id, bad.client_id);
    EXPECT_EQ(d.attempts, kMaxAttempts);
    EXPECT_NE(d.last_error.find("signature"), std::string::npos) << d.last_error;
  }
  EXPECT_EQ(bad_rx->count(), 3u * kMaxAttempts);
  ASSERT_TRUE(Eventually([&] { return Deliveries(delivery::DeliveryState::kPending).empty(); }));

  // Fixed, the bad one gets its dead letters again by redelivery.
  bad_rx->set_mode(TestReceiver::Mode::kAck);
  size_t before = bad_rx->count();
  auto n = delivery::SqliteDeliveryOperations(*db_).RedeliverAllDead("BIRTHS", 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3);
  ASSERT_TRUE(bad_rx->WaitFor(before + 3, milliseconds(5000)));
  auto redelivered = bad_rx->received();
  std::vector<std::string> last3;
  for (size_t i = before; i < redelivered.size(); ++i) last3.push_back(redelivered[i].request_id);
  EXPECT_EQ(last3, accepted) << "redelivered in acceptance order";
  ASSERT_TRUE(
      Eventually([&] { return Deliveries(delivery::DeliveryState::kDelivered).size() == 9; }));

  auto m = bus_->delivery_metrics();
  EXPECT_EQ(m.accepted_messages, 3);
  EXPECT_EQ(m.delivered, 9);
  EXPECT_EQ(m.dead_lettered, 3);
  EXPECT_EQ(m.pending, 0);
  EXPECT_GT(m.attempts_by_outcome["bad_signature"], 0);
  EXPECT_GT(m.attempts_by_outcome["unreachable"], 0);
}

TEST_F(PushAsyncTest, ASlowSubscriberDelaysNobodyElse) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party slow = Register("MOH", "Slow system", "http://127.0.0.1:9/set-below");
  Party fast = Register("MOH", "Fast system", "http://127.0.0.1:9/set-below");
  auto slow_rx = Receiver(slow);
  slow_rx->set_delay(milliseconds(400));
  auto fast_rx = Receiver(fast);
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(slow.client_id, "BIRTHS", slow_rx->url()).ok());
  ASSERT_TRUE(registry_->AddSubscription(fast.client_id, "BIRTHS", fast_rx->url()).ok());
  StartBus();
  auto client = ClientFor(publisher);
  std::vector<std::string> accepted;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    auto r = client->Push("BIRTHS", "{\"n\":" + std::to_string(i) + "}");
    ASSERT_TRUE(r.ok());
    accepted.push_back(r->request_id);
  }
  ASSERT_TRUE(fast_rx->WaitFor(5, milliseconds(5000)));
  auto fast_done = std::chrono::steady_clock::now() - started;
  EXPECT_LT(fast_done, milliseconds(1500)) << "the fast subscriber waited for the slow one";
  EXPECT_LE(slow_rx->count(), 3u) << "the slow one takes 400 ms per delivery, one at a time";
  ASSERT_TRUE(slow_rx->WaitFor(5, milliseconds(10'000)));
  EXPECT_EQ(RequestIds(slow_rx->received()), accepted);
  EXPECT_EQ(RequestIds(fast_rx->received()), accepted);
}

TEST_F(PushAsyncTest, PushesAreRefusedForUnknownTopicsAndNonPublishers) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party other = Register("MOH", "Health records", "http://127.0.0.1:9/unused");
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(other.client_id, "BIRTHS").ok());
  StartBus();

  auto unknown = ClientFor(publisher)->Push("DEATHS", "{}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, sdk::ErrorKind::kRefused);
  EXPECT_NE(unknown.error().message.find("unknown pushCode 'DEATHS'"), std::string::npos)
      << unknown.error().message;

  auto not_owner = ClientFor(other)->Push("BIRTHS", "{}");
  ASSERT_FALSE(not_owner.ok());
  EXPECT_NE(not_owner.error().message.find("not the publisher"), std::string::npos)
      << not_owner.error().message;
  EXPECT_TRUE(Deliveries(std::nullopt).empty()) << "a refused push stores nothing";
}

// Disabling a topic refuses its pushes with a signed success:false; what it accepted before is
// still delivered; enabled again, it takes pushes again.
TEST_F(PushAsyncTest, ADisabledTopicRefusesPushesAndStillDeliversWhatItAccepted) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party subscriber = Register("MOH", "Health records", "http://127.0.0.1:9/set-below");
  const uint16_t port = TestReceiver::FreePort();
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_
                  ->AddSubscription(subscriber.client_id, "BIRTHS",
                                    "http://127.0.0.1:" + std::to_string(port) + "/in")
                  .ok());
  StartBus();
  auto client = ClientFor(publisher);
  std::vector<std::string> accepted;
  auto first = client->Push("BIRTHS", R"({"n":0})");
  ASSERT_TRUE(first.ok()) << first.error().message;
  accepted.push_back(first->request_id);

  // The subscriber is down, so the delivery waits; meanwhile the topic is disabled. The bus
  // sees the change within a second (a push it accepts before then is accepted for good).
  ASSERT_TRUE(registry_->DisableTopic("BIRTHS").ok());
  std::optional<sdk::Error> refused;
  int n = 0;  // each push its own data: the same signed data twice is refused as a replay
  ASSERT_TRUE(Eventually([&] {
    auto r = client->Push("BIRTHS", "{\"n\":" + std::to_string(++n) + "}");
    if (r.ok()) {
      accepted.push_back(r->request_id);
      return false;
    }
    refused = r.error();
    return true;
  }));
  // kRefused: the bus's answer was an envelope whose signature the SDK verified.
  EXPECT_EQ(refused->kind, sdk::ErrorKind::kRefused) << refused->message;
  EXPECT_EQ(refused->http_status, 200);
  EXPECT_NE(refused->message.find("push topic BIRTHS is disabled on the bus"), std::string::npos)
      << refused->message;
  EXPECT_EQ(refused->request_id.size(), 32u);
  EXPECT_EQ(Deliveries(std::nullopt).size(), accepted.size()) << "a refused push stores nothing";

  // What was accepted is delivered once the subscriber is up, the topic still disabled.
  auto rx = Receiver(subscriber, port);
  ASSERT_TRUE(rx->WaitFor(accepted.size(), milliseconds(10'000)));
  EXPECT_EQ(RequestIds(rx->received()), accepted);

  ASSERT_TRUE(registry_->EnableTopic("BIRTHS").ok());
  std::string again;
  ASSERT_TRUE(Eventually([&] {
    auto r = client->Push("BIRTHS", "{\"n\":" + std::to_string(++n) + "}");
    if (r.ok()) again = r->request_id;
    return r.ok();
  })) << "enabled again, the topic takes pushes";
  accepted.push_back(again);
  ASSERT_TRUE(rx->WaitFor(accepted.size(), milliseconds(10'000)));
  EXPECT_EQ(RequestIds(rx->received()), accepted);
}

TEST_F(PushAsyncTest, APushThatCannotBeMadeDurableIsRefusedNotAccepted) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party subscriber = Register("MOH", "Health records", "http://127.0.0.1:9/unused");
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(subscriber.client_id, "BIRTHS").ok());
  StartBus();
  auto client = ClientFor(publisher);
  ASSERT_TRUE(client->AccessToken().ok());
  {
    // Another process holds the database's write lock for longer than the bus may wait.
    auto lock = store::Transaction::Begin(*db_, store::TransactionMode::kImmediate);
    ASSERT_TRUE(lock.ok());
    auto refused = client->Push("BIRTHS", R"({"child":"Neema"})");
    ASSERT_FALSE(refused.ok()) << "a push that is not on disk must not be called accepted";
    EXPECT_EQ(refused.error().kind, sdk::ErrorKind::kRefused);
    EXPECT_NE(refused.error().message.find("could not be stored durably; send it again"),
              std::string::npos)
        << refused.error().message;
  }
  EXPECT_TRUE(Deliveries(std::nullopt).empty()) << "nothing of the refused push was kept";
  auto accepted = client->Push("BIRTHS", R"({"child":"Neema"})");
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(Deliveries(std::nullopt).size(), 1u);

  // Both pushes are counted: the refused one as the bus's failure, not the publisher's.
  bus_->Shutdown();  // flushes the traffic counters
  traffic::SeriesFilter f;
  const int64_t now = SystemClock().NowMillis();
  f.from_ms = now - 3'600'000;
  f.to_ms = now + 60'000;
  f.kind = traffic::Kind::kPush;
  f.systems = {publisher.client_id};
  auto pushes = traffic::Totals(*db_, f, traffic::GroupBy::kCode);
  ASSERT_TRUE(pushes.ok()) << pushes.status().ToString();
  ASSERT_EQ(pushes->size(), 1u);
  EXPECT_EQ((*pushes)[0].key, "BIRTHS");
  EXPECT_EQ((*pushes)[0].figures.requests, 2u);
  EXPECT_EQ((*pushes)[0].figures.by_outcome[static_cast<int>(traffic::Outcome::kSuccess)], 1u);
  EXPECT_EQ((*pushes)[0].figures.by_outcome[static_cast<int>(traffic::Outcome::kBusFailure)], 1u);
}

TEST_F(PushAsyncTest, APushWithoutSubscribersIsAcceptedAndStored) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  StartBus();
  auto r = ClientFor(publisher)->Push("BIRTHS", R"({"child":"Amani"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->success);
  EXPECT_EQ(bus_->delivery_metrics().accepted_messages, 1);
}

TEST_F(PushAsyncTest, PendingDeliveriesResumeAfterARestart) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  uint16_t port = TestReceiver::FreePort();
  Party subscriber =
      Register("MOH", "Health records", "http://127.0.0.1:" + std::to_string(port) + "/in");
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(subscriber.client_id, "BIRTHS").ok());
  StartBus();
  std::vector<std::string> accepted;
  {
    auto client = ClientFor(publisher);
    for (int i = 0; i < 5; ++i) {
      auto r = client->Push("BIRTHS", "{\"n\":" + std::to_string(i) + "}");
      ASSERT_TRUE(r.ok());
      accepted.push_back(r->request_id);
    }
  }
  bus_->Shutdown();
  bus_.reset();
  EXPECT_EQ(Deliveries(delivery::DeliveryState::kPending).size(), 5u);

  auto rx = Receiver(subscriber, port);
  StartBus();
  ASSERT_TRUE(rx->WaitFor(5, milliseconds(5000)));
  EXPECT_EQ(RequestIds(rx->received()), accepted);
  ASSERT_TRUE(Eventually([&] { return Deliveries(delivery::DeliveryState::kPending).empty(); }));
}

TEST_F(PushAsyncTest, RevokedSubscriptionsAreDeadLetteredWithTheReason) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  uint16_t port = TestReceiver::FreePort();
  Party subscriber =
      Register("MOH", "Health records", "http://127.0.0.1:" + std::to_string(port) + "/in");
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(subscriber.client_id, "BIRTHS").ok());
  StartBus();
  ASSERT_TRUE(ClientFor(publisher)->Push("BIRTHS", "{}").ok());
  ASSERT_TRUE(registry_->RevokeSubscription(subscriber.client_id, "BIRTHS").ok());
  ASSERT_TRUE(Eventually([&] { return Deliveries(delivery::DeliveryState::kDead).size() == 1; }));
  EXPECT_NE(Deliveries(delivery::DeliveryState::kDead)[0].last_error.find("no longer approved"),
            std::string::npos);
}

// Issue 18: each subscriber receives a push in the form it verifies (its system's
// serialisation), signed by the bus over exactly that text.
TEST_F(PushAsyncTest, EachSubscriberGetsThePushInItsOwnForm) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party java = Register("MOH", "Java subscriber", "http://127.0.0.1:9/set-below");
  Party node = Register("MOH", "Node subscriber", "http://127.0.0.1:9/set-below");
  auto java_rx = Receiver(java);
  auto node_rx = Receiver(node);
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(java.client_id, "BIRTHS", java_rx->url()).ok());
  ASSERT_TRUE(registry_->AddSubscription(node.client_id, "BIRTHS", node_rx->url()).ok());
  ASSERT_TRUE(registry_->SetSerialisation(node.client_id, "node").ok());
  StartBus();
  ASSERT_TRUE(ClientFor(publisher)->Push("BIRTHS", R"({"weightKg":3.0,"ratio":1.0E-4})").ok());
  ASSERT_TRUE(java_rx->WaitFor(1));
  ASSERT_TRUE(node_rx->WaitFor(1));
  const auto got_java = java_rx->received()[0];
  const auto got_node = node_rx->received()[0];
  EXPECT_TRUE(got_java.bus_signature_ok);
  EXPECT_TRUE(got_node.bus_signature_ok);
  EXPECT_EQ(got_java.request_id, got_node.request_id);
  EXPECT_EQ(got_java.esb_body, R"({"weightKg":3.0,"ratio":1.0E-4})");
  EXPECT_EQ(got_node.esb_body, R"({"weightKg":3,"ratio":0.0001})");
}

// ---- evidence ----

std::vector<std::string> EvidenceKinds(store::Database& db, const std::string& request_id) {
  evidence::QueryFilter filter;
  filter.request_id = request_id;
  auto records = evidence::QueryRecords(db, filter);
  GOVESB_CHECK(records.ok());
  std::vector<std::string> kinds;
  for (const std::string& record : *records) {
    kinds.push_back(evidence::CanonicalMember(record, "kind").value_or(""));
  }
  return kinds;
}

TEST_F(PushAsyncTest, EveryStepLeavesVerifiableEvidence) {
  Party publisher = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party subscriber = Register("MOH", "Health records", "http://127.0.0.1:9/set-below");
  auto rx = Receiver(subscriber);
  ASSERT_TRUE(registry_->AddTopic(publisher.client_id, "BIRTHS").ok());
  ASSERT_TRUE(registry_->AddSubscription(subscriber.client_id, "BIRTHS", rx->url()).ok());
  // The subscriber's system also serves an API, which the publisher may call.
  ASSERT_TRUE(registry_->AddApi(subscriber.client_id, "HLTHREC", 2000, rx->url()).ok());
  ASSERT_TRUE(registry_->AddGrant(publisher.client_id, "HLTHREC").ok());
  StartBus();
  auto client = ClientFor(publisher);
  auto pushed = client->Push("BIRTHS", R"({"child":"Zawadi"})");
  ASSERT_TRUE(pushed.ok());
  auto called = client->Request("HLTHREC", R"({"patient":"P-1"})");
  ASSERT_TRUE(called.ok()) << called.error().message;
  auto refused = client->Request("NOSUCH", "{}");
  ASSERT_FALSE(refused.ok());
  ASSERT_TRUE(rx->WaitFor(2));
  ASSERT_TRUE(
      Eventually([&] { return Deliveries(delivery::DeliveryState::kDelivered).size() == 1; }));
  bus_->Shutdown();  // seals the last records

  EXPECT_EQ(EvidenceKinds(*db_, pushed->request_id),
            (std::vector<std::string>{"push", "response", "push-delivery", "receipt"}));
  EXPECT_EQ(EvidenceKinds(*db_, called->request_id),
            (std::vector<std::string>{"request", "delivery", "reply", "response"}));
  EXPECT_EQ(EvidenceKinds(*db_, refused.error().request_id),
            (std::vector<std::string>{"request", "response"}));
  // The SDK sent no traceparent: the bus started a trace for each exchange, passed it to the
  // subscriber and the provider, and recorded it in every record of the exchange.
  for (const TestReceiver::Received& got : rx->received()) {
    ASSERT_EQ(got.traceparent.size(), 55u) << got.traceparent;
    evidence::QueryFilter filter;
    filter.request_id = got.request_id;
    auto records = evidence::QueryRecords(*db_, filter);
    ASSERT_TRUE(records.ok());
    ASSERT_FALSE(records->empty());
    for (const std::string& record : *records) {
      EXPECT_EQ(evidence::CanonicalMember(record, "traceparent"), got.traceparent) << record;
    }
  }
  EXPECT_NE(rx->received()[0].traceparent.substr(3, 32),
            rx->received()[1].traceparent.substr(3, 32))
      << "two exchanges, two traces";
  auto report = evidence::Verify(*db_, *bus_key_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->records, 10);
  EXPECT_GE(report->checkpoints, 1);
  EXPECT_EQ(report->unsealed, 0) << "shutdown seals everything";
  // The database knows which evidence its commits cover (the push's records at least).
  auto committed = db_->Prepare("SELECT committed_through FROM evidence_commit_state");
  ASSERT_TRUE(committed.ok() && *committed->Step());
  EXPECT_GE(committed->ColumnInt64(0), 2);
}

TEST_F(PushAsyncTest, BodiesAreKeptEncryptedOnlyForApisThatStoreThem) {
  Party consumer = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party provider = Register("MOH", "Health records", "http://127.0.0.1:9/set-below");
  auto rx = Receiver(provider);
  registry::ApiSettings keep;
  keep.endpoint_override = rx->url();
  keep.store_bodies = true;
  ASSERT_TRUE(registry_->AddApi(provider.client_id, "KEEPBODY", keep).ok());
  ASSERT_TRUE(registry_->AddApi(provider.client_id, "HLTHREC", 2000, rx->url()).ok());
  ASSERT_TRUE(registry_->AddGrant(consumer.client_id, "KEEPBODY").ok());
  ASSERT_TRUE(registry_->AddGrant(consumer.client_id, "HLTHREC").ok());
  StartBus();
  auto client = ClientFor(consumer);
  auto kept = client->Request("KEEPBODY", R"({"patient":"P-7"})");
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  auto plain = client->Request("HLTHREC", R"({"patient":"P-8"})");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  bus_->Shutdown();
  ASSERT_EQ(evidence_key_.size(), 32u);

  auto records_of = [&](const std::string& request_id) {
    evidence::QueryFilter f;
    f.request_id = request_id;
    auto found = evidence::QueryRecords(*db_, f);
    GOVESB_CHECK(found.ok());
    return *found;
  };
  std::vector<std::string> opened_kinds;
  for (const std::string& record : records_of(kept->request_id)) {
    EXPECT_EQ(record.find("P-7"), std::string::npos) << "never in the clear: " << record;
    auto sealed = evidence::CanonicalMember(record, "bodyEncrypted");
    if (!sealed.has_value()) continue;
    const std::string kind = evidence::CanonicalMember(record, "kind").value();
    auto body = evidence::OpenBody(evidence_key_, kept->request_id, kind, *sealed);
    ASSERT_TRUE(body.ok()) << body.status().message();
    EXPECT_EQ(evidence::CanonicalMember(record, "bodySha256"),
              std::optional<std::string>(evidence::HashHex(crypto::Sha256(*body))));
    EXPECT_EQ(evidence::OpenBody(evidence_key_, kept->request_id, "other", *sealed).status().code(),
              StatusCode::kBadSignature)
        << "bound to its exchange and step";
    opened_kinds.push_back(kind);
    if (kind == "request") {
      EXPECT_NE(body->find(R"("patient":"P-7")"), std::string::npos) << *body;
    }
  }
  EXPECT_EQ(opened_kinds, (std::vector<std::string>{"request", "reply"}))
      << "the bodies the parties sent; the bus's own steps derive from them";
  for (const std::string& record : records_of(plain->request_id)) {
    EXPECT_FALSE(evidence::CanonicalMember(record, "bodyEncrypted").has_value()) << record;
  }
  // The response record holds the SHA-256 of exactly the data the consumer received and
  // verified (the bus hashes it once, for its signature and for the record).
  for (const sdk::Response* answer : {&*kept, &*plain}) {
    int responses = 0;
    for (const std::string& record : records_of(answer->request_id)) {
      if (evidence::CanonicalMember(record, "kind") != std::optional<std::string>("response")) {
        continue;
      }
      ++responses;
      EXPECT_EQ(evidence::CanonicalMember(record, "bodySha256"),
                std::optional<std::string>(evidence::HashHex(crypto::Sha256(answer->data))));
    }
    EXPECT_EQ(responses, 1);
  }
  auto report = evidence::Verify(*db_, *bus_key_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
}

TEST_F(PushAsyncTest, WithoutEvidenceNothingReachesTheConsumerAsSuccess) {
  Party consumer = Register("RITA", "Birth registry", "http://127.0.0.1:9/unused");
  Party provider = Register("MOH", "Health records", "http://127.0.0.1:9/set-below");
  auto rx = Receiver(provider);
  ASSERT_TRUE(registry_->AddApi(provider.client_id, "HLTHREC", 2000, rx->url()).ok());
  ASSERT_TRUE(registry_->AddGrant(consumer.client_id, "HLTHREC").ok());
  StartBus();
  auto client = ClientFor(consumer);
  ASSERT_TRUE(client->AccessToken().ok());
  auto first = client->Request("HLTHREC", R"({"patient":"P-1"})");
  ASSERT_TRUE(first.ok()) << first.error().message;
  {
    // The evidence log's file cannot be written past what it holds now (as on a full disk):
    // no file of this process may be written past that offset.
    uint64_t size = 0;
    for (const auto& f : fs::directory_iterator(dir_ / "evidence-log")) {
      if (f.path().extension() != ".seg") continue;
      ASSERT_TRUE(evidence::ForEachSegmentEntry(f.path().string(), [&](const auto& e) {
                    size = std::max(size, e.end);
                    return true;
                  }).ok());
    }
    ASSERT_GT(size, 0u);
    auto withheld = [&] {
      FileSizeLimit full(size);
      return client->Request("HLTHREC", R"({"patient":"P-1"})");
    }();
    ASSERT_FALSE(withheld.ok()) << "an answer without its evidence must not be released";
    EXPECT_EQ(withheld.error().kind, sdk::ErrorKind::kRefused);
    EXPECT_NE(withheld.error().message.find("could not be recorded in the evidence log"),
              std::string::npos)
        << withheld.error().message;
  }
  auto answered = client->Request("HLTHREC", R"({"patient":"P-1"})");
  ASSERT_TRUE(answered.ok()) << answered.error().message;
  // What was written is whole: the refused exchange left nothing half-written behind.
  auto report = evidence::Verify(*db_, *bus_key_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
}

// ---- asynchronous answers ----

class AsyncAnswerTest : public PushAsyncTest {
 protected:
  void SetUp() override {
    PushAsyncTest::SetUp();
    provider_ = Register("RITA", "Land registry", "http://127.0.0.1:9/set-below");
    consumer_ = Register("MOH", "Health records", "http://127.0.0.1:9/set-below",
                         crypto::Curve::kSecp256k1);
    other_ = Register("MOH", "Other system", "http://127.0.0.1:9/unused");
    provider_rx_ = Receiver(provider_);
    callback_rx_ = Receiver(consumer_);
    registry::ApiSettings settings;
    settings.async = true;
    settings.endpoint_override = provider_rx_->url();
    settings.callback_endpoint = callback_rx_->url();
    ASSERT_TRUE(registry_->AddApi(provider_.client_id, "LANDRG", settings).ok());
    ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "LANDRG").ok());
    StartBus();
  }

  Party provider_, consumer_, other_;
  std::unique_ptr<TestReceiver> provider_rx_, callback_rx_;
};

TEST_F(AsyncAnswerTest, TheAnswerReachesTheConsumerOnceAndOnlyFromItsProvider) {
  auto consumer = ClientFor(consumer_);
  auto ack = consumer->Request("LANDRG", R"({"plot":"DSM/123"})");
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_TRUE(ack->success);
  std::string request_id = ack->request_id;
  ASSERT_EQ(provider_rx_->count(), 1u);
  EXPECT_EQ(provider_rx_->received()[0].request_id, request_id);
  EXPECT_EQ(provider_rx_->received()[0].api_code, "LANDRG");

  // Someone else cannot answer it, nor can the provider answer a request it never received.
  auto stranger = ClientFor(other_)->AsyncAnswer(request_id, true, "{}");
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.error().kind, sdk::ErrorKind::kRefused);
  EXPECT_NE(stranger.error().message.find("no request with requestId"), std::string::npos)
      << stranger.error().message;
  auto provider = ClientFor(provider_);
  auto unknown = provider->AsyncAnswer(crypto::NewRequestId(), true, "{}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("no request with requestId"), std::string::npos);

  auto answered =
      provider->AsyncAnswer(request_id, true, R"({"owner":"Asha","plot":"DSM/123"})", "found");
  ASSERT_TRUE(answered.ok()) << answered.error().message;
  EXPECT_TRUE(answered->success);

  ASSERT_TRUE(callback_rx_->WaitFor(1, milliseconds(3000)));
  auto cb = callback_rx_->received()[0];
  EXPECT_TRUE(cb.bus_signature_ok);
  EXPECT_EQ(cb.request_id, request_id);
  EXPECT_EQ(cb.success, "true");
  EXPECT_EQ(cb.message, "found");
  EXPECT_EQ(cb.esb_body, R"({"owner":"Asha","plot":"DSM/123"})");
  EXPECT_EQ(cb.data, R"({"success":true,"requestId":")" + request_id +
                         R"(","message":"found","esbBody":{"owner":"Asha","plot":"DSM/123"}})")
      << "the callback carries a contract 4.2 response";

  auto twice = provider->AsyncAnswer(request_id, false, "{}", "changed my mind");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("already been answered"), std::string::npos)
      << twice.error().message;
  ASSERT_TRUE(
      Eventually([&] { return Deliveries(delivery::DeliveryState::kDelivered).size() == 1; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(callback_rx_->count(), 1u);
}

TEST_F(AsyncAnswerTest, TheConsumersAllowListReducesTheAnswerItIsDelivered) {
  ASSERT_TRUE(
      registry_->SetGrantFields(consumer_.client_id, "LANDRG", {"owner.name", "plot"}).ok());
  auto consumer = ClientFor(consumer_);
  auto provider = ClientFor(provider_);
  const std::string body =
      R"({"owner":{"name":"Asha","nin":"19900101-1","phone":"+255"},"plot":"DSM/123",)"
      R"("valuation":1.0E7})";
  std::string request_id;
  TestReceiver::Received cb;
  size_t seen = 0;
  // Until the registry change reaches the bus's delivery workers.
  ASSERT_TRUE(Eventually([&] {
    auto ack = consumer->Request("LANDRG", R"({"plot":"DSM/123"})");
    if (!ack.ok()) return false;
    request_id = ack->request_id;
    if (!provider->AsyncAnswer(request_id, true, body, "found").ok()) return false;
    if (!callback_rx_->WaitFor(++seen, milliseconds(3000))) return false;
    cb = callback_rx_->received().back();
    return cb.esb_body.find("nin") == std::string::npos;
  }));
  EXPECT_TRUE(cb.bus_signature_ok) << "the reduced answer is signed again by the bus";
  EXPECT_EQ(cb.request_id, request_id);
  EXPECT_EQ(cb.esb_body, R"({"owner":{"name":"Asha"},"plot":"DSM/123"})");
  EXPECT_EQ(cb.data,
            R"({"success":true,"requestId":")" + request_id +
                R"(","message":"found","esbBody":{"owner":{"name":"Asha"},"plot":"DSM/123"}})");

  // The delivery's evidence names what was withheld, never the values.
  ASSERT_TRUE(Eventually([&] {
    auto kinds = EvidenceKinds(*db_, request_id);
    return std::find(kinds.begin(), kinds.end(), "async-delivery") != kinds.end();
  }));
  bus_->Shutdown();
  evidence::QueryFilter filter;
  filter.request_id = request_id;
  auto records = evidence::QueryRecords(*db_, filter);
  ASSERT_TRUE(records.ok());
  std::map<std::string, std::string> withheld_by_kind;
  for (const std::string& record : *records) {
    auto withheld = evidence::CanonicalMember(record, "withheld");
    if (!withheld.has_value()) continue;
    withheld_by_kind[evidence::CanonicalMember(record, "kind").value_or("")] = *withheld;
    EXPECT_EQ(record.find("19900101-1"), std::string::npos);
  }
  EXPECT_EQ(withheld_by_kind["async-delivery"], R"(["/owner/nin","/owner/phone","/valuation"])");
  // The provider's immediate acknowledgement is an answer under the grant too: its members
  // outside the list are withheld as well (unless the request was still checked against the
  // registry as it was before the change, which the delivery workers may see sooner).
  if (withheld_by_kind.contains("response")) {
    EXPECT_EQ(withheld_by_kind["response"], R"(["/received"])");
  }
  EXPECT_LE(withheld_by_kind.size(), 2u);
}

TEST_F(AsyncAnswerTest, AnAnswerThatBreaksTheResponseContractIsRefusedToItsProvider) {
  ASSERT_TRUE(registry_
                  ->SetApiContract("LANDRG", {.response_schema = R"({"type":"object",)"
                                                                 R"("required":["owner"],)"
                                                                 R"("properties":{"owner":)"
                                                                 R"({"type":"string"}}})"})
                  .ok());
  auto consumer = ClientFor(consumer_);
  auto provider = ClientFor(provider_);
  std::string request_id;
  std::string refusal;
  ASSERT_TRUE(Eventually([&] {  // the contract reaches the running bus within a second
    auto ack = consumer->Request("LANDRG", R"({"plot":"DSM/1"})");
    if (!ack.ok()) return false;
    request_id = ack->request_id;
    auto answered = provider->AsyncAnswer(request_id, true, R"({"owner":7})", "found");
    if (answered.ok()) return false;
    EXPECT_EQ(answered.error().kind, sdk::ErrorKind::kRefused);
    refusal = answered.error().message;
    return true;
  }));
  EXPECT_NE(refusal.find("does not match the published response contract of API LANDRG"),
            std::string::npos)
      << refusal;
  EXPECT_NE(refusal.find("/owner"), std::string::npos) << refusal;
  const size_t delivered = callback_rx_->count();

  // Nothing was stored: the request is still owed, and a conforming answer is delivered.
  auto good = provider->AsyncAnswer(request_id, true, R"({"owner":"Asha"})", "found");
  ASSERT_TRUE(good.ok()) << good.error().message;
  ASSERT_TRUE(callback_rx_->WaitFor(delivered + 1, milliseconds(3000)));
  auto cb = callback_rx_->received().back();
  EXPECT_EQ(cb.request_id, request_id);
  EXPECT_EQ(cb.esb_body, R"({"owner":"Asha"})");

  // A failure answer is not an answer the contract describes: it passes.
  auto ack = consumer->Request("LANDRG", R"({"plot":"DSM/2"})");
  ASSERT_TRUE(ack.ok());
  auto failed = provider->AsyncAnswer(ack->request_id, false, R"({"reason":7})", "no such plot");
  EXPECT_TRUE(failed.ok()) << failed.error().message;
}

TEST_F(AsyncAnswerTest, ARequestTheProviderRefusedIsOwedNoAnswer) {
  provider_rx_->set_mode(TestReceiver::Mode::kRefuse);
  auto refused = ClientFor(consumer_)->Request("LANDRG", "{}");
  ASSERT_FALSE(refused.ok());
  ASSERT_EQ(provider_rx_->count(), 1u);
  std::string request_id = provider_rx_->received()[0].request_id;
  auto provider = ClientFor(provider_);
  // The cancellation is written in the background; it lands within a moment.
  ASSERT_TRUE(Eventually([&] {
    auto late = provider->AsyncAnswer(request_id, true, "{}");
    return !late.ok() && late.error().message.find("no answer is expected") != std::string::npos;
  }));
}

TEST_F(AsyncAnswerTest, AFailureAnswerReachesTheConsumerAsAFailure) {
  auto ack = ClientFor(consumer_)->Request("LANDRG", "{}");
  ASSERT_TRUE(ack.ok());
  auto provider = ClientFor(provider_);
  auto ok =
      provider->AsyncAnswer(ack->request_id, false, R"({"reason":"no such plot"})", "no such plot");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_TRUE(callback_rx_->WaitFor(1, milliseconds(3000)));
  auto cb = callback_rx_->received()[0];
  EXPECT_EQ(cb.success, "false");
  EXPECT_EQ(cb.message, "no such plot");
}

}  // namespace
}  // namespace govesb
