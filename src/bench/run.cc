#include "bench/run.h"

#include <cmath>

#include "crypto/keys.h"
#include "govesb/client.h"

namespace govesb::bench {

namespace {

// The benchmark's consumer profile (sdk::LoadProfile), with the members a run needs.
Result<sdk::Profile> ReadProfile(const std::string& path) {
  auto loaded = sdk::LoadProfile(path);
  if (!loaded.ok()) return InvalidArgument(loaded.error().message);
  const sdk::ClientOptions& o = loaded->options;
  for (auto [value, name] : {std::pair{&o.client_id, "client_id"},
                             {&o.client_secret, "client_secret"},
                             {&o.private_key, "private_key"},
                             {&o.esb_public_key, "esb_public_key"}}) {
    if (value->empty()) return InvalidArgument("profile " + path + " has no " + name);
  }
  return std::move(loaded).value();
}

}  // namespace

Result<LoadReport> RunBench(const BenchRunOptions& options) {
  auto note = [&](const std::string& line) {
    if (options.on_note) options.on_note(line);
  };
  GOVESB_ASSIGN_OR_RETURN(sdk::Profile profile, ReadProfile(options.profile));
  std::string url = options.url.empty() ? profile.options.bus_url : options.url;
  if (url.empty()) return InvalidArgument("no bus URL: give --url or put url in the profile");
  std::string ca_file = options.ca_file.empty() ? profile.options.ca_file : options.ca_file;
  auto key = crypto::PrivateKey::FromText(profile.options.private_key);
  if (!key.ok()) return InvalidArgument("profile private_key: " + key.status().message());
  if (options.rate < 0 || !std::isfinite(options.rate)) {
    return InvalidArgument("--rate must be 0 (closed loop) or positive");
  }
  if (options.duration_s <= 0) return InvalidArgument("--duration must be positive");
  if (options.warmup_s < 0) return InvalidArgument("--warmup must not be negative");
  if (options.connections == 0) return InvalidArgument("--connections must be at least 1");

  // One token for the whole run, through the SDK (as a real consumer gets it).
  sdk::ClientOptions client_options;
  client_options.bus_url = url;
  client_options.client_id = profile.options.client_id;
  client_options.client_secret = profile.options.client_secret;
  client_options.private_key = profile.options.private_key;
  client_options.esb_public_key = profile.options.esb_public_key;
  client_options.ca_file = ca_file;
  client_options.timeout = options.timeout;
  std::string access_token;
  if (!options.raw) {
    auto client = sdk::Client::Create(std::move(client_options));
    if (!client.ok())
      return InvalidArgument("cannot create the SDK client: " + client.error().message);
    auto token = (*client)->AccessToken();
    if (!token.ok()) {
      return Unauthenticated(std::string("cannot get an access token: ") +
                             sdk::ErrorKindName(token.error().kind) + ": " + token.error().message);
    }
    access_token = *token;
  }

  WorkloadOptions workload;
  workload.mode = options.mode;
  workload.code = !options.code.empty()       ? options.code
                  : !profile.api_code.empty() ? profile.api_code
                                              : std::string("BNCH01");
  workload.body_size = options.body_size;
  workload.birth_record = options.birth_record;
  size_t count = 0;
  std::chrono::milliseconds budget{0};
  if (options.rate > 0) {
    count = static_cast<size_t>(
        std::ceil(options.rate * (options.duration_s + options.warmup_s) * 1.1));
  } else {
    count = options.max_pool;
    budget = options.presign_budget;
  }
  note("bench: pre-signing up to " + std::to_string(count) + " " +
       std::string(ModeName(options.mode)) + " envelopes (" +
       std::string(crypto::CurveName(key->curve())) + ", esbBody " +
       std::to_string(options.body_size) + " bytes)");
  auto started = std::chrono::steady_clock::now();
  RequestSet requests = RequestSet::Presign(*key, workload, count, budget);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  note("bench: " + std::to_string(requests.size()) + " envelopes signed in " +
       std::to_string(static_cast<int>(took * 1000)) + " ms; " + workload.code + " at " + url +
       " over " + std::to_string(options.connections) + " connections");

  LoadOptions load;
  load.url = url;
  load.ca_file = ca_file;
  load.access_token = access_token;
  load.exact_url = options.raw;
  load.connections = options.connections;
  load.duration = std::chrono::duration<double>(options.duration_s);
  load.warmup = std::chrono::duration<double>(options.warmup_s);
  load.rate = options.rate;
  load.timeout = options.timeout;
  load.on_progress = options.on_progress;
  GOVESB_ASSIGN_OR_RETURN(LoadReport report, RunLoad(requests, load));
  report.curve = std::string(crypto::CurveName(key->curve()));
  return report;
}

}  // namespace govesb::bench
