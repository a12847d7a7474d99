#include "admin/journal.h"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>

#include "base/encoding.h"
#include "base/temp_dir.h"
#include "crypto/primitives.h"
#include "store/database.h"
#include "store/database_testing.h"

namespace govesb::admin {
namespace {

namespace json = boost::json;

// The journal on both backends: a database file of its own (SQLite) or a database of its own
// (PostgreSQL) per test.
class Journal : public ::testing::TestWithParam<store::Backend> {
 protected:
  std::unique_ptr<store::Database> OpenMigrated() {
    std::unique_ptr<store::Database> db =
        store::testing::Connect(GetParam(), store::testing::NewDatabase(GetParam(), dir_));
    GOVESB_CHECK(MigrateAdminStore(*db).ok());
    return db;
  }

  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Backends, Journal, store::testing::BothBackends(),
                         store::testing::BackendName);

Actor Alice() {
  return Actor{.account = "alice@rita.go.tz",
               .role = Role::kInstitutionAdmin,
               .institution = "RITA",
               .address = "10.0.0.7",
               .via = "api"};
}

TEST_P(Journal, RecordsWhoWhatWhereAndTheStateBeforeAndAfterHashed) {
  auto db = OpenMigrated();
  json::object before;
  before["enabled"] = true;
  json::object after;
  after["enabled"] = false;
  auto txn = store::Transaction::Begin(*db);
  ASSERT_TRUE(txn.ok());
  auto r = RecordAction(*db, Alice(), 1'700'000'000'000,
                        Change{.action = "system.disable",
                               .object = "system:abc",
                               .object_institution = "RITA",
                               .before = before,
                               .after = after});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(r->request_id.size(), 32u);
  EXPECT_EQ(r->detail_sha256, HexEncode(crypto::Sha256(r->detail)));
  EXPECT_NE(r->detail.find("\"account\":\"alice@rita.go.tz\""), std::string::npos) << r->detail;
  EXPECT_NE(r->detail.find("\"address\":\"10.0.0.7\""), std::string::npos);
  EXPECT_NE(r->detail.find("\"before\":{\"enabled\":true},\"after\":{\"enabled\":false}"),
            std::string::npos)
      << r->detail;

  auto listed = ListActions(*db, {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].detail, r->detail);
  EXPECT_FALSE((*listed)[0].evidenced);
  EXPECT_EQ(*PendingActionCount(*db), 1);

  evidence::Record e = EvidenceRecordOf(*r);
  EXPECT_EQ(e.kind, "admin");
  EXPECT_EQ(e.from, "alice@rita.go.tz");
  EXPECT_EQ(e.to, "system:abc");
  EXPECT_EQ(e.code, "system.disable");
  EXPECT_EQ(e.body_sha256, r->detail_sha256);
  EXPECT_EQ(e.request_id, r->request_id);
}

TEST_P(Journal, ARolledBackChangeLeavesNoRecord) {
  auto db = OpenMigrated();
  {
    auto txn = store::Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(RecordAction(*db, Alice(), 1, Change{.action = "x.y", .object = "x:1"}).ok());
  }
  EXPECT_EQ(*PendingActionCount(*db), 0);
}

TEST_P(Journal, FiltersByAccountObjectPrefixInstitutionAndPagesNewestFirst) {
  auto db = OpenMigrated();
  Actor op{.account = "op@ega.go.tz", .role = Role::kOperator, .address = "local", .via = "cli"};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(RecordAction(*db, i % 2 == 0 ? Alice() : op, 1000 + i,
                             Change{.action = i < 3 ? "system.update" : "api.add",
                                    .object = i < 3 ? "system:s" + std::to_string(i)
                                                    : "api:API0" + std::to_string(i),
                                    .object_institution = i == 3 ? "RITA" : "MOH"})
                    .ok());
  }
  auto by_alice = ListActions(*db, {.account = "alice@rita.go.tz"});
  ASSERT_TRUE(by_alice.ok());
  EXPECT_EQ(by_alice->size(), 3u);
  auto systems = ListActions(*db, {.object = "system:"});
  ASSERT_TRUE(systems.ok());
  EXPECT_EQ(systems->size(), 3u);
  auto one = ListActions(*db, {.object = "system:s1"});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].account, "op@ega.go.tz");
  // RITA's: by its admin (0, 2, 4) or on its objects (3).
  auto rita = ListActions(*db, {.institution = "RITA"});
  ASSERT_TRUE(rita.ok());
  EXPECT_EQ(rita->size(), 4u);
  auto first = ListActions(*db, {.limit = 2});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_GT((*first)[0].id, (*first)[1].id);
  auto next = ListActions(*db, {.before_id = (*first)[1].id, .limit = 10});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->size(), 3u);
  EXPECT_LT((*next)[0].id, (*first)[1].id);
  EXPECT_FALSE(ListActions(*db, {.limit = 0}).ok());
}

}  // namespace
}  // namespace govesb::admin
