#include "evidence/query.h"

#include <gtest/gtest.h>

#include <future>

#include "base/temp_dir.h"
#include "evidence/log.h"

namespace govesb::evidence {
namespace {

TEST(Query, FindsWhoAccessedWhatAndWhen) {
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
  auto step = [](int64_t at, std::string request_id, std::string kind, std::string from,
                 std::string to, std::string code, std::string user_id, std::string outcome) {
    Record r;
    r.at_ms = at;
    r.request_id = std::move(request_id);
    r.kind = std::move(kind);
    r.from = std::move(from);
    r.to = std::move(to);
    r.code = std::move(code);
    r.user_id = std::move(user_id);
    r.outcome = std::move(outcome);
    return r;
  };
  std::vector<Record> records = {
      step(1000, "r1", "nida-request", "moh", "bus", "NIDA01", "19900101-1", "ok"),
      step(1001, "r1", "response", "bus", "moh", "NIDA01", "19900101-1", "ok"),
      step(2000, "r2", "nida-request", "tra", "bus", "NIDA01", "19900101-1", "PERMISSION_DENIED"),
      step(3000, "r3", "request", "moh", "bus", "BRTHCRT", "", "ok"),
      step(4000, "r4", "nida-request", "moh", "bus", "NIDA01", "19851212-9", "ok"),
  };
  std::promise<Status> p;
  auto f = p.get_future();
  log.Append(records, [&p](Status s) { p.set_value(std::move(s)); });
  ASSERT_TRUE(f.get().ok());

  auto request_ids = [&](const QueryFilter& filter) {
    auto found = QueryRecords(*db, filter);
    EXPECT_TRUE(found.ok()) << found.status().message();
    std::vector<std::string> ids;
    for (const std::string& text : *found) {
      size_t at = text.find("\"requestId\":\"") + 13;
      ids.push_back(text.substr(at, text.find('"', at) - at));
    }
    return ids;
  };
  QueryFilter person;
  person.user_id = "19900101-1";
  EXPECT_EQ(request_ids(person), (std::vector<std::string>{"r1", "r1", "r2"}));
  person.kind = "nida-request";
  person.outcome = "ok";
  EXPECT_EQ(request_ids(person), (std::vector<std::string>{"r1"}));
  QueryFilter tra;
  tra.systems = {"tra", "nobody"};
  EXPECT_EQ(request_ids(tra), (std::vector<std::string>{"r2"}));
  QueryFilter window;
  window.from_ms = 1001;
  window.to_ms = 4000;
  window.code = "NIDA01";
  EXPECT_EQ(request_ids(window), (std::vector<std::string>{"r1", "r2"}));
  QueryFilter quote;
  quote.user_id = "x' OR '1'='1";
  EXPECT_TRUE(request_ids(quote).empty()) << "values are bound, never spliced into SQL";
  QueryFilter one;
  one.limit = 2;
  EXPECT_EQ(request_ids(one).size(), 2u);

  // By request id: read from the files before the records are sealed and indexed, through the
  // index after; the same either way.
  QueryFilter exchange;
  exchange.request_id = "r1";
  EXPECT_EQ(request_ids(exchange), (std::vector<std::string>{"r1", "r1"}));
  ASSERT_TRUE(log.CheckpointFrom(*db, 5000).ok());
  ASSERT_TRUE(log.IndexSealed(*db, /*chunk=*/2).ok());
  auto indexed = db->Prepare(
      "SELECT count(*), (SELECT indexed_through FROM evidence_index_state) FROM evidence_index");
  ASSERT_TRUE(indexed.ok() && *indexed->Step());
  EXPECT_EQ(indexed->ColumnInt64(0), 4) << "one row per exchange";
  EXPECT_EQ(indexed->ColumnInt64(1), 5) << "every sealed record";
  EXPECT_EQ(request_ids(exchange), (std::vector<std::string>{"r1", "r1"}));
  ASSERT_TRUE(log.IndexSealed(*db).ok()) << "nothing new: nothing";
  // An exchange appended after indexing is found by reading.
  std::vector<Record> later = {step(6000, "r1", "push", "moh", "bus", "PUSH1", "", "ok")};
  std::promise<Status> again;
  log.Append(later, [&again](Status s) { again.set_value(std::move(s)); });
  ASSERT_TRUE(again.get_future().get().ok());
  EXPECT_EQ(request_ids(exchange), (std::vector<std::string>{"r1", "r1", "r1"}));
}

}  // namespace
}  // namespace govesb::evidence
