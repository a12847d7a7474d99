#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "crypto/keys.h"

namespace govesb::bench {

// Single-thread signing and verification rates of one curve, through the crypto module the bus
// uses (libsecp256k1 for secp256k1, OpenSSL for P-256 and P-521), ECDSA-SHA256 over data texts
// of the given size, signatures as base64 DER as carried in envelopes. The loops go through
// `distinct_messages` different requests in turn, each signed once before the clock starts: the
// bus never verifies one signature twice (its replay window refuses a repeat), and the table
// lookups of a verification depend on the digest and the signature, so one signature verified
// over and over keeps its lookups in the cache and makes verification look about 7 % faster
// than any exchange finds it (docs/performance.md, "The ceiling verifies distinct signatures").
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
  // Different requests the loops go through in turn (1: one request, signed and verified over
  // and over, as this measured before). Enough of them that their lookups do not stay in a
  // core's cache (1 MB of L2 here).
  size_t distinct_messages = 1024;
};

// Measures the three curves in turn on the calling thread (2 x duration each).
std::vector<CurveRates> MeasureCryptoRates(const CryptoRatesOptions& options);

// {"curves":{"secp256k1":{"sign_per_s","verify_per_s","exchanges_per_s_per_core",
//  "exchanges_per_s_per_core_secp256k1_bus_key"},...},"message_bytes":N,"distinct_messages":N,
//  "duration_ms":N}
std::string CryptoRatesJson(const std::vector<CurveRates>& rates,
                            const CryptoRatesOptions& options);
std::string CryptoRatesTable(const std::vector<CurveRates>& rates,
                             const CryptoRatesOptions& options);

}  // namespace govesb::bench
