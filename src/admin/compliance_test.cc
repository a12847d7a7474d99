// The compliance report through the admin service layer (docs/compliance.md): each rule passed,
// warned on and failed by a system set up for it (one table of cases), the summary figures of a
// known registry and evidence log, the thresholds and their refusals, who may read what, and
// the JSON and CSV forms.
#include "admin/compliance.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "admin/actors_testing.h"
#include "admin/compliance_render.h"
#include "admin/journal.h"
#include "admin/service.h"
#include "base/temp_dir.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "delivery/sqlite_queue.h"
#include "evidence/sqlite_store.h"
#include "evidence/test_records.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::admin {
namespace {

using testing::kAuditor;
using testing::kMohAdmin;
using testing::kOperator;
using testing::kRitaAdmin;

namespace json = boost::json;
using std::chrono::hours;

constexpr auto kDay = hours(24);
constexpr char kContract[] = R"({"type":"object","required":["entryNo"]})";

std::string NewKey(crypto::Curve curve = crypto::Curve::kP256) {
  return crypto::PrivateKey::Generate(curve)->public_key().SpkiBase64();
}

// A bus's data directory as `govesb serve` wires it (the group-commit writer, the evidence log and
// the delivery queue on it), and the admin service reading that evidence log. RITA's system
// "Subject" is set up to pass every rule: an https endpoint, a fresh P-256 key and secret, one
// API with a published contract, and (once Traffic() runs) 100 requests and 100 answers, all
// fine, signed over the exact bytes. MOH's "Peer" is its counterpart.
class ComplianceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    location_ = dir_.path() + "/govesb.db";
    db_ = store::Database::Open(location_).value();
    ASSERT_TRUE(MigrateAll(*db_).ok());
    writer_ = store::GroupCommitWriter::Open(location_).value();
    evidence_ = evidence::SqliteEvidenceStore::Open(location_, *writer_, signer_).value();
    queue_ = delivery::SqliteDeliveryQueue::Open(location_, *writer_).value();
    service_ = std::make_unique<AdminService>(
        *db_, ServiceOptions{
                  .clock = &clock_,
                  .hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); },
                  .evidence = evidence_.get()});
    ASSERT_TRUE(service_->AddInstitution(kOperator, "RITA", "Registration Agency").ok());
    ASSERT_TRUE(service_->AddInstitution(kOperator, "MOH", "Ministry of Health").ok());
    subject_ = Add("RITA", "Subject", NewKey(), "https://rita.example/esb");
    peer_ = Add("MOH", "Peer", NewKey(), "https://moh.example/esb");
    ASSERT_TRUE(service_->AddApi(kOperator, subject_, "BASE01", {}).ok());
    ASSERT_TRUE(service_->SetApiContract(kOperator, "BASE01", {.request_schema = kContract}).ok());
    ASSERT_TRUE(service_->ApproveGrant(kOperator, peer_, "BASE01").ok());
  }

  void TearDown() override {
    service_.reset();
    queue_.reset();
    evidence_.reset();
    if (writer_ != nullptr) writer_->Stop();
  }

 public:
  std::string Add(const std::string& institution, const std::string& name, const std::string& key,
                  const std::string& endpoint) {
    auto added = service_->AddSystem(kOperator, institution, name, key, endpoint);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added->system.client_id : "";
  }

  const registry::System System(const std::string& client_id) {
    return service_->GetSystem(kOperator, client_id).value();
  }

  // Records appended as the engine appends them, durable on return.
  void Append(const std::vector<evidence::Record>& records) {
    std::promise<Status> done;
    evidence_->Append(evidence::Prepare(records), [&](Status s) { done.set_value(std::move(s)); });
    ASSERT_TRUE(done.get_future().get().ok());
  }

  // `n` exchanges `consumer` -> `provider` at `at_ms`: the request (outcome `request_outcome`)
  // and, when it was accepted, the provider's reply (outcome `reply_outcome`).
  void Exchanges(int n, const std::string& consumer, const std::string& provider,
                 const std::string& request_outcome, const std::string& reply_outcome,
                 int64_t at_ms = 0) {
    std::vector<evidence::Record> records;
    AddExchanges(records, n, consumer, provider, request_outcome, reply_outcome, at_ms);
    Append(records);
  }
  void AddExchanges(std::vector<evidence::Record>& records, int n, const std::string& consumer,
                    const std::string& provider, const std::string& request_outcome,
                    const std::string& reply_outcome, int64_t at_ms = 0) {
    if (at_ms == 0) at_ms = clock_.NowMillis() - 1000;
    for (int i = 0; i < n; ++i) {
      const std::string id = "r" + std::to_string(++request_count_);
      records.push_back(
          evidence::Step(at_ms, id, "request", consumer, "bus", "BASE01", "", request_outcome));
      if (request_outcome != "ok") continue;
      records.push_back(evidence::Step(at_ms, id, "delivery", "bus", provider, "BASE01", "", "ok"));
      records.push_back(
          evidence::Step(at_ms, id, "reply", provider, "bus", "BASE01", "", reply_outcome));
      records.push_back(evidence::Step(at_ms, id, "response", "bus", consumer, "BASE01", "",
                                       reply_outcome == "ok" ? "ok" : reply_outcome));
    }
  }

  // The subject's normal traffic: 100 requests of its own and 100 answers, all fine, signed raw.
  void Traffic() {
    Exchanges(100, subject_, peer_, "ok", "ok");
    Exchanges(100, peer_, subject_, "ok", "ok");
    Usage(subject_, "raw", 100);
  }

  void Usage(const std::string& client_id, const std::string& variant, int64_t count) {
    ASSERT_TRUE(service_->registry()
                    .RecordSignatureUsage(
                        {{.system_id = System(client_id).id, .variant = variant, .count = count}})
                    .ok());
  }

  // `n` deliveries of a push to `recipient`'s subscription given up as dead.
  void DeadLetters(int n, const std::string& recipient) {
    if (service_->ListTopics(kOperator)->empty()) {
      ASSERT_TRUE(service_->AddTopic(kOperator, peer_, "NOTICE").ok());
      ASSERT_TRUE(service_->ApproveSubscription(kOperator, recipient, "NOTICE").ok());
    }
    const registry::Subscription sub = service_->ListSubscriptions(kOperator)->front();
    for (int i = 0; i < n; ++i) {
      delivery::NewMessage m;
      m.request_id = "push" + std::to_string(++request_count_);
      m.code = "NOTICE";
      m.source_system_id = System(peer_).id;
      m.envelope = R"({"data":{},"signature":"x"})";
      m.recipients = {
          delivery::Recipient{"sub:" + std::to_string(sub.id), sub.id, sub.subscriber_system_id}};
      m.created_at_ms = clock_.NowMillis();
      const std::vector<evidence::Record> records = {evidence::Step(
          clock_.NowMillis(), m.request_id, "push", peer_, "bus", "NOTICE", "", "ok")};
      m.evidence = evidence::Prepare(records);
      std::promise<std::pair<Status, std::vector<delivery::PendingDelivery>>> done;
      queue_->Enqueue(std::move(m), [&](Status s, std::vector<delivery::PendingDelivery> d) {
        done.set_value({std::move(s), std::move(d)});
      });
      auto [status, deliveries] = done.get_future().get();
      ASSERT_TRUE(status.ok() && deliveries.size() == 1) << status.ToString();
      delivery::Attempt attempt;
      attempt.at_ms = clock_.NowMillis();
      attempt.outcome = "unreachable";
      attempt.error = "connection refused";
      queue_->DeadLetter(deliveries[0].id, std::move(attempt));
    }
    std::promise<Status> synced;
    queue_->Sync([&](Status s) { synced.set_value(std::move(s)); });
    ASSERT_TRUE(synced.get_future().get().ok());
  }

  void Threshold(const std::string& name, const std::string& value) {
    auto set = service_->SetComplianceThreshold(kOperator, name, value);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
  }

  const SystemRating& Rating(const ComplianceReport& report, const std::string& client_id) {
    for (const SystemRating& s : report.systems) {
      if (s.facts.client_id == client_id) return s;
    }
    ADD_FAILURE() << "no rating of " << client_id;
    static const SystemRating none;
    return none;
  }

  store::Database& db() { return *db_; }
  AdminService& service() { return *service_; }
  SimulatedClock& clock() { return clock_; }
  const std::string& subject() const { return subject_; }
  const std::string& peer() const { return peer_; }

 protected:
  TempDir dir_;
  std::string location_;
  SimulatedClock clock_;
  crypto::PrivateKey bus_key_ = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value();
  crypto::LocalSigner signer_{bus_key_};
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<evidence::EvidenceStore> evidence_;
  std::unique_ptr<delivery::DeliveryQueue> queue_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AdminService> service_;
  std::string subject_, peer_;
  int request_count_ = 0;
};

// ---- every rule, passed, warned on and failed ----

struct RuleCase {
  std::string name;
  Rule rule = Rule::kHttpsEndpoint;
  RuleStatus expect = RuleStatus::kPass;
  // Changes the subject's setup before its traffic (ComplianceTest::Traffic) is recorded.
  std::function<void(ComplianceTest&)> before;
  // Adds to its traffic afterwards.
  std::function<void(ComplianceTest&)> after = nullptr;
  bool applies = true;
};

std::string Endpoint(const char* url) { return url; }

const std::vector<RuleCase>& RuleCases() {
  static const std::vector<RuleCase> cases = {
      {"HttpsEverywhere", Rule::kHttpsEndpoint, RuleStatus::kPass, [](ComplianceTest&) {}},
      {"PlainHttpEndpoint", Rule::kHttpsEndpoint, RuleStatus::kFail,
       [](ComplianceTest& t) {
         ASSERT_TRUE(t.service()
                         .UpdateSystem(kOperator, t.subject(),
                                       {.endpoint = Endpoint("http://rita.example/esb")})
                         .ok());
       }},
      {"PlainHttpApiEndpoint", Rule::kHttpsEndpoint, RuleStatus::kFail,
       [](ComplianceTest& t) {
         registry::ApiSettings plain;
         plain.endpoint_override = "http://10.0.0.7:8080/births";
         ASSERT_TRUE(t.service().AddApi(kOperator, t.subject(), "PLAIN1", plain).ok());
         ASSERT_TRUE(
             t.service().SetApiContract(kOperator, "PLAIN1", {.request_schema = kContract}).ok());
       }},
      {"RawSignatures", Rule::kSignatureVariant, RuleStatus::kPass, [](ComplianceTest&) {}},
      {"SomeFallbackSignatures", Rule::kSignatureVariant, RuleStatus::kWarn,
       [](ComplianceTest& t) { t.Usage(t.subject(), "latin1", 10); }},
      {"MostlyFallbackSignatures", Rule::kSignatureVariant, RuleStatus::kFail,
       [](ComplianceTest& t) { t.Usage(t.subject(), "compact", 150); }},
      {"FallbackUsedOnlyBeforeTheWindow", Rule::kSignatureVariant, RuleStatus::kPass,
       [](ComplianceTest& t) {
         t.Usage(t.subject(), "latin1", 500);
         t.clock().Advance(31 * kDay);
         ASSERT_TRUE(t.service().RotateSecret(kOperator, t.subject()).ok());
       }},
      {"KeyOnSecp256k1", Rule::kKeyCurve, RuleStatus::kPass,
       [](ComplianceTest& t) {
         ASSERT_TRUE(t.service()
                         .UpdateSystem(kOperator, t.subject(),
                                       {.public_key = NewKey(crypto::Curve::kSecp256k1)})
                         .ok());
       }},
      {"KeyOnP521", Rule::kKeyCurve, RuleStatus::kPass,
       [](ComplianceTest& t) {
         ASSERT_TRUE(
             t.service()
                 .UpdateSystem(kOperator, t.subject(), {.public_key = NewKey(crypto::Curve::kP521)})
                 .ok());
       }},
      {"StoredKeyNoLongerParses", Rule::kKeyCurve, RuleStatus::kFail,
       [](ComplianceTest& t) {
         ASSERT_TRUE(t.db()
                         .Exec("UPDATE systems SET public_key = 'AAAA' WHERE client_id = '" +
                               t.subject() + "'")
                         .ok());
       }},
      {"KeyOlderThanAYear", Rule::kKeyAge, RuleStatus::kWarn,
       [](ComplianceTest& t) {
         t.clock().Advance(400 * kDay);
         ASSERT_TRUE(t.service().RotateSecret(kOperator, t.subject()).ok());
       }},
      {"KeyOlderThanTwoYears", Rule::kKeyAge, RuleStatus::kFail,
       [](ComplianceTest& t) {
         t.clock().Advance(800 * kDay);
         ASSERT_TRUE(t.service().RotateSecret(kOperator, t.subject()).ok());
       }},
      {"KeyReplacedAfterTwoYears", Rule::kKeyAge, RuleStatus::kPass,
       [](ComplianceTest& t) {
         t.clock().Advance(800 * kDay);
         ASSERT_TRUE(t.service().RotateSecret(kOperator, t.subject()).ok());
         ASSERT_TRUE(
             t.service().UpdateSystem(kOperator, t.subject(), {.public_key = NewKey()}).ok());
       }},
      {"SecretOlderThanHalfAYear", Rule::kSecretAge, RuleStatus::kWarn,
       [](ComplianceTest& t) {
         t.clock().Advance(200 * kDay);
         ASSERT_TRUE(
             t.service().UpdateSystem(kOperator, t.subject(), {.public_key = NewKey()}).ok());
       }},
      {"SecretOlderThanAYear", Rule::kSecretAge, RuleStatus::kFail,
       [](ComplianceTest& t) {
         t.clock().Advance(400 * kDay);
         ASSERT_TRUE(
             t.service().UpdateSystem(kOperator, t.subject(), {.public_key = NewKey()}).ok());
       }},
      {"EveryApiHasAContract", Rule::kApiContracts, RuleStatus::kPass, [](ComplianceTest&) {}},
      {"HalfTheApisWithoutContract", Rule::kApiContracts, RuleStatus::kWarn,
       [](ComplianceTest& t) {
         ASSERT_TRUE(t.service().AddApi(kOperator, t.subject(), "NOSCH1", {}).ok());
       }},
      {"MostApisWithoutContract", Rule::kApiContracts, RuleStatus::kFail,
       [](ComplianceTest& t) {
         ASSERT_TRUE(t.service().AddApi(kOperator, t.subject(), "NOSCH1", {}).ok());
         ASSERT_TRUE(t.service().AddApi(kOperator, t.subject(), "NOSCH2", {}).ok());
       }},
      {"DisabledApiWithoutContractIsNotCounted", Rule::kApiContracts, RuleStatus::kPass,
       [](ComplianceTest& t) {
         ASSERT_TRUE(t.service().AddApi(kOperator, t.subject(), "NOSCH1", {}).ok());
         ASSERT_TRUE(t.service().DisableApi(kOperator, "NOSCH1").ok());
       }},
      {"FewProviderErrors", Rule::kProviderErrors, RuleStatus::kPass, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(1, t.peer(), t.subject(), "ok", "UNAVAILABLE"); }},
      {"BusinessRefusalsAreNotErrors", Rule::kProviderErrors, RuleStatus::kPass,
       [](ComplianceTest&) {},
       [](ComplianceTest& t) {
         t.Exchanges(100, t.peer(), t.subject(), "ok", "FAILED_PRECONDITION");
       }},
      {"SomeProviderErrors", Rule::kProviderErrors, RuleStatus::kWarn, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(3, t.peer(), t.subject(), "ok", "BAD_GATEWAY"); }},
      {"ManyProviderErrors", Rule::kProviderErrors, RuleStatus::kFail, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(10, t.peer(), t.subject(), "ok", "BAD_SIGNATURE"); }},
      {"ErrorsOutsideTheWindowDoNotCount", Rule::kProviderErrors, RuleStatus::kPass,
       [](ComplianceTest&) {},
       [](ComplianceTest& t) {
         t.Exchanges(50, t.peer(), t.subject(), "ok", "UNAVAILABLE",
                     t.clock().NowMillis() - 31 * 24 * 3600 * 1000LL);
       }},
      {"SomeProviderTimeouts", Rule::kProviderTimeouts, RuleStatus::kWarn, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(1, t.peer(), t.subject(), "ok", "DEADLINE_EXCEEDED"); }},
      {"ManyProviderTimeouts", Rule::kProviderTimeouts, RuleStatus::kFail, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(5, t.peer(), t.subject(), "ok", "DEADLINE_EXCEEDED"); }},
      {"FewRefusals", Rule::kConsumerRefusals, RuleStatus::kPass, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(1, t.subject(), t.peer(), "PERMISSION_DENIED", ""); }},
      {"SomeRefusals", Rule::kConsumerRefusals, RuleStatus::kWarn, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(5, t.subject(), t.peer(), "BAD_SIGNATURE", ""); }},
      {"ManyRefusals", Rule::kConsumerRefusals, RuleStatus::kFail, [](ComplianceTest&) {},
       [](ComplianceTest& t) { t.Exchanges(20, t.subject(), t.peer(), "RESOURCE_EXHAUSTED", ""); }},
      {"NoDeadLetters", Rule::kDeadLetters, RuleStatus::kPass,
       [](ComplianceTest& t) { t.DeadLetters(0, t.subject()); }},
      {"ADeadLetter", Rule::kDeadLetters, RuleStatus::kWarn,
       [](ComplianceTest& t) { t.DeadLetters(1, t.subject()); }},
      {"DeadLettersOverTheOperatorsLimit", Rule::kDeadLetters, RuleStatus::kFail,
       [](ComplianceTest& t) {
         t.Threshold("dead_letters_fail", "2");
         t.DeadLetters(3, t.subject());
       }},
  };
  return cases;
}

class ComplianceRuleTest : public ComplianceTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(ComplianceRuleTest, TheSystemIsRatedAsSetUpAndEveryOtherRulePasses) {
  const RuleCase& c = RuleCases()[GetParam()];
  c.before(*this);
  if (HasFatalFailure()) return;
  Traffic();
  if (c.after) c.after(*this);
  auto report = service().Compliance(kOperator);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const SystemRating& rating = Rating(*report, subject());
  ASSERT_EQ(rating.rules.size(), kRuleCount);
  for (const RuleResult& r : rating.rules) {
    const RuleStatus want = r.rule == c.rule ? c.expect : RuleStatus::kPass;
    EXPECT_EQ(RuleStatusName(r.status), RuleStatusName(want))
        << RuleName(r.rule) << ": " << r.value;
  }
  EXPECT_EQ(RuleStatusName(rating.rating), RuleStatusName(c.expect));
  EXPECT_EQ(rating.fully_compliant(), c.expect == RuleStatus::kPass);
  // The institution carries its system's rating and names a failed rule.
  for (const InstitutionRating& i : report->institutions) {
    if (i.code != "RITA") continue;
    ASSERT_TRUE(i.rating.has_value());
    EXPECT_EQ(RuleStatusName(*i.rating), RuleStatusName(c.expect));
    const bool named = std::find(i.failed_rules.begin(), i.failed_rules.end(),
                                 std::string(RuleName(c.rule))) != i.failed_rules.end();
    EXPECT_EQ(named, c.expect == RuleStatus::kFail);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryRule, ComplianceRuleTest,
                         ::testing::Range(size_t{0}, RuleCases().size()),
                         [](const ::testing::TestParamInfo<size_t>& param) {
                           return RuleCases()[param.param].name;
                         });

TEST_F(ComplianceTest, RatesOverTooFewExchangesAreNotRated) {
  Exchanges(5, peer(), subject(), "ok", "UNAVAILABLE");
  auto report = service().Compliance(kOperator);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const RuleResult& errors =
      Rating(*report, subject()).rules[static_cast<size_t>(Rule::kProviderErrors)];
  EXPECT_EQ(errors.status, RuleStatus::kPass);
  EXPECT_FALSE(errors.applies);
  EXPECT_NE(errors.value.find("fewer than 20"), std::string::npos) << errors.value;
  // The operator may rate from the first exchange on.
  Threshold("min_exchanges", "0");
  report = service().Compliance(kOperator);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(Rating(*report, subject()).rules[static_cast<size_t>(Rule::kProviderErrors)].status,
            RuleStatus::kFail);
}

// ---- the summary ----

TEST_F(ComplianceTest, TheSummaryCountsAKnownRegistryAndEvidenceLog) {
  // Institutions: RITA and MOH connected; TRA has only a disabled system; NAO is suspended;
  // ZAN has no system. APIs: BASE01 and EXTRA1 enabled, OFF001 disabled.
  ASSERT_TRUE(service().AddInstitution(kOperator, "TRA", "Revenue Authority").ok());
  ASSERT_TRUE(service().AddInstitution(kOperator, "NAO", "Audit Office").ok());
  ASSERT_TRUE(service().AddInstitution(kOperator, "ZAN", "Zanzibar Registry").ok());
  const std::string tra = Add("TRA", "Tax", NewKey(), "https://tra.example/esb");
  ASSERT_TRUE(service().DisableSystem(kOperator, tra).ok());
  const std::string nao = Add("NAO", "Audit", NewKey(), "http://nao.example/esb");
  ASSERT_TRUE(service().SuspendInstitution(kOperator, "NAO").ok());
  ASSERT_TRUE(service().AddApi(kOperator, peer(), "EXTRA1", {}).ok());
  ASSERT_TRUE(service().AddApi(kOperator, peer(), "OFF001", {}).ok());
  ASSERT_TRUE(service().DisableApi(kOperator, "OFF001").ok());
  // 30 exchanges in the window (20 answered, 10 refused), 7 before it.
  Exchanges(20, subject(), peer(), "ok", "ok");
  Exchanges(10, peer(), subject(), "PERMISSION_DENIED", "");
  Exchanges(7, peer(), subject(), "ok", "ok", clock().NowMillis() - 40 * 24 * 3600 * 1000LL);

  auto report = service().Compliance(kAuditor);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const ComplianceSummary& s = report->summary;
  EXPECT_EQ(s.scope, "national");
  EXPECT_EQ(s.institutions_registered, 5);
  EXPECT_EQ(s.institutions_connected, 2);
  EXPECT_EQ(s.systems_registered, 4);
  EXPECT_EQ(s.systems_enabled, 3);
  EXPECT_EQ(s.apis_published, 2);
  EXPECT_EQ(s.exchanges_in_window, 30);
  EXPECT_NEAR(s.exchanges_per_month, 30, 0.01);
  // Rated: Subject and Peer (TRA's is disabled, NAO's suspended). Peer provides EXTRA1 without a
  // contract (a failure); Subject passes everything (its 20 requests were all answered).
  EXPECT_EQ(s.systems_rated, 2);
  EXPECT_EQ(s.systems_fully_compliant, 1);
  ASSERT_TRUE(s.share_fully_compliant.has_value());
  EXPECT_DOUBLE_EQ(*s.share_fully_compliant, 0.5);
  EXPECT_FALSE(report->partial);
  EXPECT_GE(report->records_read, 20 * 4 + 10);
  ASSERT_EQ(report->systems.size(), 4u);
  EXPECT_EQ(Rating(*report, nao).rules[0].status, RuleStatus::kFail) << "plain http";
  ASSERT_EQ(report->institutions.size(), 5u);
  EXPECT_EQ(report->institutions[4].code, "ZAN");
  EXPECT_FALSE(report->institutions[4].rating.has_value()) << "no system, no rating";

  // One institution's figures.
  auto rita = service().Compliance(kOperator, "RITA");
  ASSERT_TRUE(rita.ok()) << rita.status().ToString();
  EXPECT_EQ(rita->summary.scope, "RITA");
  EXPECT_EQ(rita->summary.institutions_registered, 1);
  EXPECT_EQ(rita->summary.systems_registered, 1);
  EXPECT_EQ(rita->summary.apis_published, 1);
  EXPECT_EQ(rita->summary.exchanges_in_window, 20 + 0) << "its 20 requests; none answered by it";
  ASSERT_EQ(rita->systems.size(), 1u);
  EXPECT_EQ(rita->systems[0].facts.client_id, subject());
}

TEST_F(ComplianceTest, AReadBoundedByMaxRecordsSaysSoAndScalesTheMonth) {
  Threshold("max_records", "1000");
  // 400 exchanges (1600 records) over the last 20 days, one every 72 minutes, oldest first.
  const int64_t now = clock().NowMillis();
  std::vector<evidence::Record> records;
  for (int i = 399; i >= 0; --i) {
    AddExchanges(records, 1, subject(), peer(), "ok", "ok",
                 now - 1000 - int64_t{i} * 72 * 60 * 1000);
  }
  Append(records);
  ASSERT_TRUE(evidence_->IndexCommitted().ok());  // as the bus does every second
  auto report = service().Compliance(kOperator);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->partial);
  EXPECT_EQ(report->records_read, 1000);
  EXPECT_GT(report->covered_from_ms, report->window_from_ms);
  EXPECT_EQ(report->summary.exchanges_in_window, 250);
  // 250 exchanges in the ~12.5 days read: about 600 a month.
  EXPECT_NEAR(report->summary.exchanges_per_month, 600, 10);
}

// ---- thresholds ----

TEST_F(ComplianceTest, ThresholdsAreSetResetAndRecorded) {
  auto defaults = service().GetComplianceThresholds(kRitaAdmin);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->Get(Setting::kKeyAgeWarnDays), 365);
  EXPECT_FALSE(defaults->stored[static_cast<size_t>(Setting::kKeyAgeWarnDays)]);
  const int64_t actions = ListActions(db(), {.limit = 1000})->size();
  Threshold("key_age_warn_days", "90");
  Threshold("provider_error_rate_fail", "0.2");
  auto now = service().GetComplianceThresholds(kAuditor);
  EXPECT_EQ(now->Get(Setting::kKeyAgeWarnDays), 90);
  EXPECT_TRUE(now->stored[static_cast<size_t>(Setting::kKeyAgeWarnDays)]);
  EXPECT_EQ(now->Get(Setting::kProviderErrorRateFail), 0.2);
  auto recorded = ListActions(db(), {.action = "compliance.threshold", .limit = 10});
  ASSERT_EQ(recorded->size(), 2u);
  EXPECT_EQ(static_cast<int64_t>(ListActions(db(), {.limit = 1000})->size()), actions + 2);
  Threshold("key_age_warn_days", "default");
  EXPECT_EQ(service().GetComplianceThresholds(kAuditor)->Get(Setting::kKeyAgeWarnDays), 365);
  EXPECT_EQ(service().registry().ListComplianceSettings()->size(), 1u);
  // The report rates with them: a 100-day-old key warns at 90 days.
  Threshold("key_age_warn_days", "90");
  clock().Advance(100 * kDay);
  auto report = service().Compliance(kOperator, "RITA");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const RuleResult& key_age = report->systems[0].rules[static_cast<size_t>(Rule::kKeyAge)];
  EXPECT_EQ(key_age.status, RuleStatus::kWarn);
  EXPECT_EQ(key_age.warn_above, 90);
  EXPECT_EQ(key_age.measured, 100);
}

TEST_F(ComplianceTest, BadThresholdsAreRefusedAndChangeNothing) {
  Threshold("secret_age_fail_days", "300");
  const auto stored = service().registry().ListComplianceSettings().value();
  const size_t actions = ListActions(db(), {.limit = 1000})->size();
  struct Bad {
    std::string name, value, needle;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"no_such_setting", "1", "unknown compliance setting"},
           {"", "1", "unknown compliance setting"},
           {"key_age_warn_days", "abc", "must be a number"},
           {"key_age_warn_days", "", "must be a number"},
           {"key_age_warn_days", "12x", "must be a number"},
           {"key_age_warn_days", "nan", "must be a number"},
           {"key_age_warn_days", "inf", "must be a number"},
           {"key_age_warn_days", "1e400", "must be a number"},
           {"key_age_warn_days", "-1", "must be from 0 to 36500"},
           {"key_age_warn_days", "40000", "must be from 0 to 36500"},
           {"key_age_warn_days", "10.5", "whole number"},
           {"provider_error_rate_warn", "1.5", "must be from 0 to 1"},
           {"window_days", "0", "must be from 1 to 366"},
           {"max_records", "10", "must be from 1000"},
           // A warn above its fail, either way round.
           {"key_age_warn_days", "800",
            "key_age_warn_days (800) must not be above "
            "key_age_fail_days (730)"},
           {"key_age_fail_days", "100", "must not be above key_age_fail_days (100)"},
           {"secret_age_warn_days", "301", "must not be above secret_age_fail_days (300)"},
       }) {
    auto refused = service().SetComplianceThreshold(kOperator, bad.name, bad.value);
    ASSERT_FALSE(refused.ok()) << bad.name << "=" << bad.value;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad.name;
    EXPECT_NE(refused.status().message().find(bad.needle), std::string::npos)
        << bad.name << "=" << bad.value << ": " << refused.status().message();
  }
  // Only the operator sets them.
  for (const Actor* who : {&kAuditor, &kRitaAdmin}) {
    auto refused = service().SetComplianceThreshold(*who, "window_days", "7");
    EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(service().registry().ListComplianceSettings().value(), stored);
  EXPECT_EQ(ListActions(db(), {.limit = 1000})->size(), actions);
  // "default" goes back to the default.
  Threshold("secret_age_fail_days", "default");
  EXPECT_TRUE(service().registry().ListComplianceSettings()->empty());
}

// ---- who sees what ----

TEST_F(ComplianceTest, InstitutionsSeeTheirOwnAndUnknownInstitutionsAreRefused) {
  auto own = service().Compliance(kRitaAdmin);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->summary.scope, "RITA");
  ASSERT_EQ(own->systems.size(), 1u);
  EXPECT_EQ(own->systems[0].facts.institution_code, "RITA");
  EXPECT_TRUE(service().Compliance(kRitaAdmin, "RITA").ok());
  EXPECT_EQ(service().Compliance(kRitaAdmin, "MOH").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(service().Compliance(kRitaAdmin, "NOSUCH").status().code(),
            StatusCode::kPermissionDenied);
  auto all = service().Compliance(kAuditor);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->systems.size(), 2u);
  auto unknown = service().Compliance(kOperator, "NOSUCH");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("institution 'NOSUCH' not found"), std::string::npos);
  EXPECT_EQ(service().Compliance(Actor::Applicant("x@y.tz", "10.0.0.1")).status().code(),
            StatusCode::kPermissionDenied);
}

// ---- forms ----

// RFC 4180 fields of each line (quoted fields may hold commas, quotes and line breaks).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "an unterminated quoted field";
  if (rows.back().empty() && field.empty()) rows.pop_back();
  return rows;
}

TEST_F(ComplianceTest, TheJsonAndCsvFormsParse) {
  ASSERT_TRUE(
      service().UpdateSystem(kOperator, peer(), {.name = std::string("Records, \"main\"")}).ok());
  ASSERT_TRUE(service()
                  .UpdateSystem(kOperator, subject(), {.endpoint = std::string("http://x.example")})
                  .ok());
  Traffic();
  auto report = service().Compliance(kOperator);
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  json::value doc = json::parse(json::serialize(ToJson(*report)));
  ASSERT_EQ(doc.at("systems").as_array().size(), 2u);
  const json::object& first = doc.at("systems").at(1).as_object();  // RITA's after MOH's
  EXPECT_EQ(first.at("client_id").as_string(), subject());
  EXPECT_EQ(first.at("rating").as_string(), "fail");
  EXPECT_EQ(first.at("rules").as_array().size(), kRuleCount);
  EXPECT_EQ(first.at("rules").at(0).at("rule").as_string(), "https-endpoint");
  EXPECT_EQ(first.at("rules").at(0).at("status").as_string(), "fail");
  EXPECT_EQ(doc.at("summary").at("systems_registered").as_int64(), 2);
  EXPECT_EQ(doc.at("institutions").as_array().size(), 2u);
  EXPECT_EQ(doc.at("thresholds").as_array().size(), kSettingCount);

  const auto rows = ParseCsv(ComplianceCsv(*report));
  ASSERT_EQ(rows.size(), 1 + 2 * kRuleCount);
  EXPECT_EQ(rows[0][0], "institution");
  EXPECT_EQ(rows[0][11], "value");
  for (const auto& row : rows) ASSERT_EQ(row.size(), 12u);
  EXPECT_EQ(rows[1][2], "Records, \"main\"") << "quoted and read back";
  EXPECT_EQ(rows[1 + kRuleCount][1], subject());
  EXPECT_EQ(rows[1 + kRuleCount][5], "https-endpoint");
  EXPECT_EQ(rows[1 + kRuleCount][6], "fail");

  const std::string text = ComplianceText(*report);
  EXPECT_NE(text.find("fail  RITA  Subject  " + subject() + "  failed: https-endpoint"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fully compliant systems: 1 of 2 (50.0%)"), std::string::npos) << text;
}

}  // namespace
}  // namespace govesb::admin
