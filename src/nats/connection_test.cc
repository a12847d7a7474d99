#include "nats/connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <optional>
#include <thread>

#include "nats/local_cluster.h"

namespace govesb::nats {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;

// One private 3-node JetStream cluster for the whole binary; each test gets streams of its own.
LocalCluster* cluster = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto t0 = Clock::now();
    auto started = LocalCluster::Start();
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    cluster_ = std::move(started).value();
    cluster = cluster_.get();
    std::cerr << "[nats] 3-node JetStream cluster ready in "
              << duration_cast<milliseconds>(Clock::now() - t0).count() << " ms\n";
  }
  void TearDown() override {
    auto t0 = Clock::now();
    cluster = nullptr;
    cluster_.reset();
    std::cerr << "[nats] cluster stopped and removed in "
              << duration_cast<milliseconds>(Clock::now() - t0).count() << " ms\n";
  }

 private:
  std::unique_ptr<LocalCluster> cluster_;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

int64_t MsSince(Clock::time_point t0) {
  return duration_cast<milliseconds>(Clock::now() - t0).count();
}

class NatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(cluster, nullptr);
    static std::atomic<int> n{0};
    int id = n++;
    stream_ = "T" + std::to_string(id);
    prefix_ = "t" + std::to_string(id);
    conn_ = Open();
    ASSERT_NE(conn_, nullptr);
  }
  std::unique_ptr<Connection> Open() {
    ConnectionOptions options;
    options.request_timeout = milliseconds{2'000};
    auto c = Connection::Open(cluster->urls(), options);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  StreamConfig WorkQueue() const {
    StreamConfig config;
    config.name = stream_;
    config.subjects = {prefix_ + ".>"};
    config.replicas = 3;
    config.retention = Retention::kWorkQueue;
    return config;
  }
  ConsumerConfig Worker(int64_t max_deliver = -1) const {
    ConsumerConfig config;
    config.durable = "workers";
    config.ack_wait = milliseconds{1'000};
    config.max_deliver = max_deliver;
    return config;
  }
  void SetUpQueue(int64_t max_deliver = -1) {
    Status s = conn_->EnsureStream(WorkQueue());
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = conn_->EnsureConsumer(stream_, Worker(max_deliver));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::unique_ptr<PullConsumer> Pull(Connection& conn) {
    auto p = conn.Pull(stream_, "workers");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }
  // Fetches one message within `timeout`; nullopt when none came.
  static std::optional<Message> FetchOne(PullConsumer& consumer, milliseconds timeout) {
    auto got = consumer.Fetch(1, timeout);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->empty()) return std::nullopt;
    return std::move(got->front());
  }
  // The stream's message count, once it equals `want` (bounded polling: a work queue removes an
  // acknowledged message through its replication group, just after the ack's confirmation).
  uint64_t MessagesWhen(uint64_t want) {
    uint64_t last = ~0ull;
    auto t0 = Clock::now();
    while (MsSince(t0) < 3'000) {
      auto info = conn_->GetStreamInfo(stream_);
      if (info.ok()) {
        last = info->messages;
        if (last == want) break;
      }
      std::this_thread::sleep_for(milliseconds{20});
    }
    return last;
  }

  std::string stream_;
  std::string prefix_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(NatsTest, PublishingTheSameMsgIdTwiceStoresOneMessage) {
  StreamConfig config = WorkQueue();
  config.retention = Retention::kLimits;
  ASSERT_TRUE(conn_->EnsureStream(config).ok());
  auto first = conn_->Publish(prefix_ + ".push", "hello", "msg-1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->stream, stream_);
  EXPECT_EQ(first->sequence, 1u);
  EXPECT_FALSE(first->duplicate);
  auto again = conn_->Publish(prefix_ + ".push", "hello", "msg-1");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, 1u);
  auto other = conn_->Publish(prefix_ + ".push", "hello", "msg-2");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->duplicate);
  EXPECT_EQ(other->sequence, 2u);
  auto info = conn_->GetStreamInfo(stream_);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->messages, 2u);
  EXPECT_EQ(info->replicas, 3);
  auto stored = conn_->GetMessage(stream_, 1);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->msg_id, "msg-1");
  EXPECT_EQ(stored->data, "hello");
  EXPECT_EQ(stored->subject, prefix_ + ".push");
}

TEST_F(NatsTest, AnAckRemovesTheMessageFromAWorkQueue) {
  SetUpQueue();
  ASSERT_TRUE(conn_->Publish(prefix_ + ".a", std::string("one\0bin", 7), "id-a").ok());
  ASSERT_TRUE(conn_->Publish(prefix_ + ".b", "two", "id-b").ok());
  auto consumer = Pull(*conn_);
  ASSERT_NE(consumer, nullptr);
  auto got = consumer->Fetch(10, milliseconds{2'000});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u);
  Message& a = (*got)[0];
  EXPECT_EQ(a.subject(), prefix_ + ".a");
  EXPECT_EQ(a.data(), std::string_view("one\0bin", 7));
  EXPECT_EQ(a.msg_id(), "id-a");
  EXPECT_EQ(a.Header("Nats-Msg-Id"), "id-a");
  EXPECT_EQ(a.Header("No-Such-Header"), std::nullopt);
  EXPECT_EQ(a.delivery_count(), 1u);
  EXPECT_EQ(a.stream_sequence(), 1u);
  EXPECT_EQ(a.pending(), 1u);
  EXPECT_GT(a.timestamp_ns(), 0);
  EXPECT_EQ((*got)[1].stream_sequence(), 2u);

  ASSERT_TRUE(a.Ack().ok());
  EXPECT_EQ(MessagesWhen(1), 1u);
  EXPECT_EQ(conn_->GetMessage(stream_, 1).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE((*got)[1].Ack().ok());
  EXPECT_EQ(MessagesWhen(0), 0u);
  // Acknowledged work does not come back, not even after the ack wait.
  auto after = consumer->Fetch(1, milliseconds{1'500});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

TEST_F(NatsTest, ANakWithADelayRedeliversAfterTheDelay) {
  SetUpQueue();
  ASSERT_TRUE(conn_->Publish(prefix_ + ".x", "retry me", "id-x").ok());
  auto consumer = Pull(*conn_);
  auto first = FetchOne(*consumer, milliseconds{2'000});
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->delivery_count(), 1u);
  auto t0 = Clock::now();
  ASSERT_TRUE(first->Nak(milliseconds{700}).ok());
  // Not before the delay (nor at once, as a Nak without delay would)...
  EXPECT_FALSE(FetchOne(*consumer, milliseconds{400}).has_value());
  // ... but after it.
  auto second = FetchOne(*consumer, milliseconds{3'000});
  ASSERT_TRUE(second.has_value());
  EXPECT_GE(MsSince(t0), 650);
  EXPECT_EQ(second->delivery_count(), 2u);
  EXPECT_EQ(second->stream_sequence(), first->stream_sequence());
  EXPECT_EQ(second->data(), "retry me");
  ASSERT_TRUE(second->Ack().ok());
  EXPECT_EQ(MessagesWhen(0), 0u);
}

TEST_F(NatsTest, MaxDeliverEndsRedeliveryWithAnAdvisoryAndTheMessageStays) {
  SetUpQueue(/*max_deliver=*/2);
  auto advisories =
      conn_->CoreSubscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream_ + ".workers");
  ASSERT_TRUE(advisories.ok()) << advisories.status().ToString();
  auto published = conn_->Publish(prefix_ + ".poison", "bad", "id-poison");
  ASSERT_TRUE(published.ok());
  auto consumer = Pull(*conn_);
  auto first = FetchOne(*consumer, milliseconds{2'000});
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(first->Nak().ok());
  auto second = FetchOne(*consumer, milliseconds{2'000});
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->delivery_count(), 2u);
  ASSERT_TRUE(second->Nak().ok());
  // No third delivery, not even after the ack wait...
  EXPECT_FALSE(FetchOne(*consumer, milliseconds{1'500}).has_value());
  // ... the server announces it instead ...
  auto advisory = (*advisories)->Next(milliseconds{2'000});
  ASSERT_TRUE(advisory.ok()) << advisory.status().ToString();
  EXPECT_NE(advisory->data.find("\"stream_seq\":" + std::to_string(published->sequence)),
            std::string::npos)
      << advisory->data;
  // ... and the message stays in the stream, where a dead-letter handler reads and removes it.
  auto stored = conn_->GetMessage(stream_, published->sequence);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->data, "bad");
  EXPECT_EQ(stored->msg_id, "id-poison");
  ASSERT_TRUE(conn_->DeleteMessage(stream_, published->sequence).ok());
  EXPECT_EQ(conn_->GetMessage(stream_, published->sequence).status().code(), StatusCode::kNotFound);
}

TEST_F(NatsTest, WorkNotAcknowledgedWithinTheAckWaitGoesToAnotherWorker) {
  SetUpQueue();
  ASSERT_TRUE(conn_->Publish(prefix_ + ".job", "job", "id-job").ok());
  auto survivor = Pull(*conn_);
  Clock::time_point taken;
  {
    // A node takes the work and dies with it: its connection goes away without an ack.
    auto doomed_conn = Open();
    auto doomed = Pull(*doomed_conn);
    auto got = FetchOne(*doomed, milliseconds{2'000});
    ASSERT_TRUE(got.has_value());
    taken = Clock::now();
  }
  // Nobody else gets it while its ack wait (1 s) runs, then the survivor does. (A machine under
  // load may stall this thread past the ack wait: then what counts is when it came.)
  auto again = FetchOne(*survivor, milliseconds{500});
  if (!again.has_value()) again = FetchOne(*survivor, milliseconds{10'000});
  ASSERT_TRUE(again.has_value());
  EXPECT_GE(MsSince(taken), 900) << "redelivered before its ack wait ran out";
  EXPECT_EQ(again->delivery_count(), 2u);
  EXPECT_EQ(again->data(), "job");
  ASSERT_TRUE(again->Ack().ok());
}

TEST_F(NatsTest, InProgressKeepsTheWorkFromOthersPastTheAckWait) {
  SetUpQueue();
  ASSERT_TRUE(conn_->Publish(prefix_ + ".slow", "slow", "id-slow").ok());
  auto worker = Pull(*conn_);
  auto other = Pull(*conn_);
  auto got = FetchOne(*worker, milliseconds{2'000});
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(FetchOne(*other, milliseconds{600}).has_value());
  ASSERT_TRUE(got->InProgress().ok());
  // 1.2 s since the delivery, past the 1 s ack wait: without InProgress it would be here.
  EXPECT_FALSE(FetchOne(*other, milliseconds{600}).has_value());
  ASSERT_TRUE(got->Ack().ok());
}

TEST_F(NatsTest, TermEndsDeliveryAtOnce) {
  SetUpQueue();
  ASSERT_TRUE(conn_->Publish(prefix_ + ".t", "term", "id-term").ok());
  auto consumer = Pull(*conn_);
  auto got = FetchOne(*consumer, milliseconds{2'000});
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->Term().ok());
  EXPECT_FALSE(FetchOne(*consumer, milliseconds{1'500}).has_value());
}

TEST_F(NatsTest, PublishAndFetchSurviveTheLossOfOneServerOfThree) {
  SetUpQueue();
  ASSERT_TRUE(conn_->Publish(prefix_ + ".before", "before", "id-before").ok());
  auto info = conn_->GetStreamInfo(stream_);
  ASSERT_TRUE(info.ok());
  // The hardest one to lose: the stream's leader.
  int victim = 0;
  for (int i = 0; i < cluster->size(); ++i) {
    if (cluster->name(i) == info->leader) victim = i;
  }
  Status killed = cluster->Kill(victim);
  ASSERT_TRUE(killed.ok()) << killed.ToString();
  struct Restart {
    int node;
    ~Restart() {
      if (!cluster->running(node)) {
        auto t0 = Clock::now();
        Status s = cluster->StartAgain(node);
        EXPECT_TRUE(s.ok()) << s.ToString();
        std::cerr << "[nats] killed server back in " << MsSince(t0) << " ms\n";
      }
    }
  } restart{victim};

  // What the adapter does: publish again with the same id until the stream acknowledges.
  auto t0 = Clock::now();
  Result<PubAck> ack = Unavailable("not tried");
  while (MsSince(t0) < 30'000) {
    ack = conn_->Publish(prefix_ + ".after", "after", "id-after", milliseconds{1'000});
    if (ack.ok()) break;
    std::this_thread::sleep_for(milliseconds{50});
  }
  ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  std::cerr << "[nats] publish acknowledged " << MsSince(t0)
            << " ms after the stream leader was killed\n";
  EXPECT_FALSE(ack->duplicate);

  // Both the message acknowledged before the loss and the one after are there, once each.
  auto consumer = Pull(*conn_);
  std::vector<std::string> seen;
  t0 = Clock::now();
  while (seen.size() < 2 && MsSince(t0) < 30'000) {
    auto got = consumer->Fetch(10, milliseconds{1'000});
    if (!got.ok()) {  // the consumer's leader may be moving too
      std::this_thread::sleep_for(milliseconds{50});
      continue;
    }
    for (Message& m : *got) {
      if (m.Ack().ok()) seen.emplace_back(m.data());
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"before", "after"}));

  auto t1 = Clock::now();
  Status back = cluster->StartAgain(victim);
  ASSERT_TRUE(back.ok()) << back.ToString();
  std::cerr << "[nats] killed server back in " << MsSince(t1) << " ms\n";
  auto later = conn_->Publish(prefix_ + ".later", "later", "id-later");
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  auto last = FetchOne(*consumer, milliseconds{3'000});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->data(), "later");
  EXPECT_EQ(last->delivery_count(), 1u);
  ASSERT_TRUE(last->Ack().ok());
  EXPECT_EQ(MessagesWhen(0), 0u);
}

TEST_F(NatsTest, EnsuringAStreamOrConsumerAgainIsIdempotentAndUpdates) {
  StreamConfig config = WorkQueue();
  ASSERT_TRUE(conn_->EnsureStream(config).ok());
  ASSERT_TRUE(conn_->Publish(prefix_ + ".keep", "kept", "id-keep").ok());
  ASSERT_TRUE(conn_->EnsureStream(config).ok());
  config.max_age = milliseconds{3'600'000};
  Status updated = conn_->EnsureStream(config);
  ASSERT_TRUE(updated.ok()) << updated.ToString();
  auto info = conn_->GetStreamInfo(stream_);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->max_age_ms, 3'600'000);
  EXPECT_EQ(info->messages, 1u);  // updating keeps what is stored

  // A retention policy cannot change: refused, and the stream stays as it was.
  StreamConfig other = config;
  other.retention = Retention::kLimits;
  Status refused = conn_->EnsureStream(other);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(conn_->GetStreamInfo(stream_)->messages, 1u);

  ConsumerConfig consumer = Worker(5);
  ASSERT_TRUE(conn_->EnsureConsumer(stream_, consumer).ok());
  ASSERT_TRUE(conn_->EnsureConsumer(stream_, consumer).ok());
  consumer.ack_wait = milliseconds{2'000};
  consumer.max_deliver = 7;
  Status s = conn_->EnsureConsumer(stream_, consumer);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto ci = conn_->GetConsumerInfo(stream_, "workers");
  ASSERT_TRUE(ci.ok()) << ci.status().ToString();
  EXPECT_EQ(ci->ack_wait_ms, 2'000);
  EXPECT_EQ(ci->max_deliver, 7);
  EXPECT_EQ(ci->num_pending, 1u);

  consumer.backoff = {milliseconds{100}, milliseconds{500}};
  s = conn_->EnsureConsumer(stream_, consumer);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(NatsTest, FailuresAreStatusValues) {
  EXPECT_EQ(conn_->GetStreamInfo("NoSuchStream").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(conn_->Pull("NoSuchStream", "workers").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(conn_->EnsureStream(WorkQueue()).ok());
  EXPECT_EQ(conn_->GetConsumerInfo(stream_, "nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(conn_->Pull(stream_, "nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(conn_->GetMessage(stream_, 99).status().code(), StatusCode::kNotFound);

  // A subject no stream listens on: nobody answers.
  auto nowhere = conn_->Publish("nowhere.at.all", "x");
  EXPECT_EQ(nowhere.status().code(), StatusCode::kUnavailable) << nowhere.status().ToString();

  // Bad input changes nothing.
  StreamConfig bad = WorkQueue();
  bad.name = "has.dot";
  EXPECT_EQ(conn_->EnsureStream(bad).code(), StatusCode::kInvalidArgument);
  bad = WorkQueue();
  bad.replicas = 7;
  EXPECT_EQ(conn_->EnsureStream(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(conn_->Publish(prefix_ + ".*", "x").status().code(), StatusCode::kInvalidArgument);
  ConsumerConfig worker = Worker();
  worker.durable = "a b";
  EXPECT_EQ(conn_->EnsureConsumer(stream_, worker).code(), StatusCode::kInvalidArgument);
  // The server's own refusal: more backoff steps than deliveries.
  worker = Worker(2);
  worker.backoff = {milliseconds{100}, milliseconds{200}, milliseconds{300}};
  EXPECT_EQ(conn_->EnsureConsumer(stream_, worker).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(conn_->EnsureConsumer(stream_, Worker()).ok());
  auto consumer = Pull(*conn_);
  EXPECT_EQ(consumer->Fetch(0, milliseconds{100}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(consumer->Fetch(1, milliseconds{0}).status().code(), StatusCode::kInvalidArgument);

  // No server there.
  ConnectionOptions quick;
  quick.connect_timeout = milliseconds{200};
  auto none = Connection::Open({"nats://127.0.0.1:1"}, quick);
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable) << none.status().ToString();
  EXPECT_EQ(Connection::Open({}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace govesb::nats
