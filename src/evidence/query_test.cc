#include "evidence/query.h"

#include <gtest/gtest.h>

#include <future>

#include "base/temp_dir.h"
#include "evidence/log.h"

namespace govesb::evidence {
namespace {

// The filters of QueryRecords are in the contract suite (store_contract_test.cc); here, the
// rows this adapter's request-id index holds once the records are sealed and indexed.
TEST(Query, TheRequestIdIndexHasOneRowPerExchange) {
  TempDir dir;
  std::string path = dir.path() + "/e.db";
  auto db = store::Database::Open(path).value();
  ASSERT_TRUE(MigrateEvidenceStore(*db).ok());
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value();
  crypto::LocalSigner signer(key);
  auto writer = store::GroupCommitWriter::Open(path).value();
  auto opened = EvidenceLog::Open(*db, *writer, signer);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EvidenceLog& log = **opened;
  auto step = [](int64_t at, std::string request_id) {
    Record r;
    r.at_ms = at;
    r.request_id = std::move(request_id);
    r.kind = "request";
    r.outcome = "ok";
    return r;
  };
  std::vector<Record> records = {step(1000, "r1"), step(1001, "r1"), step(2000, "r2"),
                                 step(3000, "r3"), step(4000, "r4")};
  std::promise<Status> p;
  auto f = p.get_future();
  log.Append(records, [&p](Status s) { p.set_value(std::move(s)); });
  ASSERT_TRUE(f.get().ok());
  ASSERT_TRUE(log.CheckpointFrom(*db, 5000).ok());
  ASSERT_TRUE(log.IndexSealed(*db, /*chunk=*/2).ok());
  auto indexed = db->Prepare(
      "SELECT count(*), (SELECT indexed_through FROM evidence_index_state) FROM evidence_index");
  ASSERT_TRUE(indexed.ok() && *indexed->Step());
  EXPECT_EQ(indexed->ColumnInt64(0), 4) << "one row per exchange";
  EXPECT_EQ(indexed->ColumnInt64(1), 5) << "every sealed record";
  ASSERT_TRUE(indexed->Reset().ok());
  ASSERT_TRUE(log.IndexSealed(*db).ok()) << "nothing new: nothing";
  ASSERT_TRUE(*indexed->Step());
  EXPECT_EQ(indexed->ColumnInt64(0), 4);
  QueryFilter r1;
  r1.request_id = "r1";
  auto found = QueryRecords(*db, r1);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 2u);
}

}  // namespace
}  // namespace govesb::evidence
