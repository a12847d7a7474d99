// The SQLite adapter of the delivery store: the contract suite (queue_contract_test.cc) over
// SqliteDeliveryQueue + SqliteDeliveryOperations + the evidence log in one data file, and what
// is particular to SQLite.
#include "delivery/sqlite_queue.h"

#include <gtest/gtest.h>

#include <future>

#include "base/temp_dir.h"
#include "crypto/keys.h"
#include "delivery/queue_contract_test.h"
#include "evidence/log.h"
#include "evidence/records.h"
#include "registry/registry.h"

namespace govesb::delivery {
namespace {

// What the server opens: one file, the group-commit writer, the evidence log as the writer's
// commit participant, the queue on the writer, and the operators' view on a connection.
class SqliteDeliveryStore final : public testing::DeliveryStoreUnderTest {
 public:
  SqliteDeliveryStore()
      : signer_(std::move(crypto::PrivateKey::Generate(crypto::Curve::kP256)).value()),
        path_(dir_.path() + "/bus.db") {
    Open();
  }
  ~SqliteDeliveryStore() override { Close(); }

  DeliveryQueue& queue() override { return *queue_; }
  DeliveryOperations& operations() override { return *ops_; }

  void Reopen() override {
    Close();
    Open();
  }

  Result<size_t> EvidenceRecordsOf(std::string_view request_id) override {
    GOVESB_ASSIGN_OR_RETURN(auto entries,
                            evidence::FindLiveExchange(*db_, request_id, evidence_->durable_seq()));
    size_t n = 0;
    for (const auto& [first, last] : entries) n += static_cast<size_t>(last - first + 1);
    return n;
  }

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
  void Open() {
    auto db = store::Database::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());  // listings name the systems
    ASSERT_TRUE(MigrateDeliveryStore(*db_).ok());
    ASSERT_TRUE(evidence::MigrateEvidenceStore(*db_).ok());
    auto writer = store::GroupCommitWriter::Open(path_);
    ASSERT_TRUE(writer.ok());
    writer_ = std::move(writer).value();
    auto log = evidence::EvidenceLog::Open(*db_, *writer_, signer_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    evidence_ = std::move(log).value();
    auto queue = SqliteDeliveryQueue::Open(path_, *writer_);
    ASSERT_TRUE(queue.ok());
    queue_ = std::move(queue).value();
    ops_ = std::make_unique<SqliteDeliveryOperations>(*db_);
  }

  void Close() {
    ops_.reset();
    queue_.reset();
    if (writer_) writer_->Stop();
    evidence_.reset();
    writer_.reset();
    db_.reset();
  }

  crypto::LocalSigner signer_;
  TempDir dir_;
  std::string path_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<evidence::EvidenceLog> evidence_;
  std::unique_ptr<SqliteDeliveryQueue> queue_;
  std::unique_ptr<SqliteDeliveryOperations> ops_;
};

testing::DeliveryAdapter SqliteAdapter() {
  return {"Sqlite", [] { return std::make_unique<SqliteDeliveryStore>(); }};
}

}  // namespace

namespace testing {
INSTANTIATE_TEST_SUITE_P(Sqlite, DeliveryContractTest, ::testing::Values(SqliteAdapter()),
                         AdapterName);
}  // namespace testing

namespace {

// The lane reads a cluster node uses (pg_queue.h) are the shared code's, so they answer on the
// embedded file too.
TEST(SqliteDeliveryStoreTest, LanesAndTheirPendingDeliveriesCanBeRead) {
  TempDir dir;
  const std::string path = dir.path() + "/q.db";
  auto db = store::Database::Open(path);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(MigrateDeliveryStore(**db).ok());
  auto writer = store::GroupCommitWriter::Open(path);
  ASSERT_TRUE(writer.ok());
  auto queue = SqliteDeliveryQueue::Open(path, **writer);
  ASSERT_TRUE(queue.ok());
  NewMessage m;
  m.request_id = "r1";
  m.code = "BIRTHS";
  m.envelope = "{}";
  m.created_at_ms = 1000;
  m.recipients = {Recipient{"sub:2", 2, 100}, Recipient{"sub:1", 1, 101}};
  std::promise<Status> enqueued;
  (*queue)->Enqueue(std::move(m), [&](Status s, std::vector<PendingDelivery>) {
    enqueued.set_value(std::move(s));
  });
  ASSERT_TRUE(enqueued.get_future().get().ok());
  auto lane = (*queue)->LoadLane("sub:1", 0, 10);
  ASSERT_TRUE(lane.ok());
  ASSERT_EQ(lane->size(), 1u);
  EXPECT_EQ((*lane)[0].target_system_id, 101);
  EXPECT_EQ(*(*queue)->LanesWithPendingWork(1000, 10),
            (std::vector<std::string>{"sub:1", "sub:2"}));
  EXPECT_TRUE((*queue)->LanesWithPendingWork(999, 10)->empty());
  queue->reset();
  (*writer)->Stop();
}

TEST(SqliteDeliveryStoreTest, MigratingTwiceIsANoOp) {
  TempDir dir;
  auto db = store::Database::Open(dir.path() + "/q.db");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(registry::Registry::Migrate(**db).ok());
  ASSERT_TRUE(MigrateDeliveryStore(**db).ok());
  ASSERT_TRUE(MigrateDeliveryStore(**db).ok());
}

}  // namespace
}  // namespace govesb::delivery
