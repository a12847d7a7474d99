#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "crypto/keys.h"

namespace govesb::bench {

// Single-thread signing and verification rates of one curve, through the crypto module the bus
// uses (libsecp256k1 for secp256k1, OpenSSL for P-256 and P-521), ECDSA-SHA256 over a data
// text of the given size, signatures as base64 DER as carried in envelopes.
struct CurveRates {
  crypto::Curve curve = crypto::Curve::kSecp256k1;
  double sign_per_s = 0;
  double verify_per_s = 0;
  // The bus verifies the consumer's request and the provider's reply and signs the delivery
  // and the response: 2 verifications + 2 signatures per exchange, so one core cannot do more
  // than 1 / (2/sign + 2/verify) exchanges per second, before any other work.
  double exchanges_per_s_per_core = 0;
  // Same, when the systems use this curve but the bus key is secp256k1 (the default bus key):
  // the bus signs on secp256k1 and verifies on this curve.
  double exchanges_per_s_per_core_secp256k1_bus_key = 0;
};

struct CryptoRatesOptions {
  std::chrono::milliseconds duration{1000};  // per measurement (sign, verify) and curve
  size_t message_bytes = 1024;
};

// Measures the three curves in turn on the calling thread (2 x duration each).
std::vector<CurveRates> MeasureCryptoRates(const CryptoRatesOptions& options);

// {"curves":{"secp256k1":{"sign_per_s","verify_per_s","exchanges_per_s_per_core",
//  "exchanges_per_s_per_core_secp256k1_bus_key"},...},"message_bytes":N,"duration_ms":N}
std::string CryptoRatesJson(const std::vector<CurveRates>& rates,
                            const CryptoRatesOptions& options);
std::string CryptoRatesTable(const std::vector<CurveRates>& rates,
                             const CryptoRatesOptions& options);

}  // namespace govesb::bench
