#include "bench/crypto_rates.h"

#include <gtest/gtest.h>

namespace govesb::bench {
namespace {

TEST(CryptoRatesTest, MeasuresEveryCurveAndDerivesTheCeiling) {
  CryptoRatesOptions options;
  options.duration = std::chrono::milliseconds(20);
  options.distinct_messages = 16;
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
  EXPECT_NE(json.find("\"distinct_messages\":16"), std::string::npos) << json;
  EXPECT_NE(CryptoRatesTable(rates, options).find("over 16 different 1024-byte data texts"),
            std::string::npos);
}

// One request, signed and verified over and over (as the ceiling was measured before), still
// measures; none is taken as one.
TEST(CryptoRatesTest, OneRequestOverAndOverAndNoneTakenAsOne) {
  for (size_t distinct : {size_t{1}, size_t{0}}) {
    CryptoRatesOptions options;
    options.duration = std::chrono::milliseconds(5);
    options.distinct_messages = distinct;
    auto rates = MeasureCryptoRates(options);
    ASSERT_EQ(rates.size(), 3u);
    EXPECT_GT(rates[0].verify_per_s, 0);
    EXPECT_NE(CryptoRatesJson(rates, options).find("\"distinct_messages\":1,"), std::string::npos);
  }
}

}  // namespace
}  // namespace govesb::bench
