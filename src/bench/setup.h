#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/keys.h"
#include "registry/registry.h"

namespace govesb::bench {

// The apiCode of the benchmark API of each curve: BNCH01 for secp256k1, BNCHP256 for
// prime256v1, BNCHP521 for secp521r1. One API has one provider and so one provider key:
// a code per curve lets the setups of several curves live in one registry at once.
std::string_view BenchApiCode(crypto::Curve curve);

struct SetupOptions {
  std::string data_dir;
  std::string provider_url;  // where the bus delivers BNCH… requests (a bench-provider)
  crypto::Curve curve = crypto::Curve::kSecp256k1;
  // Empty: crypto::HashSecret (scrypt). Tests pass crypto::HashSecretForTest.
  registry::SecretHasher hash_secret;
};

struct SetupResult {
  crypto::Curve curve = crypto::Curve::kSecp256k1;
  std::string bench_dir;          // DATA_DIR/bench/<curve>
  std::string consumer_profile;   // .../consumer.profile.json
  std::string provider_key_file;  // .../provider.key
  std::string api_code;
  std::string esb_public_key;
  std::string provider_client_id;
  std::string consumer_client_id;
  bool created = false;  // false: an earlier setup of this curve was reused
};

// Registers the benchmark systems of one curve in DATA_DIR's registry (creating the directory
// and the registry when fresh) and writes their files under DATA_DIR/bench/<curve>/:
//   institution BENCH; a provider system (its key on `curve`, endpoint `provider_url`) offering
//   the API BenchApiCode(curve) (timeout 10 s); a consumer system (key on `curve`) granted it;
//   provider.key          the provider's private key, base64 PKCS#8 (0600)
//   consumer.profile.json {"url":"","client_id","client_secret","private_key",
//                          "esb_public_key","api_code","curve"} as `govesb call --profile`
//                          reads it (0600); "url" is left for the caller to fill
//   setup.json            the client ids, to find the systems again
// Idempotent: when these files exist and the registry still holds their systems, they are
// reused; only the provider's endpoint is updated to `provider_url` (and the profile's
// esb_public_key, should the bus key have changed). Runs scrypt: not for an I/O thread.
Result<SetupResult> SetupBench(const SetupOptions& options);

// {"consumer_profile","provider_key_file","api_code","esb_public_key","curve","created",
//  "provider_client_id","consumer_client_id"}
std::string SetupResultJson(const SetupResult& result);
std::string SetupResultTable(const SetupResult& result);

}  // namespace govesb::bench
