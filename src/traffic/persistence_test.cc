// The counters through the database: flushes, restarts, retention, and the queries over them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/temp_dir.h"
#include "store/database.h"
#include "store/database_testing.h"
#include "traffic/counters.h"
#include "traffic/query.h"

namespace govesb::traffic {
namespace {

constexpr int64_t kT0 = 1'700'000'040'000;  // a minute boundary
constexpr int64_t kMin = 60'000;

Observation Obs(int64_t at_ms, std::string_view code, std::string_view consumer,
                std::string_view provider, Outcome outcome = Outcome::kSuccess,
                int64_t latency_us = 1000) {
  Observation o;
  o.at_ms = at_ms;
  o.code = code;
  o.consumer = consumer;
  o.provider = provider;
  o.outcome = outcome;
  o.bus_us = latency_us / 10;
  o.provider_us = latency_us - o.bus_us;
  o.request_bytes = 100;
  o.response_bytes = 300;
  return o;
}

uint64_t TotalRequests(const TrafficCounters& counters) {
  uint64_t n = 0;
  for (const KeyTotals& t : counters.Totals()) n += t.counts.requests();
  return n;
}

// On both backends: a file of its own (SQLite) or a database of its own (PostgreSQL).
class TrafficStoreTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    location_ = store::testing::NewDatabase(GetParam(), dir_, "bus.db");
    Reopen();
  }

  bool pg() const { return GetParam() == store::Backend::kPostgres; }

  // A new connection to the test's database, migrated.
  std::unique_ptr<store::Database> Connect() {
    std::unique_ptr<store::Database> db = store::testing::Connect(GetParam(), location_);
    EXPECT_TRUE(MigrateTrafficStore(*db).ok());
    return db;
  }

  void Reopen() {
    db_.reset();
    db_ = Connect();
  }

  // Requests per minute from kT0 for `minutes` minutes, every code and system.
  std::vector<uint64_t> PerMinute(int minutes, const std::string& code = "") {
    SeriesFilter f;
    f.from_ms = kT0;
    f.to_ms = kT0 + minutes * kMin;
    f.code = code;
    auto points = Series(*db_, f);
    EXPECT_TRUE(points.ok()) << points.status().ToString();
    std::vector<uint64_t> out;
    if (points.ok()) {
      for (const Point& p : *points) out.push_back(p.figures.requests);
    }
    return out;
  }

  TempDir dir_;
  std::string location_;
  SimulatedClock clock_{kT0};
  std::unique_ptr<store::Database> db_;
};

INSTANTIATE_TEST_SUITE_P(Backends, TrafficStoreTest, store::testing::BothBackends(),
                         store::testing::BackendName);

TEST_P(TrafficStoreTest, FlushTwiceDoesNotCountTwice) {
  TrafficCounters counters(clock_);
  counters.Record(Obs(kT0, "API1", "C1", "P1"));
  counters.Record(Obs(kT0 + kMin, "API1", "C1", "P1"));
  ASSERT_TRUE(counters.Flush(*db_).ok());
  ASSERT_TRUE(counters.Flush(*db_).ok());
  EXPECT_EQ(PerMinute(3), (std::vector<uint64_t>{1, 1, 0}));
  // The current minute flushed partially, then again: its rows add up.
  counters.Record(Obs(kT0 + kMin + 5, "API1", "C1", "P1"));
  ASSERT_TRUE(counters.Flush(*db_).ok());
  EXPECT_EQ(PerMinute(3), (std::vector<uint64_t>{1, 2, 0}));
}

TEST_P(TrafficStoreTest, RestartKeepsHistory) {
  {
    TrafficCounters counters(clock_);
    counters.Record(Obs(kT0, "API1", "C1", "P1", Outcome::kSuccess, 1000));
    counters.Record(Obs(kT0, "API1", "C1", "P1", Outcome::kSuccess, 1000));
    ASSERT_TRUE(counters.Flush(*db_).ok());
  }
  Reopen();  // a new process: a new connection, new counters, the same minute
  TrafficCounters counters(clock_);
  counters.Record(Obs(kT0 + 10, "API1", "C1", "P1", Outcome::kProviderFailure, 100'000));
  ASSERT_TRUE(counters.Flush(*db_).ok());
  SeriesFilter f;
  f.from_ms = kT0;
  f.to_ms = kT0 + kMin;
  auto points = Series(*db_, f);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 1u);
  const Figures& fig = (*points)[0].figures;
  EXPECT_EQ(fig.requests, 3u);
  EXPECT_EQ(fig.errors, 1u);
  EXPECT_EQ(fig.by_outcome[static_cast<int>(Outcome::kProviderFailure)], 1u);
  EXPECT_NEAR(fig.p50_us, 1000, 1000 * 0.0625);  // histograms merged across the restart
  EXPECT_NEAR(fig.p99_us, 100'000, 100'000 * 0.0625);
  EXPECT_EQ(fig.request_bytes, 300u);
  EXPECT_EQ(fig.response_bytes, 900u);
}

TEST_P(TrafficStoreTest, AFailedFlushCommitsNothingAndKeepsTheCountsForTheNext) {
  TrafficCounters counters(clock_);
  counters.Record(Obs(kT0, "API1", "C1", "P1"));
  counters.Record(Obs(kT0, "BAD", "C1", "P1"));
  // The second row's write fails after the first was written in the same transaction.
  ASSERT_TRUE(db_->Exec(pg() ? "ALTER TABLE traffic_minutes ADD CONSTRAINT refuse"
                               " CHECK (code <> 'BAD')"
                             : "CREATE TRIGGER refuse BEFORE INSERT ON traffic_minutes "
                               "WHEN NEW.code = 'BAD' BEGIN SELECT RAISE(ABORT, 'refused'); END")
                  .ok());
  EXPECT_FALSE(counters.Flush(*db_).ok());
  EXPECT_EQ(PerMinute(1), (std::vector<uint64_t>{0}));
  ASSERT_TRUE(
      db_->Exec(pg() ? "ALTER TABLE traffic_minutes DROP CONSTRAINT refuse" : "DROP TRIGGER refuse")
          .ok());
  EXPECT_EQ(TotalRequests(counters), 2u) << "the failed flush took nothing from the totals";
  counters.Record(Obs(kT0, "API1", "C1", "P1"));
  ASSERT_TRUE(counters.Flush(*db_).ok());
  EXPECT_EQ(PerMinute(1, "API1"), (std::vector<uint64_t>{2}));
  EXPECT_EQ(PerMinute(1, "BAD"), (std::vector<uint64_t>{1}));
  EXPECT_EQ(TotalRequests(counters), 3u);
}

// What /metrics shows: counts since start, never going back while flushes move them from
// memory to the database (a scrape during a flush included).
TEST_P(TrafficStoreTest, TotalsSinceStartOnlyGrowWhileFlushesRun) {
  TrafficCounters counters(clock_);
  std::atomic<uint64_t> recorded{0};
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    uint64_t last = 0;
    while (!done.load()) {
      const uint64_t before = recorded.load();
      const uint64_t seen = TotalRequests(counters);
      EXPECT_GE(seen, last) << "a counter went back";
      EXPECT_GE(seen, before) << "an exchange recorded before the scrape is missing";
      last = seen;
    }
  });
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 10; ++i) {
      counters.Record(Obs(kT0 + round * 1000, i % 2 ? "API1" : "API2", "C1", "P1"));
      recorded.fetch_add(1);
    }
    ASSERT_TRUE(counters.Flush(*db_).ok());
  }
  done.store(true);
  scraper.join();
  const std::vector<KeyTotals> totals = counters.Totals();
  ASSERT_EQ(totals.size(), 2u) << "one key per code, whatever the minute";
  EXPECT_EQ(totals[0].code, "API1");
  EXPECT_EQ(totals[0].counts.requests(), 100u);
  EXPECT_EQ(totals[0].counts.bus.count(), 100u);
  EXPECT_EQ(totals[1].code, "API2");
  EXPECT_EQ(PerMinute(1), (std::vector<uint64_t>{200}));
}

// Cluster mode: nodes flush the same minute and key through connections of their own; each
// adds its own row on PostgreSQL (the node is part of the key), and the queries sum them.
TEST_P(TrafficStoreTest, TwoNodesFlushingTheSameKeysAddUp) {
  std::unique_ptr<store::Database> other = Connect();
  TrafficCounters node_a(clock_, {.node = "node-a"});
  TrafficCounters node_b(clock_, {.node = "node-b"});
  for (int round = 0; round < 3; ++round) {
    node_a.Record(Obs(kT0 + round, "API1", "C1", "P1", Outcome::kSuccess, 1000));
    node_b.Record(Obs(kT0 + round, "API1", "C1", "P1", Outcome::kProviderFailure, 100'000));
    node_b.Record(Obs(kT0 + kMin, "API1", "C1", "P1"));
    ASSERT_TRUE(node_a.Flush(*db_).ok());
    ASSERT_TRUE(node_b.Flush(*other).ok());
  }
  EXPECT_EQ(PerMinute(3), (std::vector<uint64_t>{6, 3, 0}));
  EXPECT_EQ(PerMinute(1, "API1"), (std::vector<uint64_t>{6}));
  SeriesFilter f;
  f.from_ms = kT0;
  f.to_ms = kT0 + kMin;
  auto points = Series(*db_, f);
  ASSERT_TRUE(points.ok()) << points.status().ToString();
  const Figures& fig = (*points)[0].figures;
  EXPECT_EQ(fig.by_outcome[static_cast<int>(Outcome::kSuccess)], 3u);
  EXPECT_EQ(fig.by_outcome[static_cast<int>(Outcome::kProviderFailure)], 3u);
  EXPECT_NEAR(fig.p99_us, 100'000, 100'000 * 0.0625);  // histograms merged over nodes
  auto totals = Totals(*db_, f, GroupBy::kSystem);
  ASSERT_TRUE(totals.ok());
  ASSERT_EQ(totals->size(), 2u);
  EXPECT_EQ((*totals)[0].figures.requests, 6u);
  if (pg()) {
    // One row per node and key: neither node ever wrote the other's row.
    auto rows = db_->Prepare(
        "SELECT node, success + provider_failure FROM traffic_minutes WHERE minute = ? "
        "ORDER BY node");
    ASSERT_TRUE(rows.ok());
    ASSERT_TRUE(rows->Bind(1, kT0 / kMin).ok());
    std::vector<std::pair<std::string, int64_t>> per_node;
    while (*rows->Step()) per_node.emplace_back(rows->ColumnText(0), rows->ColumnInt64(1));
    EXPECT_EQ(per_node,
              (std::vector<std::pair<std::string, int64_t>>{{"node-a", 3}, {"node-b", 3}}));
  }
}

TEST_P(TrafficStoreTest, ANodeIdTooLongIsRefusedAndTheCountsAreKept) {
  TrafficCounters counters(clock_, {.node = std::string(kMaxNodeLength + 1, 'n')});
  counters.Record(Obs(kT0, "API1", "C1", "P1"));
  EXPECT_EQ(counters.Flush(*db_).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PerMinute(1), (std::vector<uint64_t>{0}));
  EXPECT_EQ(counters.Take().size(), 1u);
}

TEST_P(TrafficStoreTest, RowsOlderThanTheRetentionAreDeleted) {
  TrafficOptions options;
  options.retention_days = 8;
  TrafficCounters counters(clock_, options);
  const int64_t day = 24 * 60 * kMin;
  counters.Record(Obs(kT0, "OLD", "C1", "P1"));
  counters.Record(Obs(kT0 + day, "KEPT", "C1", "P1"));
  ASSERT_TRUE(counters.Flush(*db_).ok());
  clock_.Set(kT0 + 8 * day + 5 * kMin);  // OLD is now 8 days and 5 minutes old
  ASSERT_TRUE(counters.Flush(*db_).ok());
  SeriesFilter f;
  f.from_ms = kT0;
  f.to_ms = kT0 + 2 * day;
  f.step_minutes = 1440;
  auto points = Series(*db_, f);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].figures.requests, 0u);
  EXPECT_EQ((*points)[1].figures.requests, 1u);
}

class TrafficQueryTest : public TrafficStoreTest {
 protected:
  void SetUp() override {
    TrafficStoreTest::SetUp();
    TrafficCounters counters(clock_);
    // Minute 0: MOH calls BRTH (RITA) 3 times, one refused for a rate limit.
    for (int i = 0; i < 2; ++i) counters.Record(Obs(kT0 + i, "BRTH", "MOH", "RITA"));
    counters.Record(Obs(kT0 + 2, "BRTH", "MOH", "RITA", Outcome::kRefusedLimit, 50));
    // Minute 1: TRA calls BRTH once; MOH calls TAX (TRA) twice, one declined.
    counters.Record(Obs(kT0 + kMin, "BRTH", "TRA", "RITA"));
    counters.Record(Obs(kT0 + kMin, "TAX", "MOH", "TRA"));
    counters.Record(Obs(kT0 + kMin, "TAX", "MOH", "TRA", Outcome::kProviderDeclined));
    // Minute 7: an unauthenticated request (nothing known).
    counters.Record(Obs(kT0 + 7 * kMin, "", "", "", Outcome::kRefusedAuth, 12));
    ASSERT_TRUE(counters.Flush(*db_).ok());
  }

  SeriesFilter Range(int minutes) {
    SeriesFilter f;
    f.from_ms = kT0;
    f.to_ms = kT0 + minutes * kMin;
    return f;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, TrafficQueryTest, store::testing::BothBackends(),
                         store::testing::BackendName);

TEST_P(TrafficQueryTest, SeriesPerMinuteAndPerStep) {
  EXPECT_EQ(PerMinute(8), (std::vector<uint64_t>{3, 3, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(PerMinute(2, "BRTH"), (std::vector<uint64_t>{3, 1}));
  SeriesFilter f = Range(10);
  f.step_minutes = 5;
  auto points = Series(*db_, f);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].start_ms, kT0);
  EXPECT_EQ((*points)[1].start_ms, kT0 + 5 * kMin);
  EXPECT_EQ((*points)[0].figures.requests, 6u);
  EXPECT_EQ((*points)[0].figures.errors, 1u);  // the declined answer is not an error
  EXPECT_EQ((*points)[0].figures.by_outcome[static_cast<int>(Outcome::kProviderDeclined)], 1u);
  EXPECT_EQ((*points)[1].figures.by_outcome[static_cast<int>(Outcome::kRefusedAuth)], 1u);
  EXPECT_NEAR((*points)[0].figures.p50_us, 1000, 63);
  EXPECT_EQ((*points)[1].figures.p50_us, 12);  // exact below 16 µs
}

TEST_P(TrafficQueryTest, AnInstitutionSeesOnlyExchangesItsSystemsTookPartIn) {
  SeriesFilter f = Range(8);
  f.step_minutes = 8;
  f.systems = {"TRA"};
  auto either = Series(*db_, f);
  ASSERT_TRUE(either.ok());
  EXPECT_EQ((*either)[0].figures.requests, 3u);  // as consumer of BRTH, provider of TAX
  f.role = Role::kConsumer;
  EXPECT_EQ((*Series(*db_, f))[0].figures.requests, 1u);
  f.role = Role::kProvider;
  EXPECT_EQ((*Series(*db_, f))[0].figures.requests, 2u);

  f.role = Role::kEither;
  auto systems = Totals(*db_, f, GroupBy::kSystem);
  ASSERT_TRUE(systems.ok());
  ASSERT_EQ(systems->size(), 1u);  // not RITA or MOH, the other sides
  EXPECT_EQ((*systems)[0].key, "TRA");
  EXPECT_EQ((*systems)[0].figures.requests, 3u);
}

TEST_P(TrafficQueryTest, TotalsPerCodeAndPerSystem) {
  auto codes = Totals(*db_, Range(60), GroupBy::kCode);
  ASSERT_TRUE(codes.ok());
  ASSERT_EQ(codes->size(), 2u);
  EXPECT_EQ((*codes)[0].key, "BRTH");
  EXPECT_EQ((*codes)[0].figures.requests, 4u);
  EXPECT_EQ((*codes)[0].figures.errors, 1u);
  EXPECT_EQ((*codes)[1].key, "TAX");
  EXPECT_EQ((*codes)[1].figures.requests, 2u);

  auto systems = Totals(*db_, Range(60), GroupBy::kSystem, 2);
  ASSERT_TRUE(systems.ok());
  ASSERT_EQ(systems->size(), 2u);
  EXPECT_EQ((*systems)[0].key, "MOH");
  EXPECT_EQ((*systems)[0].figures.requests, 5u);
  EXPECT_EQ((*systems)[1].key, "RITA");
  EXPECT_EQ((*systems)[1].figures.requests, 4u);
}

TEST_P(TrafficQueryTest, BadFiltersAreRefused) {
  SeriesFilter f = Range(10);
  f.to_ms = f.from_ms;
  EXPECT_EQ(Series(*db_, f).status().code(), StatusCode::kInvalidArgument);
  f = Range(10);
  f.step_minutes = 0;
  EXPECT_EQ(Series(*db_, f).status().code(), StatusCode::kInvalidArgument);
  f = Range(60 * 24 * 8);  // 11520 one-minute points
  EXPECT_EQ(Series(*db_, f).status().code(), StatusCode::kInvalidArgument);
  f.step_minutes = 60;
  EXPECT_TRUE(Series(*db_, f).ok());
  f.systems.assign(kMaxSystems + 1, "X");
  EXPECT_EQ(Series(*db_, f).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Totals(*db_, Range(10), GroupBy::kCode, 0).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace govesb::traffic
