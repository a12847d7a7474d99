// PostgreSQL-only behaviour of the cluster's evidence store (the contract is in
// store_contract_test.cc): several nodes' chains in one database, and evidence written inside
// another module's write job (the in-job seam).

#include "evidence/pg_store.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "evidence/log.h"
#include "evidence/proof.h"
#include "evidence/test_records.h"
#include "postgres/test_server.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::evidence {
namespace {

std::vector<Record> Exchange(const std::string& id, int64_t at) {
  return {Step(at, id, "request", "moh", "bus", "BRTHCRT", "", "ok"),
          Step(at + 1, id, "response", "bus", "moh", "BRTHCRT", "", "ok")};
}

// One node: its own writer (connection) and store, on the shared database.
struct Node {
  std::unique_ptr<store::GroupCommitWriter> writer;
  std::unique_ptr<PgEvidenceStore> store;
  ~Node() {
    store.reset();  // before its writer
  }
};

class PgEvidence : public ::testing::Test {
 protected:
  void SetUp() override {
    conninfo_ = postgres::testing::FreshDatabase();
    ASSERT_FALSE(conninfo_.empty());
    db_ = store::Database::OpenPostgres(conninfo_).value();
    ASSERT_TRUE(MigrateEvidenceStore(*db_).ok());
  }
  std::unique_ptr<Node> Start(const std::string& node_id) {
    auto n = std::make_unique<Node>();
    n->writer =
        store::GroupCommitWriter::Start(store::Database::OpenPostgres(conninfo_).value()).value();
    auto s =
        PgEvidenceStore::Open(conninfo_, *n->writer, signer_, {.node_id = node_id, .postgres = {}});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    n->store = std::move(s).value();
    return n;
  }
  static Status Append(EvidenceStore& s, const std::vector<Record>& records) {
    std::promise<Status> p;
    s.Append(Prepare(records), [&p](Status st) { p.set_value(std::move(st)); });
    return p.get_future().get();
  }
  // A job on `writer` that inserts `value` into items and appends `records`, then fails when
  // asked to; waits for it.
  static std::future<Status> SubmitBoth(store::GroupCommitWriter& writer, std::string value,
                                        std::vector<Record> records, bool fail) {
    auto p = std::make_shared<std::promise<Status>>();
    auto future = p->get_future();
    writer.Submit(
        [value, prepared = std::make_shared<PreparedRecords>(Prepare(records)),
         fail](store::WriteContext& ctx) -> Status {
          GOVESB_ASSIGN_OR_RETURN(store::Statement * s,
                                  ctx.Prepared("INSERT INTO items(value) VALUES(?)"));
          GOVESB_RETURN_IF_ERROR(s->Bind(1, value));
          GOVESB_RETURN_IF_ERROR(s->Run());
          GOVESB_RETURN_IF_ERROR(EvidenceLog::AppendInJob(ctx, *prepared));
          return fail ? FailedPrecondition("changed my mind") : Status::Ok();
        },
        [p](const Status& s) { p->set_value(s); });
    return future;
  }
  static Status Both(store::GroupCommitWriter& writer, std::string value,
                     std::vector<Record> records, bool fail) {
    return SubmitBoth(writer, std::move(value), std::move(records), fail).get();
  }
  int64_t Count(const std::string& sql) {
    auto s = db_->Prepare(sql).value();
    EXPECT_TRUE(*s.Step());
    return s.ColumnInt64(0);
  }

  std::string conninfo_;
  std::unique_ptr<store::Database> db_;
  crypto::LocalSigner signer_{crypto::PrivateKey::Generate(crypto::Curve::kP256).value()};
};

TEST_F(PgEvidence, TwoNodesAppendConcurrentlyAndEveryReadCoversBoth) {
  auto a = Start("node-a");
  auto b = Start("node-b");
  constexpr int kPerNode = 100;
  auto run = [&](Node& n, const std::string& prefix) {
    std::vector<std::future<Status>> done;
    for (int i = 0; i < kPerNode; ++i) {
      auto p = std::make_shared<std::promise<Status>>();
      done.push_back(p->get_future());
      n.store->Append(Prepare(Exchange(prefix + std::to_string(i), 1'000 + i)),
                      [p](Status s) { p->set_value(std::move(s)); });
    }
    for (auto& f : done) EXPECT_TRUE(f.get().ok());
  };
  std::thread ta([&] { run(*a, "a-"); });
  std::thread tb([&] { run(*b, "b-"); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a->store->Seal(5'000).ok());
  ASSERT_TRUE(b->store->Seal(5'000).ok());
  EXPECT_EQ(a->store->Checkpoints().value().size(), 1u) << "a node's own checkpoints";
  EXPECT_EQ(a->store->Checkpoints().value()[0].last, 2 * kPerNode);

  VerifyReport r = a->store->Verify(signer_.public_key()).value();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 4 * kPerNode) << "both chains";
  EXPECT_EQ(r.checkpoints, 2);

  // A search and a proof find either node's exchange, from either node's store.
  for (const std::string id : {"a-7", "b-42"}) {
    SearchFilter f;
    f.request_id = id;
    auto page = b->store->Search(f);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->records.size(), 2u) << id;
    EXPECT_EQ(page->records[0].node, id[0] == 'a' ? "node-a" : "node-b");
    auto proof = a->store->BuildProof(id, signer_.public_key());
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    auto checked = CheckProof(*proof, signer_.public_key());
    ASSERT_TRUE(checked.ok()) << checked.status().ToString();
    EXPECT_EQ(checked->records.size(), 2u);
    EXPECT_EQ(checked->checkpoint_nodes,
              std::vector<std::string>{id[0] == 'a' ? "node-a" : "node-b"});
  }
  // Every page of a search over all: each record once.
  SearchFilter all;
  all.page_size = 33;
  size_t seen = 0;
  for (;;) {
    auto page = a->store->Search(all);
    ASSERT_TRUE(page.ok());
    seen += page->records.size();
    if (page->next_cursor.empty()) break;
    all.cursor = page->next_cursor;
  }
  EXPECT_EQ(seen, static_cast<size_t>(4 * kPerNode));
  EXPECT_EQ(a->store->Query(QueryFilter{}).value().size(), static_cast<size_t>(4 * kPerNode));

  // A proof moved to another node's checkpoint does not check.
  std::string proof = a->store->BuildProof("b-42", signer_.public_key()).value();
  const size_t at = proof.find("\"node\":\"node-b\"");
  ASSERT_NE(at, std::string::npos);
  proof.replace(at, 15, "\"node\":\"node-a\"");
  EXPECT_FALSE(CheckProof(proof, signer_.public_key()).ok());

  // A change in node B's chain is reported with node B.
  ASSERT_TRUE(db_->Exec("UPDATE evidence_records SET record = replace(record, '\"at\":1050',"
                        " '\"at\":1051') WHERE node = 'node-b' AND seq = 101")
                  .ok());
  r = a->store->Verify(signer_.public_key()).value();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.node, "node-b") << r.problem;
  EXPECT_EQ(r.first_bad_seq, 101) << r.problem;
  EXPECT_NE(r.problem.find("node-b"), std::string::npos) << r.problem;
  // Chain by chain: node A's stays intact, node B's breaks where it was changed.
  auto each = VerifyEachChain(*db_, signer_.public_key());
  ASSERT_TRUE(each.ok()) << each.status().ToString();
  ASSERT_EQ(each->size(), 2u);
  EXPECT_EQ((*each)[0].node, "node-a");
  EXPECT_TRUE((*each)[0].report.intact) << (*each)[0].report.problem;
  EXPECT_EQ((*each)[0].report.records, 2 * kPerNode);
  EXPECT_EQ((*each)[1].node, "node-b");
  EXPECT_FALSE((*each)[1].report.intact);
  EXPECT_EQ((*each)[1].report.first_bad_seq, 101);
}

TEST_F(PgEvidence, ANodeIdMustBeAName) {
  auto writer =
      store::GroupCommitWriter::Start(store::Database::OpenPostgres(conninfo_).value()).value();
  for (const std::string& bad : std::vector<std::string>{"", "a b", "x'--", std::string(65, 'n')}) {
    EXPECT_EQ(PgEvidenceStore::Open(conninfo_, *writer, signer_, {.node_id = bad, .postgres = {}})
                  .status()
                  .code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST_F(PgEvidence, EvidenceInAJobCommitsWithItsRowsOrNotAtAll) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE items(value TEXT PRIMARY KEY)").ok());
  auto a = Start("node-a");
  // Without a chain on the writer the seam says so.
  {
    auto bare =
        store::GroupCommitWriter::Start(store::Database::OpenPostgres(conninfo_).value()).value();
    EXPECT_EQ(Both(*bare, "none", Exchange("none", 1), false).code(),
              StatusCode::kFailedPrecondition);
  }
  ASSERT_TRUE(Both(*a->writer, "one", Exchange("r-1", 10), false).ok());
  EXPECT_EQ(Both(*a->writer, "two", Exchange("r-2", 20), true).code(),
            StatusCode::kFailedPrecondition);
  // In one batch: a job that fails after appending is rolled back alone; its neighbours commit,
  // and the chain goes on without a gap.
  std::promise<void> go;
  std::promise<void> inside;
  a->writer->Submit(
      [gate = go.get_future().share(), &inside](store::WriteContext&) {
        inside.set_value();
        gate.wait();
        return Status::Ok();
      },
      nullptr);
  inside.get_future().wait();
  // The three are queued behind the held job: one batch.
  std::vector<std::future<Status>> results;
  for (int i = 0; i < 3; ++i) {
    results.push_back(SubmitBoth(*a->writer, "batch-" + std::to_string(i),
                                 Exchange("b-" + std::to_string(i), 100 + i), i == 1));
  }
  const uint64_t commits_before = a->writer->stats().commits;
  go.set_value();
  EXPECT_TRUE(results[0].get().ok());
  EXPECT_EQ(results[1].get().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(results[2].get().ok());
  EXPECT_EQ(a->writer->stats().commits, commits_before + 2) << "the held job's, then the three's";
  // Appends through the store go on after them.
  ASSERT_TRUE(Append(*a->store, Exchange("after", 200)).ok());

  EXPECT_EQ(Count("SELECT count(*) FROM items"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM items WHERE value IN ('two', 'batch-1')"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM evidence_records WHERE request_id IN ('r-2', 'b-1')"), 0);
  EXPECT_EQ(Count("SELECT max(seq) FROM evidence_records"), 8);
  ASSERT_TRUE(a->store->SealAll(1'000).ok());
  VerifyReport r = a->store->Verify(signer_.public_key()).value();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 8);
  EXPECT_EQ(r.unsealed, 0);
}

}  // namespace
}  // namespace govesb::evidence
