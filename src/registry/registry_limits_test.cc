#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "registry/registry_testing.h"

// Rate limits, signature fallbacks, replay policy and signature usage (migration 5).
namespace govesb::registry {
namespace {

using testing::DumpTables;
using testing::RegistryOnBoth;

// ---- hardening settings: rate limits, signature fallbacks, replay policy ----

// RegistryOnBoth is instantiated (for every file of this binary) in registry_test.cc.

TEST_P(RegistryOnBoth, SystemRateLimitIsSetAndReadBack) {
  AddFixtures();
  EXPECT_EQ(consumer_.rate_per_second, kRateDefault);
  EXPECT_EQ(consumer_.rate_burst, kRateDefault);
  clock_.Advance(std::chrono::seconds(5));
  auto set =
      registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = 2.5, .burst = 10});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->rate_per_second, 2.5);
  EXPECT_EQ(set->rate_burst, 10);
  EXPECT_EQ(set->updated_at, clock_.NowMillis());
  EXPECT_EQ(set->credential_version, consumer_.credential_version) << "no token is revoked";

  // Only the burst: the rate stays.
  set = registry_.SetSystemRateLimit(consumer_.client_id, {.burst = 1000000});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->rate_per_second, 2.5);
  EXPECT_EQ(set->rate_burst, 1e6);

  // Unlimited, the smallest and largest rates, a rate that is not a short decimal, the default.
  for (double rate : {kRateUnlimited, kMinRatePerSecond, kMaxRatePerSecond, 0.1, 1.0 / 3}) {
    ASSERT_TRUE(registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = rate}).ok());
    auto read = registry_.GetSystem(consumer_.client_id);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_NEAR(read->rate_per_second, rate, 1e-14) << rate;
  }
  ASSERT_TRUE(
      registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = 0, .burst = 0}).ok());
  auto read = registry_.GetSystem(consumer_.client_id);
  EXPECT_EQ(read->rate_per_second, kRateDefault);
  EXPECT_EQ(read->rate_burst, kRateDefault);
  // The other system is untouched.
  EXPECT_EQ(registry_.GetSystem(provider_.client_id)->rate_per_second, kRateDefault);
}

TEST_P(RegistryOnBoth, BadRateLimitsChangeNothing) {
  AddFixtures();
  ASSERT_TRUE(registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = 3}).ok());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double rate : {nan, inf, -inf, -0.5, -2.0, 0.0001, 1e6 + 1, 1e300}) {
    EXPECT_REJECTED(registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = rate}),
                    StatusCode::kInvalidArgument, "rate");
    EXPECT_REJECTED(registry_.SetApiRateLimit("GETUSR", {.rate_per_second = rate, .burst = 5}),
                    StatusCode::kInvalidArgument, "rate");
  }
  for (double burst : {nan, inf, -1.0, 0.5, 2e6}) {
    EXPECT_REJECTED(
        registry_.SetSystemRateLimit(consumer_.client_id, {.rate_per_second = 1, .burst = burst}),
        StatusCode::kInvalidArgument, "burst");
    EXPECT_REJECTED(registry_.SetApiRateLimit("GETUSR", {.burst = burst}),
                    StatusCode::kInvalidArgument, "burst");
  }
  EXPECT_REJECTED(registry_.SetSystemRateLimit(consumer_.client_id, {}),
                  StatusCode::kInvalidArgument, "nothing to change");
  EXPECT_REJECTED(registry_.SetSystemRateLimit("no-such-system", {.rate_per_second = 1}),
                  StatusCode::kNotFound, "'no-such-system'");
  EXPECT_REJECTED(registry_.SetApiRateLimit("NOSUCH", {.rate_per_second = 1}),
                  StatusCode::kNotFound, "'NOSUCH'");
  EXPECT_EQ(registry_.GetSystem(consumer_.client_id)->rate_per_second, 3);
}

TEST_P(RegistryOnBoth, TheSchemaRefusesOutOfRangeLimitsWrittenBehindTheRegistrysBack) {
  AddFixtures();
  EXPECT_FALSE(db_->Exec("UPDATE systems SET rate_per_second = 2000000").ok());
  EXPECT_FALSE(db_->Exec("UPDATE systems SET rate_per_second = -0.5").ok());
  EXPECT_FALSE(db_->Exec("UPDATE systems SET rate_per_second = 'fast'").ok());
  EXPECT_FALSE(db_->Exec("UPDATE apis SET rate_burst = 0.5").ok());
  EXPECT_FALSE(db_->Exec("UPDATE apis SET replay_policy = 'drop'").ok());
  EXPECT_FALSE(db_->Exec("UPDATE systems SET signature_fallbacks = 2").ok());
  EXPECT_TRUE(db_->Exec("UPDATE systems SET rate_per_second = -1").ok());
}

TEST_P(RegistryOnBoth, SignatureFallbacksAreTurnedOffAndOn) {
  AddFixtures();
  EXPECT_TRUE(consumer_.signature_fallbacks);
  clock_.Advance(std::chrono::seconds(1));
  auto off = registry_.SetSignatureFallbacks(consumer_.client_id, false);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->signature_fallbacks);
  EXPECT_EQ(off->updated_at, clock_.NowMillis());
  EXPECT_FALSE(registry_.GetSystem(consumer_.client_id)->signature_fallbacks);
  EXPECT_TRUE(registry_.GetSystem(provider_.client_id)->signature_fallbacks);
  // Again: not an error, nothing changes.
  const std::string unchanged = DumpTables(*db_);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(registry_.SetSignatureFallbacks(consumer_.client_id, false).ok());
  EXPECT_EQ(DumpTables(*db_), unchanged);
  auto on = registry_.SetSignatureFallbacks(consumer_.client_id, true);
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->signature_fallbacks);
  EXPECT_REJECTED(registry_.SetSignatureFallbacks("nobody", false), StatusCode::kNotFound,
                  "'nobody'");
}

TEST_P(RegistryOnBoth, ApiLimitsAndReplayPolicyOnAddAndLater) {
  AddFixtures();
  EXPECT_EQ(api_.rate_per_second, kRateDefault);
  EXPECT_EQ(api_.replay_policy, ReplayPolicy::kRecord);
  ApiSettings settings;
  settings.rate_per_second = 0.5;
  settings.rate_burst = 3;
  settings.replay_policy = ReplayPolicy::kRefuse;
  auto added = registry_.AddApi(provider_.client_id, "PAYBIL", settings);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->rate_per_second, 0.5);
  EXPECT_EQ(added->rate_burst, 3);
  EXPECT_EQ(added->replay_policy, ReplayPolicy::kRefuse);

  auto limited = registry_.SetApiRateLimit("PAYBIL", {.rate_per_second = kRateUnlimited});
  ASSERT_TRUE(limited.ok()) << limited.status().ToString();
  EXPECT_EQ(limited->rate_per_second, kRateUnlimited);
  EXPECT_EQ(limited->rate_burst, 3);
  auto record = registry_.SetApiReplayPolicy("PAYBIL", ReplayPolicy::kRecord);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->replay_policy, ReplayPolicy::kRecord);
  auto apis = registry_.ListApis();
  ASSERT_EQ(apis->size(), 2u);
  EXPECT_EQ((*apis)[0].replay_policy, ReplayPolicy::kRecord);
  EXPECT_EQ((*apis)[0].rate_per_second, kRateDefault);
  EXPECT_EQ((*apis)[1].rate_per_second, kRateUnlimited);
  EXPECT_REJECTED(registry_.SetApiReplayPolicy("NOSUCH", ReplayPolicy::kRefuse),
                  StatusCode::kNotFound, "'NOSUCH'");

  settings.rate_per_second = 5e6;
  EXPECT_REJECTED(registry_.AddApi(provider_.client_id, "TOOFAST", settings),
                  StatusCode::kInvalidArgument, "rate");
  settings.rate_per_second = 1;
  settings.rate_burst = -1;
  EXPECT_REJECTED(registry_.AddApi(provider_.client_id, "TOOFAST", settings),
                  StatusCode::kInvalidArgument, "burst");
}

TEST_P(RegistryOnBoth, ReplayPolicyNames) {
  EXPECT_EQ(ReplayPolicyName(ReplayPolicy::kRecord), "record");
  EXPECT_EQ(ReplayPolicyName(ReplayPolicy::kRefuse), "refuse");
  EXPECT_EQ(ParseReplayPolicy("refuse"), ReplayPolicy::kRefuse);
  EXPECT_EQ(ParseReplayPolicy("record"), ReplayPolicy::kRecord);
  EXPECT_EQ(ParseReplayPolicy("Refuse"), std::nullopt);
  EXPECT_EQ(ParseReplayPolicy(""), std::nullopt);
}

// ---- signature usage ----

TEST_P(RegistryOnBoth, SignatureUsageAddsUpAcrossCalls) {
  AddFixtures();
  clock_.Advance(std::chrono::seconds(10));
  const int64_t t0 = clock_.NowMillis();
  ASSERT_TRUE(registry_
                  .RecordSignatureUsage({
                      {.system_id = consumer_.id, .variant = "raw", .count = 1200},
                      {.system_id = consumer_.id,
                       .variant = "latin1",
                       .count = 2,
                       .first_at = t0 - 5000,
                       .last_at = t0 - 1000},
                      {.system_id = provider_.id, .variant = "raw", .count = 7},
                  })
                  .ok());
  clock_.Advance(std::chrono::seconds(10));
  const int64_t t1 = clock_.NowMillis();
  // A second flush, with the same key twice in one batch.
  Status second = registry_.RecordSignatureUsage({
      {.system_id = consumer_.id, .variant = "latin1", .count = 1},
      {.system_id = consumer_.id, .variant = "raw", .count = 300},
      {.system_id = consumer_.id,
       .variant = "raw",
       .count = 500,
       .first_at = t0 - 60000,
       .last_at = t0 - 30000},
  });
  ASSERT_TRUE(second.ok()) << second.ToString();

  auto usage = registry_.ListSignatureUsage(consumer_.client_id);
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  ASSERT_EQ(usage->size(), 2u);
  EXPECT_EQ((*usage)[0].variant, "latin1");
  EXPECT_EQ((*usage)[0].count, 3);
  EXPECT_EQ((*usage)[0].first_at, t0 - 5000);
  EXPECT_EQ((*usage)[0].last_at, t1);
  EXPECT_EQ((*usage)[0].client_id, consumer_.client_id);
  EXPECT_EQ((*usage)[1].variant, "raw");
  EXPECT_EQ((*usage)[1].count, 2000);
  EXPECT_EQ((*usage)[1].first_at, t0 - 60000) << "the earliest first use is kept";
  EXPECT_EQ((*usage)[1].last_at, t1) << "the latest last use is kept";

  auto all = registry_.ListSignatureUsage();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].system_id, provider_.id);
  EXPECT_EQ((*all)[0].count, 7);
  EXPECT_TRUE(registry_.RecordSignatureUsage({}).ok());
  EXPECT_REJECTED(registry_.ListSignatureUsage("nobody"), StatusCode::kNotFound, "'nobody'");
}

TEST_P(RegistryOnBoth, BadSignatureUsageBatchesChangeNothing) {
  AddFixtures();
  ASSERT_TRUE(
      registry_.RecordSignatureUsage({{.system_id = consumer_.id, .variant = "raw", .count = 1}})
          .ok());
  const SignatureUsage good{.system_id = consumer_.id, .variant = "raw", .count = 5};
  auto batch = [&](SignatureUsage bad) { return std::vector<SignatureUsage>{good, bad}; };
  // Each: a good increment first, then a bad one; the good one must not be applied either.
  auto expect_rejected = [&](const std::vector<SignatureUsage>& increments, StatusCode code,
                             const std::string& needle) {
    const std::string before = DumpTables(*db_);
    Status status = registry_.RecordSignatureUsage(increments);
    EXPECT_EQ(status.code(), code) << status.ToString();
    EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
    EXPECT_EQ(DumpTables(*db_), before);
  };
  expect_rejected(batch({.system_id = 999999, .variant = "raw", .count = 1}), StatusCode::kNotFound,
                  "999999");
  expect_rejected(batch({.system_id = consumer_.id, .variant = "Raw", .count = 1}),
                  StatusCode::kInvalidArgument, "variant");
  expect_rejected(batch({.system_id = consumer_.id, .variant = "", .count = 1}),
                  StatusCode::kInvalidArgument, "variant");
  expect_rejected(batch({.system_id = consumer_.id, .variant = std::string(33, 'a'), .count = 1}),
                  StatusCode::kInvalidArgument, "variant");
  expect_rejected(batch({.system_id = consumer_.id, .variant = "raw", .count = 0}),
                  StatusCode::kInvalidArgument, "count");
  expect_rejected(batch({.system_id = consumer_.id, .variant = "raw", .count = -3}),
                  StatusCode::kInvalidArgument, "count");
  expect_rejected(batch({.system_id = consumer_.id,
                         .variant = "raw",
                         .count = 1,
                         .first_at = 2000,
                         .last_at = 1000}),
                  StatusCode::kInvalidArgument, "order");
  expect_rejected(std::vector<SignatureUsage>(10001, good), StatusCode::kInvalidArgument,
                  "too many");
  EXPECT_EQ((*registry_.ListSignatureUsage(consumer_.client_id))[0].count, 1);
}

}  // namespace
}  // namespace govesb::registry
