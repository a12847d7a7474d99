#include "delivery/sqlite_queue.h"

#include <gtest/gtest.h>

#include <future>

#include "base/temp_dir.h"
#include "registry/registry.h"

namespace govesb::delivery {
namespace {

class SqliteQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/q.db";
    auto db = store::Database::Open(path_);
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
    ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());  // listings name the systems
    ASSERT_TRUE(MigrateDeliveryStore(*db_).ok());
    ASSERT_TRUE(MigrateDeliveryStore(*db_).ok()) << "migrating twice is a no-op";
    auto writer = store::GroupCommitWriter::Open(path_);
    ASSERT_TRUE(writer.ok());
    writer_ = std::move(writer).value();
    auto queue = SqliteDeliveryQueue::Open(path_, *writer_);
    ASSERT_TRUE(queue.ok());
    queue_ = std::move(queue).value();
  }

  std::pair<Status, std::vector<PendingDelivery>> Enqueue(NewMessage m) {
    std::promise<std::pair<Status, std::vector<PendingDelivery>>> p;
    auto f = p.get_future();
    queue_->Enqueue(std::move(m), [&p](Status s, std::vector<PendingDelivery> d) {
      p.set_value({std::move(s), std::move(d)});
    });
    return f.get();
  }

  Status Await(AwaitedAnswer a) {
    std::promise<Status> p;
    auto f = p.get_future();
    queue_->Await(std::move(a), [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }

  // Waits for the fire-and-forget writes (Ack, Nack ...) queued so far.
  void Flush() {
    std::promise<void> p;
    auto f = p.get_future();
    writer_->Submit([](store::WriteContext&) { return Status::Ok(); },
                    [&p](const Status&) { p.set_value(); });
    f.get();
  }

  static NewMessage Push(std::string request_id, int subscribers) {
    NewMessage m;
    m.kind = MessageKind::kPush;
    m.request_id = std::move(request_id);
    m.code = "BIRTHS";
    m.source_system_id = 1;
    m.envelope = R"({"data":{"esbBody":{},"requestId":"x","pushCode":"BIRTHS"},"signature":"s"})";
    m.created_at_ms = 1000;
    for (int i = 0; i < subscribers; ++i) {
      m.recipients.push_back(Recipient{"sub:" + std::to_string(10 + i), 10 + i, 100 + i});
    }
    return m;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<SqliteDeliveryQueue> queue_;
};

TEST_F(SqliteQueueTest, EnqueuedMessagesAreDurableAndPendingInOrder) {
  auto [s1, d1] = Enqueue(Push("r1", 3));
  ASSERT_TRUE(s1.ok()) << s1.message();
  ASSERT_EQ(d1.size(), 3u);
  EXPECT_EQ(d1[0].lane, "sub:10");
  ASSERT_TRUE(d1[0].envelope);
  auto [s2, d2] = Enqueue(Push("r2", 1));
  ASSERT_TRUE(s2.ok());

  // Another connection (the admin CLI, a restarted bus) sees them at once.
  auto counts = CountDeliveries(*db_);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending, 4);
  EXPECT_EQ(counts->oldest_pending_created_at_ms, 1000);
  EXPECT_EQ(CountOpenDeliveries(*db_)->pending, 4);
  EXPECT_EQ(CountOpenDeliveries(*db_)->oldest_pending_created_at_ms, 1000);

  auto pending = queue_->LoadPending(0, 100);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 4u);
  EXPECT_LT((*pending)[0].id, (*pending)[3].id);
  EXPECT_EQ((*pending)[3].request_id, "r2");
  EXPECT_FALSE((*pending)[0].envelope) << "envelopes are loaded on demand";
  auto env = queue_->LoadEnvelope((*pending)[0].message_id);
  ASSERT_TRUE(env.ok());
  EXPECT_NE(env->find("BIRTHS"), std::string::npos);

  auto page = queue_->LoadPending((*pending)[1].id, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, (*pending)[2].id);
}

TEST_F(SqliteQueueTest, DuplicateRequestIdStoresNothing) {
  ASSERT_TRUE(Enqueue(Push("same", 2)).first.ok());
  auto [s, d] = Enqueue(Push("same", 2));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(CountDeliveries(*db_)->pending, 2);
}

TEST_F(SqliteQueueTest, OutcomesAreRecordedWithEveryAttempt) {
  auto [s, d] = Enqueue(Push("r1", 2));
  ASSERT_TRUE(s.ok());
  queue_->Nack(d[0].id, Attempt{2000, "unreachable", 0, 150, "connection refused", {}}, 5000);
  queue_->Ack(d[0].id, Attempt{6000, "ok", 200, 900, "", {}});
  queue_->Nack(d[1].id, Attempt{2000, "bad_signature", 200, 700, "bad", {}}, 3000);
  queue_->DeadLetter(d[1].id, Attempt{3000, "bad_signature", 200, 650, "still bad", {}});
  Flush();

  auto counts = CountDeliveries(*db_);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->delivered, 1);
  EXPECT_EQ(counts->dead, 1);
  // The open ones alone, from the index: the same pending and dead.
  auto open = CountOpenDeliveries(*db_);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(open->pending, 0);
  EXPECT_EQ(open->dead, 1);
  EXPECT_EQ(open->delivered, 0);
  EXPECT_EQ(CountOpenDeliveries(*db_, "NOSUCH")->dead, 0) << "no system of that institution";

  DeliveryFilter dead_filter;
  dead_filter.state = DeliveryState::kDead;
  auto dead = ListDeliveries(*db_, dead_filter);
  ASSERT_TRUE(dead.ok()) << dead.status().message();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, d[1].id);
  EXPECT_EQ((*dead)[0].attempts, 2);
  EXPECT_EQ((*dead)[0].last_error, "still bad");
  EXPECT_EQ((*dead)[0].code, "BIRTHS");

  auto attempts = ListAttempts(*db_, d[0].id);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0].outcome, "unreachable");
  EXPECT_EQ((*attempts)[0].error, "connection refused");
  EXPECT_EQ((*attempts)[1].outcome, "ok");
  EXPECT_EQ((*attempts)[1].latency_us, 900);

  // A late outcome for a settled delivery changes nothing.
  queue_->Nack(d[0].id, Attempt{7000, "timeout", 0, 1, "late", {}}, 8000);
  Flush();
  EXPECT_EQ(CountDeliveries(*db_)->delivered, 1);
  EXPECT_EQ(ListAttempts(*db_, d[0].id)->size(), 2u);
}

TEST_F(SqliteQueueTest, RedeliverPutsDeadBackAndBumpsTheGeneration) {
  auto [s, d] = Enqueue(Push("r1", 2));
  ASSERT_TRUE(s.ok());
  queue_->DeadLetter(d[0].id, Attempt{2000, "refused", 200, 1, "no", {}});
  queue_->DeadLetter(d[1].id, Attempt{2000, "refused", 200, 1, "no", {}});
  Flush();
  auto gen0 = queue_->RedeliverGeneration();
  ASSERT_TRUE(gen0.ok());

  EXPECT_EQ(Redeliver(*db_, 999999, 3000).code(), StatusCode::kNotFound);
  ASSERT_TRUE(Redeliver(*db_, d[0].id, 3000).ok());
  EXPECT_EQ(Redeliver(*db_, d[0].id, 3000).code(), StatusCode::kFailedPrecondition)
      << "already pending";
  EXPECT_GT(*queue_->RedeliverGeneration(), *gen0);
  auto pending = queue_->LoadPending(0, 10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].attempts, 0) << "a fresh attempt budget";

  auto n = RedeliverAllDead(*db_, "OTHER", 3000);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  n = RedeliverAllDead(*db_, "", 3000);
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(CountDeliveries(*db_)->pending, 2);
  // History is kept across redelivery.
  queue_->Ack(d[0].id, Attempt{4000, "ok", 200, 1, "", {}});
  Flush();
  EXPECT_EQ(ListAttempts(*db_, d[0].id)->size(), 2u);
}

TEST_F(SqliteQueueTest, AsyncAnswersMustBeOwedAndAreTakenOnce) {
  AwaitedAnswer a{"req1", "LANDREG", /*consumer*/ 7, /*provider*/ 9, 1000, 50'000};
  ASSERT_TRUE(Await(a).ok());
  ASSERT_TRUE(Await(AwaitedAnswer{"req2", "LANDREG", 7, 9, 1000, 50'000}).ok());
  ASSERT_TRUE(Await(AwaitedAnswer{"req3", "LANDREG", 7, 9, 1000, 2'000}).ok());
  EXPECT_FALSE(Await(a).ok()) << "one awaited answer per requestId";

  auto answer = [](std::string request_id, int64_t provider, int64_t now) {
    NewMessage m;
    m.kind = MessageKind::kAsyncAnswer;
    m.request_id = request_id;
    m.source_system_id = provider;
    m.envelope = "{}";
    m.claim = AnswerClaim{request_id, provider, now};
    m.created_at_ms = now;
    return m;
  };

  auto [wrong, none] = Enqueue(answer("req1", /*provider*/ 8, 3000));
  EXPECT_EQ(wrong.code(), StatusCode::kNotFound) << "only the provider it went to may answer";
  EXPECT_EQ(Enqueue(answer("nope", 9, 3000)).first.code(), StatusCode::kNotFound);

  auto [ok, created] = Enqueue(answer("req1", 9, 3000));
  ASSERT_TRUE(ok.ok()) << ok.message();
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].target_system_id, 7) << "delivered to the consumer";
  EXPECT_EQ(created[0].lane, "cb:7");
  EXPECT_EQ(created[0].code, "LANDREG");
  EXPECT_EQ(created[0].kind, MessageKind::kAsyncAnswer);

  auto [twice, none2] = Enqueue(answer("req1", 9, 3100));
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(twice.message().find("already been answered"), std::string::npos);

  auto [late, none3] = Enqueue(answer("req3", 9, 3000));
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(late.message().find("too late"), std::string::npos);

  queue_->CancelAwait("req2");
  Flush();
  auto [cancelled, none4] = Enqueue(answer("req2", 9, 3000));
  EXPECT_EQ(cancelled.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CountDeliveries(*db_)->pending, 1) << "rejected answers store nothing";
}

TEST_F(SqliteQueueTest, PruneForgetsOnlyWhatIsSettledAndOld) {
  auto [s1, old] = Enqueue(Push("old", 3));  // created at 1000
  ASSERT_TRUE(s1.ok());
  queue_->Ack(old[0].id, Attempt{2000, "ok", 200, 1, "", {}});
  queue_->DeadLetter(old[1].id, Attempt{2000, "refused", 200, 1, "no", {}});
  // old[2] stays pending.
  NewMessage fresh = Push("fresh", 1);
  fresh.created_at_ms = 9000;
  auto [s2, created] = Enqueue(std::move(fresh));
  ASSERT_TRUE(s2.ok());
  queue_->Ack(created[0].id, Attempt{9500, "ok", 200, 1, "", {}});
  ASSERT_TRUE(Await(AwaitedAnswer{"answered", "LANDREG", 7, 9, 1000, 50'000}).ok());
  ASSERT_TRUE(Await(AwaitedAnswer{"waiting", "LANDREG", 7, 9, 1000, 50'000}).ok());
  queue_->CancelAwait("answered");
  queue_->Prune(5000);
  Flush();

  auto all = ListDeliveries(*db_, DeliveryFilter{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u) << "the old delivered one is gone; dead, pending and new stay";
  EXPECT_EQ((*all)[0].state, DeliveryState::kDead);
  EXPECT_EQ((*all)[1].state, DeliveryState::kPending);
  EXPECT_EQ((*all)[2].request_id, "fresh");
  EXPECT_TRUE(ListAttempts(*db_, old[0].id)->empty());
  EXPECT_TRUE(queue_->LoadEnvelope(old[0].message_id).ok()) << "still needed by the others";

  auto awaited = db_->Prepare("SELECT request_id FROM awaited_answers");
  ASSERT_TRUE(awaited.ok());
  ASSERT_TRUE(*awaited->Step());
  EXPECT_EQ(awaited->ColumnText(0), "waiting");
  EXPECT_FALSE(*awaited->Step());
}

}  // namespace
}  // namespace govesb::delivery
