// The delivery store contract (queue_contract_test.h): what every adapter must do. Adapters
// instantiate the suite in their own test file (sqlite_queue_test.cc).
#include "delivery/queue_contract_test.h"

#include <future>

namespace govesb::delivery::testing {

void DeliveryContractTest::SetUp() {
  store_ = GetParam().open();
  ASSERT_NE(store_, nullptr);
}

std::pair<Status, std::vector<PendingDelivery>> DeliveryContractTest::Enqueue(NewMessage m) {
  std::promise<std::pair<Status, std::vector<PendingDelivery>>> p;
  auto f = p.get_future();
  queue().Enqueue(std::move(m), [&p](Status s, std::vector<PendingDelivery> d) {
    p.set_value({std::move(s), std::move(d)});
  });
  return f.get();
}

Status DeliveryContractTest::Await(AwaitedAnswer a) {
  std::promise<Status> p;
  auto f = p.get_future();
  queue().Await(std::move(a), [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

void DeliveryContractTest::Sync() {
  std::promise<Status> p;
  auto f = p.get_future();
  queue().Sync([&p](Status s) { p.set_value(std::move(s)); });
  Status s = f.get();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

namespace {

// Evidence of an exchange as the engine hands it over: the request and the answer.
evidence::PreparedRecords AcceptanceEvidence(const std::string& request_id) {
  std::vector<evidence::Record> records(2);
  records[0].at_ms = 1000;
  records[0].request_id = request_id;
  records[0].kind = "push";
  records[0].from = "publisher";
  records[0].to = "bus";
  records[0].code = "BIRTHS";
  records[0].outcome = "ok";
  records[1] = records[0];
  records[1].kind = "response";
  records[1].from = "bus";
  records[1].to = "publisher";
  return evidence::Prepare(records);
}

NewMessage Push(std::string request_id, int subscribers, bool with_evidence = false) {
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
  if (with_evidence) m.evidence = AcceptanceEvidence(m.request_id);
  return m;
}

NewMessage Answer(std::string request_id, int64_t provider, int64_t now,
                  bool with_evidence = false) {
  NewMessage m;
  m.kind = MessageKind::kAsyncAnswer;
  m.request_id = request_id;
  m.source_system_id = provider;
  m.envelope = "{}";
  m.claim = AnswerClaim{request_id, provider, now};
  m.created_at_ms = now;
  if (with_evidence) m.evidence = AcceptanceEvidence(request_id);
  return m;
}

Attempt Tried(int64_t at_ms, std::string outcome, std::string error = "") {
  return Attempt{at_ms, std::move(outcome), error.empty() ? 200 : 0, 100, std::move(error), {}};
}

}  // namespace

TEST_P(DeliveryContractTest, AcceptedMessagesArePendingInOrderAndSurviveARestart) {
  auto [s1, d1] = Enqueue(Push("r1", 3));
  ASSERT_TRUE(s1.ok()) << s1.ToString();
  ASSERT_EQ(d1.size(), 3u);
  EXPECT_EQ(d1[0].lane, "sub:10");
  EXPECT_EQ(d1[0].target_system_id, 100);
  ASSERT_TRUE(d1[0].envelope) << "the envelope is at hand right after acceptance";
  auto [s2, d2] = Enqueue(Push("r2", 1));
  ASSERT_TRUE(s2.ok());

  store_->Reopen();
  auto counts = ops().Count();
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->pending, 4);
  EXPECT_EQ(counts->oldest_pending_created_at_ms, 1000);
  EXPECT_EQ(ops().CountOpen()->pending, 4);

  auto pending = queue().LoadPending(0, 100);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 4u);
  EXPECT_LT((*pending)[0].id, (*pending)[3].id);
  EXPECT_EQ((*pending)[3].request_id, "r2");
  EXPECT_EQ((*pending)[0].code, "BIRTHS");
  auto env = queue().LoadEnvelope((*pending)[0].message_id);
  ASSERT_TRUE(env.ok());
  EXPECT_NE(env->find("BIRTHS"), std::string::npos);

  auto page = queue().LoadPending((*pending)[1].id, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, (*pending)[2].id);
}

TEST_P(DeliveryContractTest, AMessageItsDeliveriesAndItsEvidenceAreDurableTogether) {
  auto [s, d] = Enqueue(Push("together", 2, /*with_evidence=*/true));
  ASSERT_TRUE(s.ok()) << s.ToString();
  store_->Reopen();
  EXPECT_EQ(*store_->EvidenceRecordsOf("together"), 2u);
  EXPECT_EQ(ops().List(DeliveryFilter{})->size(), 2u);
}

TEST_P(DeliveryContractTest, AMessageThatCannotBeStoredLeavesNeitherDeliveriesNorEvidence) {
  ASSERT_TRUE(Enqueue(Push("same", 2, /*with_evidence=*/true)).first.ok());
  // The same request id again: refused, and its evidence is not written either.
  auto [again, none] = Enqueue(Push("same", 3, /*with_evidence=*/true));
  EXPECT_FALSE(again.ok());
  EXPECT_TRUE(none.empty());
  // An answer nobody is owed: refused before anything is written.
  auto [unowed, none2] = Enqueue(Answer("nobody-asked", 9, 3000, /*with_evidence=*/true));
  EXPECT_EQ(unowed.code(), StatusCode::kNotFound);
  EXPECT_TRUE(none2.empty());

  store_->Reopen();
  EXPECT_EQ(ops().Count()->pending, 2);
  EXPECT_EQ(*store_->EvidenceRecordsOf("same"), 2u) << "the first acceptance's only";
  EXPECT_EQ(*store_->EvidenceRecordsOf("nobody-asked"), 0u);
}

TEST_P(DeliveryContractTest, OutcomesAreRecordedWithEveryAttemptAndItsEvidence) {
  auto [s, d] = Enqueue(Push("r1", 2));
  ASSERT_TRUE(s.ok());
  queue().Nack(d[0].id, Tried(2000, "unreachable", "connection refused"), 5000);
  Attempt ok = Tried(6000, "ok");
  ok.evidence.resize(1);
  ok.evidence[0].at_ms = 6000;
  ok.evidence[0].request_id = "r1";
  ok.evidence[0].kind = "attempt";
  ok.evidence[0].from = "bus";
  ok.evidence[0].to = "subscriber";
  ok.evidence[0].outcome = "ok";
  queue().Ack(d[0].id, ok);
  queue().Nack(d[1].id, Tried(2000, "bad_signature", "bad"), 3000);
  queue().DeadLetter(d[1].id, Tried(3000, "bad_signature", "still bad"));
  Sync();

  EXPECT_EQ(*store_->EvidenceRecordsOf("r1"), 1u) << "the attempt's evidence, with its outcome";
  auto counts = ops().Count();
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->delivered, 1);
  EXPECT_EQ(counts->dead, 1);
  auto open = ops().CountOpen();
  EXPECT_EQ(open->pending, 0);
  EXPECT_EQ(open->dead, 1);
  EXPECT_EQ(open->delivered, 0) << "CountOpen does not count the history";

  DeliveryFilter dead_filter;
  dead_filter.state = DeliveryState::kDead;
  auto dead = ops().List(dead_filter);
  ASSERT_TRUE(dead.ok()) << dead.status().message();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, d[1].id);
  EXPECT_EQ((*dead)[0].attempts, 2);
  EXPECT_EQ((*dead)[0].last_error, "still bad");
  EXPECT_EQ((*dead)[0].code, "BIRTHS");

  auto attempts = ops().Attempts(d[0].id);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0].outcome, "unreachable");
  EXPECT_EQ((*attempts)[0].error, "connection refused");
  EXPECT_EQ((*attempts)[1].outcome, "ok");
  EXPECT_EQ((*attempts)[1].latency_us, 100);
  EXPECT_TRUE(ops().Attempts(999'999)->empty());

  // A late outcome for a settled delivery changes nothing.
  queue().Nack(d[0].id, Tried(7000, "timeout", "late"), 8000);
  Sync();
  EXPECT_EQ(ops().Count()->delivered, 1);
  EXPECT_EQ(ops().Attempts(d[0].id)->size(), 2u);
}

TEST_P(DeliveryContractTest, RedeliverPutsDeadBackAndBumpsTheGeneration) {
  auto [s, d] = Enqueue(Push("r1", 2));
  ASSERT_TRUE(s.ok());
  queue().DeadLetter(d[0].id, Tried(2000, "refused", "no"));
  queue().DeadLetter(d[1].id, Tried(2000, "refused", "no"));
  Sync();
  auto gen0 = queue().RedeliverGeneration();
  ASSERT_TRUE(gen0.ok());

  EXPECT_EQ(ops().Redeliver(999999, 3000).code(), StatusCode::kNotFound);
  ASSERT_TRUE(ops().Redeliver(d[0].id, 3000).ok());
  EXPECT_EQ(ops().Redeliver(d[0].id, 3000).code(), StatusCode::kFailedPrecondition)
      << "already pending";
  EXPECT_GT(*queue().RedeliverGeneration(), *gen0);
  auto pending = queue().LoadPending(0, 10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].attempts, 0) << "a fresh attempt budget";

  auto n = ops().RedeliverAllDead("OTHER", 3000);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  n = ops().RedeliverAllDead("", 3000);
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(ops().Count()->pending, 2);
  // History is kept across redelivery.
  queue().Ack(d[0].id, Tried(4000, "ok"));
  Sync();
  EXPECT_EQ(ops().Attempts(d[0].id)->size(), 2u);
}

TEST_P(DeliveryContractTest, AsyncAnswersMustBeOwedAndAreTakenOnce) {
  AwaitedAnswer a{"req1", "LANDREG", /*consumer*/ 7, /*provider*/ 9, 1000, 50'000};
  ASSERT_TRUE(Await(a).ok());
  ASSERT_TRUE(Await(AwaitedAnswer{"req2", "LANDREG", 7, 9, 1000, 50'000}).ok());
  ASSERT_TRUE(Await(AwaitedAnswer{"req3", "LANDREG", 7, 9, 1000, 2'000}).ok());
  EXPECT_FALSE(Await(a).ok()) << "one awaited answer per requestId";

  auto [wrong, none] = Enqueue(Answer("req1", /*provider*/ 8, 3000));
  EXPECT_EQ(wrong.code(), StatusCode::kNotFound) << "only the provider it went to may answer";
  EXPECT_EQ(Enqueue(Answer("nope", 9, 3000)).first.code(), StatusCode::kNotFound);

  auto [ok, created] = Enqueue(Answer("req1", 9, 3000));
  ASSERT_TRUE(ok.ok()) << ok.message();
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].target_system_id, 7) << "delivered to the consumer";
  EXPECT_EQ(created[0].lane, "cb:7");
  EXPECT_EQ(created[0].code, "LANDREG");
  EXPECT_EQ(created[0].kind, MessageKind::kAsyncAnswer);

  auto [twice, none2] = Enqueue(Answer("req1", 9, 3100));
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(twice.message().find("already been answered"), std::string::npos);

  auto [late, none3] = Enqueue(Answer("req3", 9, 3000));
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(late.message().find("too late"), std::string::npos);

  queue().CancelAwait("req2");
  Sync();
  auto [cancelled, none4] = Enqueue(Answer("req2", 9, 3000));
  EXPECT_EQ(cancelled.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ops().Count()->pending, 1) << "rejected answers store nothing";

  // What is owed survives a restart.
  ASSERT_TRUE(Await(AwaitedAnswer{"req4", "LANDREG", 7, 9, 1000, 50'000}).ok());
  store_->Reopen();
  EXPECT_TRUE(Enqueue(Answer("req4", 9, 3000)).first.ok());
}

TEST_P(DeliveryContractTest, PruneForgetsOnlyWhatIsSettledAndOld) {
  auto [s1, old] = Enqueue(Push("old", 3));  // created at 1000
  ASSERT_TRUE(s1.ok());
  queue().Ack(old[0].id, Tried(2000, "ok"));
  queue().DeadLetter(old[1].id, Tried(2000, "refused", "no"));
  // old[2] stays pending.
  NewMessage fresh = Push("fresh", 1);
  fresh.created_at_ms = 9000;
  auto [s2, created] = Enqueue(std::move(fresh));
  ASSERT_TRUE(s2.ok());
  queue().Ack(created[0].id, Tried(9500, "ok"));
  ASSERT_TRUE(Await(AwaitedAnswer{"answered", "LANDREG", 7, 9, 1000, 50'000}).ok());
  ASSERT_TRUE(Await(AwaitedAnswer{"waiting", "LANDREG", 7, 9, 1000, 50'000}).ok());
  queue().CancelAwait("answered");
  queue().Prune(5000);
  Sync();

  auto all = ops().List(DeliveryFilter{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u) << "the old delivered one is gone; dead, pending and new stay";
  EXPECT_EQ((*all)[0].state, DeliveryState::kDead);
  EXPECT_EQ((*all)[1].state, DeliveryState::kPending);
  EXPECT_EQ((*all)[2].request_id, "fresh");
  EXPECT_TRUE(ops().Attempts(old[0].id)->empty());
  EXPECT_TRUE(queue().LoadEnvelope(old[0].message_id).ok()) << "still needed by the others";
  EXPECT_TRUE(Enqueue(Answer("waiting", 9, 3000)).first.ok()) << "an answer still owed is kept";
}

TEST_P(DeliveryContractTest, ListingsAndCountsOfOneInstitutionSeeOnlyItsSystems) {
  auto rita = store_->AddSystem("RITA");
  auto moh = store_->AddSystem("MOH");
  ASSERT_TRUE(rita.ok() && moh.ok()) << rita.status().ToString() << moh.status().ToString();
  NewMessage m = Push("r1", 0);
  m.recipients = {Recipient{"sub:1", 1, *rita}, Recipient{"sub:2", 2, *moh},
                  Recipient{"sub:3", 3, *moh}};
  auto [s, d] = Enqueue(std::move(m));
  ASSERT_TRUE(s.ok()) << s.ToString();
  queue().DeadLetter(d[2].id, Tried(2000, "refused", "no"));
  Sync();

  DeliveryFilter of_moh;
  of_moh.recipient_institution = "MOH";
  auto listed = ops().List(of_moh);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].target_system_id, *moh);
  EXPECT_FALSE((*listed)[0].target_client_id.empty()) << "named by the system's client id";
  auto counts = ops().CountOpen("MOH");
  EXPECT_EQ(counts->pending, 1);
  EXPECT_EQ(counts->dead, 1);
  EXPECT_EQ(ops().CountOpen("RITA")->pending, 1);
  EXPECT_EQ(ops().CountOpen("RITA")->dead, 0);
  EXPECT_EQ(ops().CountOpen("NOSUCH")->pending, 0);
  auto dead_by_system = ops().CountDeadBySystem();
  ASSERT_TRUE(dead_by_system.ok()) << dead_by_system.status().ToString();
  ASSERT_EQ(dead_by_system->size(), 1u) << "RITA's system has none and is left out";
  EXPECT_EQ((*dead_by_system)[0].first, (*listed)[0].target_client_id);
  EXPECT_EQ((*dead_by_system)[0].second, 1);
  of_moh.recipient_institution = "NOSUCH";
  EXPECT_TRUE(ops().List(of_moh)->empty());
}

TEST_P(DeliveryContractTest, SyncWaitsForEveryOutcomeSubmittedBeforeIt) {
  auto [s, d] = Enqueue(Push("r1", 50));
  ASSERT_TRUE(s.ok());
  for (const PendingDelivery& p : d) queue().Ack(p.id, Tried(2000, "ok"));
  Sync();
  EXPECT_EQ(ops().Count()->delivered, 50);
}

}  // namespace govesb::delivery::testing
