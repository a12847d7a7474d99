#include "bench/crypto_rates.h"

#include <algorithm>
#include <cstdio>

#include "base/result.h"
#include "bench/json_out.h"
#include "bench/workload.h"

namespace govesb::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Calls `op` until `duration` has elapsed; returns calls per second.
template <class Op>
double Rate(std::chrono::milliseconds duration, Op&& op) {
  auto start = SteadyClock::now();
  auto deadline = start + duration;
  uint64_t calls = 0;
  SteadyClock::time_point now;
  do {
    op();
    ++calls;
    now = SteadyClock::now();
  } while (now < deadline);
  return static_cast<double>(calls) / std::chrono::duration<double>(now - start).count();
}

double ExchangeCeiling(double sign_per_s, double verify_per_s) {
  if (sign_per_s <= 0 || verify_per_s <= 0) return 0;
  return 1.0 / (2.0 / sign_per_s + 2.0 / verify_per_s);
}

// How many different requests the loops go through: none is taken as one.
size_t DistinctMessages(const CryptoRatesOptions& options) {
  return std::max<size_t>(1, options.distinct_messages);
}

// The data texts of `count` different requests of `bytes` bytes, as the benchmark sends them.
std::vector<std::string> MessagesOf(size_t bytes, size_t count) {
  constexpr size_t kFraming = 31;  // {"apiCode":"BNCH01","esbBody": ... }
  WorkloadOptions w;
  w.body_size = bytes > kFraming + RequestSet::kMinBodySize ? bytes - kFraming : 0;
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  GOVESB_CHECK(key.ok());
  RequestSet set = RequestSet::Presign(*key, w, count, {}, 1);
  std::vector<std::string> out;
  out.reserve(set.size());
  for (size_t i = 0; i < set.size(); ++i) out.push_back(set.Data(i));
  return out;
}

}  // namespace

std::vector<CurveRates> MeasureCryptoRates(const CryptoRatesOptions& options) {
  const std::vector<std::string> messages =
      MessagesOf(options.message_bytes, DistinctMessages(options));
  const size_t n = messages.size();
  std::vector<CurveRates> out;
  for (crypto::Curve curve :
       {crypto::Curve::kSecp256k1, crypto::Curve::kP256, crypto::Curve::kP521}) {
    auto key = crypto::PrivateKey::Generate(curve);
    GOVESB_CHECK(key.ok());
    crypto::PublicKey public_key = key->public_key();
    std::vector<std::string> signatures;
    signatures.reserve(n);
    for (const std::string& m : messages) signatures.push_back(key->SignBase64(m));
    GOVESB_CHECK(public_key.VerifyBase64(messages[0], signatures[0]));
    CurveRates r;
    r.curve = curve;
    size_t sink = 0;  // keeps the calls observable
    size_t next = 0;
    r.sign_per_s = Rate(options.duration, [&] {
      sink += key->SignBase64(messages[next]).size();
      next = next + 1 == n ? 0 : next + 1;
    });
    bool all_verified = true;
    next = 0;
    r.verify_per_s = Rate(options.duration, [&] {
      all_verified = public_key.VerifyBase64(messages[next], signatures[next]) && all_verified;
      next = next + 1 == n ? 0 : next + 1;
    });
    GOVESB_CHECK(all_verified && sink > 0);
    r.exchanges_per_s_per_core = ExchangeCeiling(r.sign_per_s, r.verify_per_s);
    out.push_back(r);
  }
  double k1_sign = out.front().sign_per_s;
  for (CurveRates& r : out) {
    r.exchanges_per_s_per_core_secp256k1_bus_key = ExchangeCeiling(k1_sign, r.verify_per_s);
  }
  return out;
}

std::string CryptoRatesJson(const std::vector<CurveRates>& rates,
                            const CryptoRatesOptions& options) {
  JsonObjectWriter curves;
  for (const CurveRates& r : rates) {
    JsonObjectWriter one;
    one.Number("sign_per_s", r.sign_per_s, 0)
        .Number("verify_per_s", r.verify_per_s, 0)
        .Number("exchanges_per_s_per_core", r.exchanges_per_s_per_core, 0)
        .Number("exchanges_per_s_per_core_secp256k1_bus_key",
                r.exchanges_per_s_per_core_secp256k1_bus_key, 0);
    curves.Raw(crypto::CurveName(r.curve), one.Finish());
  }
  JsonObjectWriter out;
  out.Raw("curves", curves.Finish())
      .Integer("message_bytes", options.message_bytes)
      .Integer("distinct_messages", DistinctMessages(options))
      .Integer("duration_ms", static_cast<uint64_t>(options.duration.count()));
  return out.Finish();
}

std::string CryptoRatesTable(const std::vector<CurveRates>& rates,
                             const CryptoRatesOptions& options) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line),
                "ECDSA-SHA256 over %zu different %zu-byte data texts in turn, one thread, %lld ms "
                "per figure\n\n",
                DistinctMessages(options), options.message_bytes,
                static_cast<long long>(options.duration.count()));
  out += line;
  std::snprintf(line, sizeof(line), "%-11s %12s %12s %18s %22s\n", "curve", "sign/s", "verify/s",
                "exchanges/s/core", "(with secp256k1 bus)");
  out += line;
  for (const CurveRates& r : rates) {
    std::snprintf(line, sizeof(line), "%-11s %12.0f %12.0f %18.0f %22.0f\n",
                  std::string(crypto::CurveName(r.curve)).c_str(), r.sign_per_s, r.verify_per_s,
                  r.exchanges_per_s_per_core, r.exchanges_per_s_per_core_secp256k1_bus_key);
    out += line;
  }
  out +=
      "\nAn exchange costs the bus 2 verifications (request, provider reply) and 2 signatures\n"
      "(delivery, response): exchanges/s/core = 1 / (2/sign + 2/verify).\n";
  return out;
}

}  // namespace govesb::bench
