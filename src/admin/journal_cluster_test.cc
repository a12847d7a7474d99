// The admin journal in a cluster: every node moves pending admin actions into its own evidence
// chain, at the same time as the others; each action must reach the log exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "admin/journal.h"
#include "evidence/log.h"
#include "evidence/pg_chain.h"
#include "evidence/pg_store.h"
#include "postgres/test_server.h"
#include "store/group_commit.h"

namespace govesb::admin {
namespace {

TEST(JournalInACluster, NodesMovingActionsAtOnceRecordEachOnce) {
  const std::string conninfo = postgres::testing::FreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  auto db = store::Database::OpenPostgres(conninfo).value();
  ASSERT_TRUE(MigrateAdminStore(*db).ok());
  ASSERT_TRUE(evidence::MigrateEvidenceStore(*db).ok());
  constexpr int kActions = 400;
  for (int i = 0; i < kActions; ++i) {
    auto txn = store::Transaction::Begin(*db).value();
    Actor actor;
    actor.account = "cli:test";
    actor.role = Role::kOperator;
    actor.via = "cli";
    ASSERT_TRUE(RecordAction(*db, actor, 1'800'000'000'000 + i,
                             Change{.action = "institution.update",
                                    .object = "institution:I" + std::to_string(i)})
                    .ok());
    ASSERT_TRUE(txn.Commit().ok());
  }
  // Three nodes: each a writer on its own connection with its own chain, moving small batches
  // as fast as they can, all at once.
  constexpr int kNodes = 3;
  std::vector<std::unique_ptr<evidence::PgChain>> chains;
  std::vector<std::unique_ptr<store::GroupCommitWriter>> writers;
  for (int n = 0; n < kNodes; ++n) {
    chains.push_back(std::make_unique<evidence::PgChain>("node-" + std::to_string(n)));
    store::GroupCommitOptions options;
    options.min_commit_interval_us = 0;
    auto writer =
        store::GroupCommitWriter::Start(store::Database::OpenPostgres(conninfo).value(), options);
    ASSERT_TRUE(writer.ok());
    (*writer)->SetParticipant(chains.back().get());
    writers.push_back(std::move(writer).value());
  }
  std::vector<std::thread> movers;
  std::atomic<size_t> moved{0};
  for (int n = 0; n < kNodes; ++n) {
    movers.emplace_back([&, n] {
      for (;;) {
        std::promise<Result<size_t>> done;
        auto count = std::make_shared<size_t>(0);
        writers[n]->Submit(
            [count](store::WriteContext& ctx) -> Status {
              GOVESB_ASSIGN_OR_RETURN(*count, MoveActionsIntoEvidence(ctx, 7));
              return Status::Ok();
            },
            [&done, count](const Status& s) {
              done.set_value(s.ok() ? Result<size_t>(*count) : Result<size_t>(s));
            });
        Result<size_t> r = done.get_future().get();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        if (*r == 0) return;
        moved += *r;
      }
    });
  }
  for (auto& t : movers) t.join();
  for (auto& w : writers) w->SetParticipant(nullptr);
  EXPECT_EQ(moved.load(), static_cast<size_t>(kActions));
  EXPECT_EQ(PendingActionCount(*db).value(), 0);
  auto reader = evidence::PgEvidenceStore::OpenForReading(conninfo).value();
  evidence::QueryFilter filter;
  filter.kind = "admin";
  auto texts = reader->Query(filter);
  ASSERT_TRUE(texts.ok()) << texts.status().ToString();
  EXPECT_EQ(texts->size(), static_cast<size_t>(kActions)) << "each action in the log once";
}

}  // namespace
}  // namespace govesb::admin
