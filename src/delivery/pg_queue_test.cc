// The PostgreSQL adapter of the delivery store: the contract suite (queue_contract_test.cc) over
// PgDeliveryQueue + PgDeliveryOperations + the PostgreSQL evidence chain in one database, and
// what a cluster node needs beyond it (lanes, leases, redelivery seen by every node).
#include "delivery/pg_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "delivery/queue_contract_test.h"
#include "evidence/log.h"
#include "evidence/pg_chain.h"
#include "postgres/local_server.h"
#include "postgres/test_server.h"
#include "registry/registry.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::delivery {
namespace {

// What a cluster node opens: the schemas migrated on a connection, a group-commit writer on a
// connection of its own with the PostgreSQL evidence chain as its participant, the queue on the
// writer, and the operators' view on the first connection.
class PgDeliveryStore final : public testing::DeliveryStoreUnderTest {
 public:
  explicit PgDeliveryStore(std::string conninfo) : conninfo_(std::move(conninfo)) { Open(); }
  ~PgDeliveryStore() override { Close(); }

  DeliveryQueue& queue() override { return *queue_; }
  DeliveryOperations& operations() override { return *ops_; }

  void Reopen() override {
    Close();
    Open();
  }

  Result<size_t> EvidenceRecordsOf(std::string_view request_id) override;

  Result<int64_t> AddSystem(std::string_view institution_code) override {
    registry::Registry registry(*db_);
    if (!registry.GetInstitution(institution_code).ok()) {
      GOVESB_RETURN_IF_ERROR(registry.AddInstitution(institution_code, "Institution").status());
    }
    auto key = crypto::PrivateKey::Generate(crypto::Curve::kP256);
    GOVESB_ASSIGN_OR_RETURN(
        registry::NewSystem made,
        registry.AddSystem(institution_code, "System", key->public_key().SpkiBase64(),
                           "https://system.example/esb"));
    return made.system.id;
  }

 private:
  void Open();
  void Close();

  std::string conninfo_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<evidence::PgChain> chain_;
  std::unique_ptr<PgDeliveryQueue> queue_;
  std::unique_ptr<PgDeliveryOperations> ops_;
};

void PgDeliveryStore::Open() {
  auto db = store::Database::OpenPostgres(conninfo_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  db_ = std::move(db).value();
  ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());  // listings name the systems
  ASSERT_TRUE(MigrateDeliveryStore(*db_).ok());
  ASSERT_TRUE(evidence::MigrateEvidenceStore(*db_).ok());
  auto connection = store::Database::OpenPostgres(conninfo_);
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto writer = store::GroupCommitWriter::Start(std::move(connection).value());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  writer_ = std::move(writer).value();
  chain_ = std::make_unique<evidence::PgChain>("node-1");
  writer_->SetParticipant(chain_.get());
  auto queue = PgDeliveryQueue::Open(conninfo_, *writer_);
  ASSERT_TRUE(queue.ok()) << queue.status().ToString();
  queue_ = std::move(queue).value();
  ops_ = std::make_unique<PgDeliveryOperations>(*db_);
}

void PgDeliveryStore::Close() {
  ops_.reset();
  queue_.reset();
  if (writer_) {
    writer_->Stop();
    writer_->SetParticipant(nullptr);
  }
  chain_.reset();
  writer_.reset();
  db_.reset();
}

Result<size_t> PgDeliveryStore::EvidenceRecordsOf(std::string_view request_id) {
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement s,
      db_->Prepare("SELECT COUNT(*) FROM evidence_records WHERE request_id = ?"));
  GOVESB_RETURN_IF_ERROR(s.Bind(1, request_id));
  GOVESB_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Internal("COUNT(*) returned no row");
  return static_cast<size_t>(s.ColumnInt64(0));
}

testing::DeliveryAdapter PostgresAdapter() {
  return {"Postgres", [] {
            std::string conninfo = postgres::testing::FreshDatabase();
            return conninfo.empty() ? nullptr : std::make_unique<PgDeliveryStore>(conninfo);
          }};
}

}  // namespace

namespace testing {
INSTANTIATE_TEST_SUITE_P(Postgres, DeliveryContractTest, ::testing::Values(PostgresAdapter()),
                         AdapterName);
}  // namespace testing

namespace {

// Two or more nodes of a cluster on one database: each its own writer and queue.
class PgClusterTest : public ::testing::Test {
 protected:
  struct Node {
    std::unique_ptr<store::GroupCommitWriter> writer;
    std::unique_ptr<PgDeliveryQueue> queue;
  };

  void SetUp() override {
    conninfo_ = postgres::testing::FreshDatabase();
    ASSERT_FALSE(conninfo_.empty());
    auto db = store::Database::OpenPostgres(conninfo_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());
    ASSERT_TRUE(MigrateDeliveryStore(*db_).ok());
  }

  void TearDown() override {
    for (Node& n : nodes_) {
      n.queue.reset();
      if (n.writer) n.writer->Stop();
    }
  }

  PgDeliveryQueue& AddNode() {
    Node n;
    auto connection = store::Database::OpenPostgres(conninfo_);
    GOVESB_CHECK(connection.ok());
    auto writer = store::GroupCommitWriter::Start(std::move(connection).value());
    GOVESB_CHECK(writer.ok());
    n.writer = std::move(writer).value();
    auto queue = PgDeliveryQueue::Open(conninfo_, *n.writer);
    GOVESB_CHECK(queue.ok());
    n.queue = std::move(queue).value();
    nodes_.push_back(std::move(n));
    return *nodes_.back().queue;
  }

  static std::vector<PendingDelivery> Enqueue(PgDeliveryQueue& q, std::string request_id,
                                              std::vector<std::string> lanes,
                                              int64_t created_at_ms = 1000) {
    NewMessage m;
    m.request_id = std::move(request_id);
    m.code = "BIRTHS";
    m.source_system_id = 1;
    // Backslashes and quotes come back as they went in (the column is TEXT, not BYTEA).
    m.envelope = R"({"data":{"esbBody":{"path":"C:\dir\y"}},"signature":"a"b"})";
    m.created_at_ms = created_at_ms;
    int64_t sub = 10;
    for (std::string& lane : lanes) m.recipients.push_back(Recipient{std::move(lane), sub++, 100});
    std::promise<std::pair<Status, std::vector<PendingDelivery>>> p;
    auto f = p.get_future();
    q.Enqueue(std::move(m), [&p](Status s, std::vector<PendingDelivery> d) {
      p.set_value({std::move(s), std::move(d)});
    });
    auto [status, created] = f.get();
    EXPECT_TRUE(status.ok()) << status.ToString();
    return created;
  }

  static void Sync(PgDeliveryQueue& q) {
    std::promise<Status> p;
    auto f = p.get_future();
    q.Sync([&p](Status s) { p.set_value(std::move(s)); });
    Status s = f.get();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::string conninfo_;
  std::unique_ptr<store::Database> db_;
  std::vector<Node> nodes_;
};

TEST_F(PgClusterTest, ExactlyOneOfTwoNodesTakesAFreeLease) {
  PgDeliveryQueue& a = AddNode();
  PgDeliveryQueue& b = AddNode();
  auto took_a = a.TryLease("sub:1", "node-a", 1000, 6000);
  auto took_b = b.TryLease("sub:1", "node-b", 1000, 6000);
  ASSERT_TRUE(took_a.ok()) << took_a.status().ToString();
  ASSERT_TRUE(took_b.ok()) << took_b.status().ToString();
  EXPECT_TRUE(*took_a);
  EXPECT_FALSE(*took_b) << "the lease is node-a's until 6000";
  EXPECT_TRUE(*b.TryLease("sub:2", "node-b", 1000, 6000)) << "another lane is free";
}

TEST_F(PgClusterTest, NodesRacingForALaneEndWithOneHolder) {
  constexpr int kNodes = 6;
  std::vector<PgDeliveryQueue*> queues;
  for (int i = 0; i < kNodes; ++i) queues.push_back(&AddNode());
  for (int round = 0; round < 5; ++round) {
    const std::string lane = "cb:" + std::to_string(round);
    std::atomic<int> winners{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kNodes; ++i) {
      threads.emplace_back([&, i] {
        auto took = queues[i]->TryLease(lane, "node-" + std::to_string(i), 1000, 6000);
        if (!took.ok()) {
          failures++;
        } else if (*took) {
          winners++;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(winners.load(), 1) << "round " << round;
  }
}

TEST_F(PgClusterTest, AnExpiredLeaseIsHandedOverAndARenewalKeepsIt) {
  PgDeliveryQueue& a = AddNode();
  PgDeliveryQueue& b = AddNode();
  ASSERT_TRUE(*a.TryLease("sub:1", "node-a", 1000, 2000));
  // node-a renews before it runs out: it keeps the lane past its first end.
  EXPECT_TRUE(*a.TryLease("sub:1", "node-a", 1500, 3000));
  EXPECT_FALSE(*b.TryLease("sub:1", "node-b", 2500, 7500)) << "renewed until 3000";
  EXPECT_FALSE(*b.TryLease("sub:1", "node-b", 3000, 8000)) << "not expired at its very end";
  // node-a stops renewing (it died): once expired, node-b takes the lane over ...
  EXPECT_TRUE(*b.TryLease("sub:1", "node-b", 3001, 8000));
  // ... and node-a, back, cannot take it from node-b while node-b's lease runs.
  EXPECT_FALSE(*a.TryLease("sub:1", "node-a", 4000, 9000));
  // A release by a node that does not hold the lease changes nothing.
  ASSERT_TRUE(a.ReleaseLease("sub:1", "node-a").ok());
  EXPECT_FALSE(*a.TryLease("sub:1", "node-a", 4000, 9000));
  // node-b gives it back: node-a may take it at once.
  ASSERT_TRUE(b.ReleaseLease("sub:1", "node-b").ok());
  EXPECT_TRUE(*a.TryLease("sub:1", "node-a", 4000, 9000));
}

TEST_F(PgClusterTest, BadLeaseRequestsAreRefusedAndChangeNothing) {
  PgDeliveryQueue& a = AddNode();
  EXPECT_EQ(a.TryLease("", "node-a", 1000, 2000).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.TryLease("sub:1", "", 1000, 2000).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.TryLease(std::string(300, 'x'), "node-a", 1000, 2000).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.TryLease("sub:1", std::string(300, 'n'), 1000, 2000).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.TryLease("sub:1", "node-a", 2000, 2000).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ReleaseLease("", "node-a").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.LoadLane("", 0, 10).status().code(), StatusCode::kInvalidArgument);
  auto s = db_->Prepare("SELECT COUNT(*) FROM lane_leases");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->ColumnInt64(0), 0);
}

TEST_F(PgClusterTest, ANodeReadsOneLaneAndTheLanesWithDueWork) {
  PgDeliveryQueue& a = AddNode();
  PgDeliveryQueue& b = AddNode();
  auto first = Enqueue(a, "r1", {"sub:1", "sub:2"});
  auto second = Enqueue(b, "r2", {"sub:1", "sub:3"}, 5000);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_LT(first[1].id, second[0].id);

  // Node a reads what node b accepted, in order, one lane at a time.
  auto lane = a.LoadLane("sub:1", 0, 10);
  ASSERT_TRUE(lane.ok()) << lane.status().ToString();
  ASSERT_EQ(lane->size(), 2u);
  EXPECT_EQ((*lane)[0].request_id, "r1");
  EXPECT_EQ((*lane)[1].request_id, "r2");
  EXPECT_EQ((*lane)[1].lane, "sub:1");
  auto page = a.LoadLane("sub:1", (*lane)[0].id, 1);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, (*lane)[1].id);
  EXPECT_TRUE(a.LoadLane("sub:9", 0, 10)->empty());
  auto envelope = a.LoadEnvelope(second[0].message_id);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(*envelope, R"({"data":{"esbBody":{"path":"C:\dir\y"}},"signature":"a"b"})");

  // Due work: r2's deliveries become due at 5000.
  EXPECT_EQ(*a.LanesWithPendingWork(1000, 10), (std::vector<std::string>{"sub:1", "sub:2"}));
  EXPECT_EQ(*a.LanesWithPendingWork(5000, 10),
            (std::vector<std::string>{"sub:1", "sub:2", "sub:3"}));
  EXPECT_EQ(*a.LanesWithPendingWork(5000, 1), (std::vector<std::string>{"sub:1"}));
  // A delivered lane has no work; one backing off has none until its next attempt.
  a.Ack(first[1].id, Attempt{2000, "ok", 200, 10, "", {}});
  a.Nack(second[1].id, Attempt{5000, "unreachable", 0, 10, "down", {}}, 9000);
  Sync(a);
  EXPECT_EQ(*b.LanesWithPendingWork(8000, 10), (std::vector<std::string>{"sub:1"}));
  EXPECT_EQ(*b.LanesWithPendingWork(9000, 10), (std::vector<std::string>{"sub:1", "sub:3"}));
}

TEST_F(PgClusterTest, LanesSomeNodeHoldsAreNotSweptAndRenewalKeepsOnlyValidLeases) {
  PgDeliveryQueue& a = AddNode();
  PgDeliveryQueue& b = AddNode();
  Enqueue(a, "r1", {"sub:1", "sub:2"});
  ASSERT_TRUE(*a.TryLease("sub:1", "node-a", 1000, 2000));
  // sub:1 is held until 2000: only sub:2 needs a holder; at 2001 the lease has run out.
  EXPECT_EQ(*b.LanesWithPendingWork(1500, 10), std::vector<std::string>{"sub:2"});
  EXPECT_EQ(*b.LanesWithPendingWork(2001, 10), (std::vector<std::string>{"sub:1", "sub:2"}));
  // A renewal while valid extends the lease; none by another node or after it ran out.
  EXPECT_EQ(*a.RenewLeases("node-a", 1900, 5000), 1);
  EXPECT_EQ(*b.LanesWithPendingWork(4000, 10), std::vector<std::string>{"sub:2"});
  EXPECT_EQ(*b.RenewLeases("node-b", 4000, 9000), 0);
  EXPECT_EQ(*a.RenewLeases("node-a", 5001, 9000), 0);
  EXPECT_TRUE(*b.TryLease("sub:1", "node-b", 5001, 9000));
  EXPECT_EQ(a.RenewLeases("", 1, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.RenewLeases("node-a", 2, 2).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PgClusterTest, ARedeliveryMadeOnOneNodeIsSeenByTheOthers) {
  PgDeliveryQueue& a = AddNode();
  PgDeliveryQueue& b = AddNode();
  auto created = Enqueue(a, "r1", {"sub:1", "sub:2"});
  ASSERT_EQ(created.size(), 2u);
  a.DeadLetter(created[0].id, Attempt{2000, "refused", 0, 10, "no", {}});
  a.DeadLetter(created[1].id, Attempt{2000, "refused", 0, 10, "no", {}});
  Sync(a);
  auto gen_b = b.RedeliverGeneration();
  ASSERT_TRUE(gen_b.ok());
  EXPECT_TRUE(b.LoadLane("sub:1", 0, 10)->empty());
  EXPECT_TRUE(b.LanesWithPendingWork(3000, 10)->empty());

  // An operator on a connection of its own (any node's admin layer).
  auto admin = store::Database::OpenPostgres(conninfo_);
  ASSERT_TRUE(admin.ok());
  PgDeliveryOperations ops(**admin);
  ASSERT_TRUE(ops.Redeliver(created[0].id, 3000).ok());
  EXPECT_GT(*b.RedeliverGeneration(), *gen_b);
  EXPECT_EQ(*b.LanesWithPendingWork(3000, 10), std::vector<std::string>{"sub:1"});
  auto lane = b.LoadLane("sub:1", 0, 10);
  ASSERT_EQ(lane->size(), 1u);
  EXPECT_EQ((*lane)[0].attempts, 0) << "a fresh attempt budget";

  const int64_t gen_after_one = *a.RedeliverGeneration();
  EXPECT_EQ(*ops.RedeliverAllDead("BIRTHS", 3000), 1);
  EXPECT_GT(*b.RedeliverGeneration(), gen_after_one);
  EXPECT_EQ(*b.LanesWithPendingWork(3000, 10), (std::vector<std::string>{"sub:1", "sub:2"}));
}

// On a server of its own: a restart of the run's shared server would cut every other test.
TEST(PgDeliveryStoreTest, AfterAPostgresRestartTheQueueWorksAgain) {
  auto server = postgres::LocalServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string conninfo = (*server)->conninfo();
  auto db = store::Database::OpenPostgres(conninfo);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(MigrateDeliveryStore(**db).ok());
  auto writer = store::GroupCommitWriter::Start(std::move(db).value());
  ASSERT_TRUE(writer.ok());
  auto queue = PgDeliveryQueue::Open(conninfo, **writer);
  ASSERT_TRUE(queue.ok());
  ASSERT_TRUE((*queue)->LoadPending(0, 10).ok());
  ASSERT_TRUE(*(*queue)->TryLease("sub:1", "node-a", 1000, 2000));

  ASSERT_TRUE((*server)->Restart().ok());
  // The first statement on the lost connection fails (visibly); the next one reconnects.
  auto first = (*queue)->LoadPending(0, 10);
  if (!first.ok()) {
    EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  }
  auto again = (*queue)->LoadPending(0, 10);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->empty());
  auto renewed = (*queue)->TryLease("sub:1", "node-a", 1500, 3000);
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_TRUE(*renewed) << "the lease survived the restart";

  auto message = [] {
    NewMessage m;
    m.request_id = "after-restart";
    m.code = "BIRTHS";
    m.envelope = "{}";
    m.created_at_ms = 1000;
    m.recipients = {Recipient{"sub:1", 1, 100}};
    return m;
  };
  Status enqueued;
  for (int i = 0; i < 2; ++i) {  // the writer's first batch may meet the lost connection
    std::promise<Status> p;
    (*queue)->Enqueue(message(), [&p](Status s, std::vector<PendingDelivery>) { p.set_value(s); });
    enqueued = p.get_future().get();
    if (enqueued.ok()) break;
  }
  ASSERT_TRUE(enqueued.ok()) << enqueued.ToString();
  EXPECT_EQ((*queue)->LoadLane("sub:1", 0, 10)->size(), 1u);
  queue->reset();
  (*writer)->Stop();
}

TEST(PgDeliveryStoreTest, MigratingTwiceOrFromTwoNodesAtOnceIsANoOp) {
  std::string conninfo = postgres::testing::FreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  std::vector<std::thread> nodes;
  std::atomic<int> failed{0};
  for (int i = 0; i < 3; ++i) {
    nodes.emplace_back([&] {
      auto db = store::Database::OpenPostgres(conninfo);
      if (!db.ok() || !MigrateDeliveryStore(**db).ok() || !MigrateDeliveryStore(**db).ok()) {
        failed++;
      }
    });
  }
  for (std::thread& t : nodes) t.join();
  EXPECT_EQ(failed.load(), 0);
  auto db = store::Database::OpenPostgres(conninfo);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*store::SchemaVersion(**db, "delivery"), 2);  // the tables, then the traceparent column
  auto s = (*db)->Prepare("SELECT value FROM delivery_control WHERE key = 'redeliver_generation'");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->ColumnInt64(0), 0);
  EXPECT_FALSE(*s->Step()) << "seeded once";
}

}  // namespace
}  // namespace govesb::delivery
