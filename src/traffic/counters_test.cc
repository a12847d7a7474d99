#include "traffic/counters.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace govesb::traffic {
namespace {

constexpr int64_t kT0 = 1'700'000'040'000;  // a minute boundary (28'333'334 * 60'000)

Observation Obs(int64_t at_ms, std::string_view code, std::string_view consumer,
                std::string_view provider, Outcome outcome = Outcome::kSuccess,
                int64_t bus_us = 100, int64_t provider_us = 900) {
  Observation o;
  o.at_ms = at_ms;
  o.code = code;
  o.consumer = consumer;
  o.provider = provider;
  o.outcome = outcome;
  o.bus_us = bus_us;
  o.provider_us = provider_us;
  o.request_bytes = 10;
  o.response_bytes = 20;
  return o;
}

const MinuteRow* Find(const std::vector<MinuteRow>& rows, int64_t minute, std::string_view code,
                      std::string_view consumer = "C1") {
  for (const MinuteRow& r : rows) {
    if (r.minute == minute && r.code == code && r.consumer == consumer) return &r;
  }
  return nullptr;
}

TEST(OutcomeOf, MapsStatusCodesByPhase) {
  EXPECT_EQ(OutcomeOf(StatusCode::kOk, Phase::kProvider), Outcome::kSuccess);
  EXPECT_EQ(OutcomeOf(StatusCode::kUnauthenticated, Phase::kChecks), Outcome::kRefusedAuth);
  EXPECT_EQ(OutcomeOf(StatusCode::kBadSignature, Phase::kChecks), Outcome::kRefusedAuth);
  EXPECT_EQ(OutcomeOf(StatusCode::kBadSignature, Phase::kProvider), Outcome::kProviderFailure);
  EXPECT_EQ(OutcomeOf(StatusCode::kResourceExhausted, Phase::kChecks), Outcome::kRefusedLimit);
  EXPECT_EQ(OutcomeOf(StatusCode::kNotFound, Phase::kChecks), Outcome::kRefusedInvalid);
  EXPECT_EQ(OutcomeOf(StatusCode::kNotFound, Phase::kStoring), Outcome::kRefusedInvalid);
  EXPECT_EQ(OutcomeOf(StatusCode::kUnavailable, Phase::kChecks), Outcome::kRefusedOther);
  EXPECT_EQ(OutcomeOf(StatusCode::kUnavailable, Phase::kStoring), Outcome::kBusFailure);
  EXPECT_EQ(OutcomeOf(StatusCode::kUnavailable, Phase::kProvider), Outcome::kProviderFailure);
  EXPECT_EQ(OutcomeOf(StatusCode::kDeadlineExceeded, Phase::kProvider), Outcome::kProviderTimeout);
  EXPECT_EQ(OutcomeOf(StatusCode::kFailedPrecondition, Phase::kProvider),
            Outcome::kProviderDeclined);
  EXPECT_EQ(OutcomeOf(StatusCode::kInternal, Phase::kChecks), Outcome::kBusFailure);
  EXPECT_FALSE(IsError(Outcome::kProviderDeclined));
  EXPECT_TRUE(IsError(Outcome::kProviderTimeout));
}

TEST(TrafficCounters, CountsPerMinuteAndKey) {
  SimulatedClock clock(kT0);
  TrafficCounters counters(clock);
  const int64_t m = kT0 / 60'000;
  counters.Record(Obs(kT0 + 1, "API1", "C1", "P1"));
  counters.Record(Obs(kT0 + 59'999, "API1", "C1", "P1", Outcome::kProviderTimeout, 50, 2'000'000));
  counters.Record(Obs(kT0 + 60'000, "API1", "C1", "P1"));  // the next minute
  counters.Record(Obs(kT0 + 5, "API2", "C1", "P1"));
  Observation push = Obs(kT0 + 5, "API1", "C1", "");
  push.kind = Kind::kPush;  // same code, another kind: another key
  counters.Record(push);

  std::vector<MinuteRow> rows = counters.Take();
  ASSERT_EQ(rows.size(), 4u);
  const MinuteRow* first = nullptr;
  for (const MinuteRow& r : rows) {
    if (r.minute == m && r.code == "API1" && r.kind == Kind::kPull) first = &r;
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->provider, "P1");
  EXPECT_EQ(first->counts.requests(), 2u);
  EXPECT_EQ(first->counts.errors(), 1u);
  EXPECT_EQ(first->counts.by_outcome[static_cast<int>(Outcome::kProviderTimeout)], 1u);
  EXPECT_EQ(first->counts.request_bytes, 20u);
  EXPECT_EQ(first->counts.response_bytes, 40u);
  EXPECT_EQ(first->counts.bus_us_sum, 150u);
  EXPECT_EQ(first->counts.provider_us_sum, 2'000'900u);
  EXPECT_EQ(first->counts.latency.Quantile(1.0),
            LatencyHistogram::Midpoint(LatencyHistogram::BucketOf(2'000'050)));
  EXPECT_EQ(first->counts.bus.Quantile(0.0), 50);
  ASSERT_NE(Find(rows, m + 1, "API1"), nullptr);
  EXPECT_EQ(Find(rows, m + 1, "API1")->counts.requests(), 1u);
  ASSERT_NE(Find(rows, m, "API2"), nullptr);

  EXPECT_TRUE(counters.Take().empty());  // taken means gone
}

TEST(TrafficCounters, ThreadsCountIntoTheirShardsAndTakeMergesThem) {
  SimulatedClock clock(kT0);
  TrafficCounters counters(clock);
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) counters.Record(Obs(kT0 + i, "API1", "C1", "P1"));
    });
  }
  // Takes while they record: nothing is lost or counted twice.
  uint64_t total = 0;
  for (int i = 0; i < 20; ++i) {
    for (const MinuteRow& r : counters.Take()) total += r.counts.requests();
  }
  for (auto& t : threads) t.join();
  std::vector<MinuteRow> rest = counters.Take();
  for (const MinuteRow& r : rest) total += r.counts.requests();
  EXPECT_EQ(total, uint64_t{kThreads} * kEach);
  EXPECT_LE(rest.size(), 1u);  // one key: merged across shards
}

TEST(TrafficCounters, KeysOverTheCapGoToTheOverflowKey) {
  SimulatedClock clock(kT0);
  TrafficOptions options;
  options.max_keys = 3;
  TrafficCounters counters(clock, options);
  for (int i = 0; i < 10; ++i) {
    std::string consumer = "C" + std::to_string(i);
    counters.Record(Obs(kT0, "API1", consumer, "P1"));
    counters.Record(Obs(kT0, "API1", consumer, "P1"));
  }
  EXPECT_EQ(counters.overflowed(), 14u);
  std::vector<MinuteRow> rows = counters.Take();
  ASSERT_EQ(rows.size(), 4u);
  const MinuteRow* other = Find(rows, kT0 / 60'000, kOverflowCode, "");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->counts.requests(), 14u);
  EXPECT_EQ(Find(rows, kT0 / 60'000, "API1", "C0")->counts.requests(), 2u);

  // Taking frees the cap for the next interval.
  counters.Record(Obs(kT0, "API1", "C9", "P1"));
  rows = counters.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].consumer, "C9");
}

TEST(TrafficCounters, RestorePutsTakenRowsBack) {
  SimulatedClock clock(kT0);
  TrafficCounters counters(clock);
  counters.Record(Obs(kT0, "API1", "C1", "P1"));
  std::vector<MinuteRow> taken = counters.Take();
  counters.Record(Obs(kT0, "API1", "C1", "P1"));
  counters.Restore(std::move(taken));
  std::vector<MinuteRow> rows = counters.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].counts.requests(), 2u);
  EXPECT_EQ(rows[0].counts.latency.count(), 2u);
}

}  // namespace
}  // namespace govesb::traffic
