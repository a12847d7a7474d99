#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/keys.h"
#include "registry/registry.h"

namespace govesb::bench {

// The apiCode of the benchmark API of each curve: BNCH01 for secp256k1, BNCHP256 for
// prime256v1, BNCHP521 for secp521r1. One API has one provider and so one provider key:
// a code per curve lets the setups of several curves live in one registry at once.
std::string_view BenchApiCode(crypto::Curve curve);
// The pushCode of the benchmark push topic of each curve: PUSH01 (secp256k1), PUSHP256,
// PUSHP521.
std::string_view BenchPushCode(crypto::Curve curve);

struct SetupOptions {
  std::string data_dir;
  std::string provider_url;  // where the bus delivers BNCH… requests (a bench-provider)
  crypto::Curve curve = crypto::Curve::kSecp256k1;
  // Push: one subscriber system per URL (where the bus delivers its pushes: a bench-provider
  // with that subscriber's key). Empty: the push part of the setup is left as it is.
  std::vector<std::string> subscriber_urls;
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
  // Push (only when SetupOptions::subscriber_urls was given).
  bool push = false;
  std::string push_code;
  std::string publisher_profile;  // .../publisher.profile.json ("api_code" holds the pushCode)
  std::string publisher_client_id;
  std::vector<std::string> subscriber_key_files;  // .../subscriber-<i>.key, i = 1..N
  std::vector<std::string> subscriber_client_ids;
  bool push_created = false;  // false: every push system was reused
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
// esb_public_key, should the bus key have changed).
//
// With `subscriber_urls` (N of them), also the push benchmark of the curve:
//   a publisher system owning the topic BenchPushCode(curve); N subscriber systems (keys on
//   `curve`, endpoint subscriber_urls[i]) with approved subscriptions to it, and no other
//   approved subscription to the topic (so every delivery goes to a benchmark subscriber);
//   publisher.profile.json  as consumer.profile.json, for the publisher, with "api_code" set to
//                           the pushCode (what `bench run --mode push` sends by default)
//   subscriber-<i>.key      subscriber i's private key (a bench-provider started with it
//                           acknowledges deliveries with a valid signature)
//   push.json               the client ids, to find the systems again
// Re-running reuses the publisher and the first N subscribers of an earlier setup (their
// endpoints follow `subscriber_urls`), creates any missing ones, and revokes the
// subscriptions of subscribers beyond N. Runs scrypt: not for an I/O thread.
Result<SetupResult> SetupBench(const SetupOptions& options);

// {"consumer_profile","provider_key_file","api_code","esb_public_key","curve","created",
//  "provider_client_id","consumer_client_id"}, and with push also
//  "push_code","publisher_profile","publisher_client_id","subscriber_key_files":[…],
//  "subscriber_client_ids":[…],"push_created"
std::string SetupResultJson(const SetupResult& result);
std::string SetupResultTable(const SetupResult& result);

}  // namespace govesb::bench
