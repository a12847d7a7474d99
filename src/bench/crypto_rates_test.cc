#include "bench/crypto_rates.h"

#include <gtest/gtest.h>

namespace govesb::bench {
namespace {

TEST(CryptoRatesTest, MeasuresEveryCurveAndDerivesTheCeiling) {
  CryptoRatesOptions options;
  options.duration = std::chrono::milliseconds(20);
  auto rates = MeasureCryptoRates(options);
  ASSERT_EQ(rates.size(), 3u);
  for (const CurveRates& r : rates) {
    EXPECT_GT(r.sign_per_s, 0);
    EXPECT_GT(r.verify_per_s, 0);
    EXPECT_NEAR(r.exchanges_per_s_per_core, 1.0 / (2.0 / r.sign_per_s + 2.0 / r.verify_per_s),
                1e-6 * r.exchanges_per_s_per_core);
    EXPECT_LT(r.exchanges_per_s_per_core, r.sign_per_s / 2);
  }
  std::string json = CryptoRatesJson(rates, options);
  EXPECT_EQ(json.rfind("{\"curves\":{\"secp256k1\":{\"sign_per_s\":", 0), 0u) << json;
  EXPECT_NE(json.find("\"prime256v1\""), std::string::npos);
  EXPECT_NE(json.find("\"secp521r1\""), std::string::npos);
}

}  // namespace
}  // namespace govesb::bench
