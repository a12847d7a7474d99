#include "bench/setup.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench/json_out.h"
#include "registry/validation.h"
#include "store/data_dir.h"

namespace govesb::bench {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string_view BenchApiCode(crypto::Curve curve) {
  switch (curve) {
    case crypto::Curve::kSecp256k1:
      return "BNCH01";
    case crypto::Curve::kP256:
      return "BNCHP256";
    case crypto::Curve::kP521:
      return "BNCHP521";
  }
  return "BNCH01";
}

namespace {

constexpr std::string_view kInstitution = "BENCH";
constexpr int kApiTimeoutMs = 10000;
// Consumers are never delivered to; the registry still wants an endpoint.
constexpr std::string_view kConsumerEndpoint = "http://127.0.0.1:9/bench-consumer";

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Temporary file, then rename: a crash never leaves half a file.
Status WritePrivateFile(const std::string& path, std::string_view text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Internal("cannot write " + tmp);
    std::error_code ec;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
    out << text;
    out.close();
    if (!out) return Internal("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

Status MakePrivateDir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Internal("cannot create " + path + ": " + ec.message());
  fs::permissions(path, fs::perms::owner_all, ec);
  return Status::Ok();
}

std::string StateJson(const SetupResult& r) {
  JsonObjectWriter w;
  w.String("provider_client_id", r.provider_client_id)
      .String("consumer_client_id", r.consumer_client_id)
      .String("api_code", r.api_code);
  return w.Finish() + "\n";
}

std::string ProfileJson(const std::string& client_id, const std::string& secret,
                        const std::string& private_key, const SetupResult& r) {
  JsonObjectWriter w;
  w.String("url", "")
      .String("client_id", client_id)
      .String("client_secret", secret)
      .String("private_key", private_key)
      .String("esb_public_key", r.esb_public_key)
      .String("api_code", r.api_code)
      .String("curve", crypto::CurveName(r.curve));
  return w.Finish() + "\n";
}

std::string StringMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The earlier setup of this curve, if its files exist and the registry still has its systems,
// API and grant as they were left.
Result<bool> TryReuse(registry::Registry& reg, const SetupOptions& options, SetupResult& r) {
  std::string state_path = r.bench_dir + "/setup.json";
  if (!fs::exists(state_path) || !fs::exists(r.provider_key_file) ||
      !fs::exists(r.consumer_profile)) {
    return false;
  }
  GOVESB_ASSIGN_OR_RETURN(std::string state_text, ReadText(state_path));
  boost::system::error_code ec;
  json::value state = json::parse(state_text, ec);
  if (ec || !state.is_object()) return false;
  r.provider_client_id = StringMember(state.get_object(), "provider_client_id");
  r.consumer_client_id = StringMember(state.get_object(), "consumer_client_id");
  if (StringMember(state.get_object(), "api_code") != r.api_code) return false;

  auto provider = reg.GetSystem(r.provider_client_id);
  auto consumer = reg.GetSystem(r.consumer_client_id);
  if (!provider.ok() || !consumer.ok()) return false;
  GOVESB_ASSIGN_OR_RETURN(std::string provider_key_text, ReadText(r.provider_key_file));
  auto provider_key = crypto::PrivateKey::FromText(provider_key_text);
  if (!provider_key.ok() || provider_key->public_key().SpkiBase64() != provider->public_key_b64) {
    return false;
  }
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Api> apis, reg.ListApis());
  bool api_ok = false;
  for (const auto& api : apis) {
    if (api.code == r.api_code) api_ok = api.provider_client_id == r.provider_client_id;
  }
  if (!api_ok) return false;
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Grant> grants, reg.ListGrants());
  bool granted = false;
  for (const auto& g : grants) {
    granted = granted || (g.consumer_client_id == r.consumer_client_id &&
                          g.api_code == r.api_code && g.state == registry::kGrantApproved);
  }
  if (!granted) return false;

  GOVESB_ASSIGN_OR_RETURN(std::string profile_text, ReadText(r.consumer_profile));
  json::value profile = json::parse(profile_text, ec);
  if (ec || !profile.is_object()) return false;
  if (StringMember(profile.get_object(), "client_id") != r.consumer_client_id) return false;

  if (provider->endpoint != options.provider_url) {
    registry::SystemUpdate update;
    update.endpoint = options.provider_url;
    GOVESB_RETURN_IF_ERROR(reg.UpdateSystem(r.provider_client_id, update).status());
  }
  if (StringMember(profile.get_object(), "esb_public_key") != r.esb_public_key) {
    profile.get_object()["esb_public_key"] = r.esb_public_key;
    GOVESB_RETURN_IF_ERROR(WritePrivateFile(r.consumer_profile, json::serialize(profile) + "\n"));
  }
  return true;
}

Status Create(registry::Registry& reg, const SetupOptions& options, SetupResult& r) {
  auto institution = reg.AddInstitution(kInstitution, "GovESB benchmark");
  if (!institution.ok() && institution.status().code() != StatusCode::kAlreadyExists) {
    return institution.status();
  }
  std::string curve_name(crypto::CurveName(options.curve));

  GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey provider_key,
                          crypto::PrivateKey::Generate(options.curve));
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Api> apis, reg.ListApis());
  std::string existing_provider;
  for (const auto& api : apis) {
    if (api.code == r.api_code) existing_provider = api.provider_client_id;
  }
  if (!existing_provider.empty()) {
    // The API outlived the files of an earlier setup: take its provider over with a new key.
    registry::SystemUpdate update;
    update.public_key = provider_key.public_key().SpkiBase64();
    update.endpoint = options.provider_url;
    GOVESB_RETURN_IF_ERROR(reg.UpdateSystem(existing_provider, update).status());
    r.provider_client_id = existing_provider;
  } else {
    GOVESB_ASSIGN_OR_RETURN(
        registry::NewSystem provider,
        reg.AddSystem(kInstitution, "bench provider " + curve_name,
                      provider_key.public_key().SpkiBase64(), options.provider_url));
    r.provider_client_id = provider.system.client_id;
    GOVESB_RETURN_IF_ERROR(reg.AddApi(r.provider_client_id, r.api_code, kApiTimeoutMs).status());
  }

  GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey consumer_key,
                          crypto::PrivateKey::Generate(options.curve));
  GOVESB_ASSIGN_OR_RETURN(registry::NewSystem consumer,
                          reg.AddSystem(kInstitution, "bench consumer " + curve_name,
                                        consumer_key.public_key().SpkiBase64(), kConsumerEndpoint));
  r.consumer_client_id = consumer.system.client_id;
  GOVESB_RETURN_IF_ERROR(reg.AddGrant(r.consumer_client_id, r.api_code).status());

  GOVESB_RETURN_IF_ERROR(WritePrivateFile(r.provider_key_file, provider_key.Pkcs8Base64() + "\n"));
  GOVESB_RETURN_IF_ERROR(WritePrivateFile(
      r.consumer_profile,
      ProfileJson(r.consumer_client_id, consumer.client_secret, consumer_key.Pkcs8Base64(), r)));
  // Last: its presence says the two files above are complete.
  GOVESB_RETURN_IF_ERROR(WritePrivateFile(r.bench_dir + "/setup.json", StateJson(r)));
  r.created = true;
  return Status::Ok();
}

}  // namespace

Result<SetupResult> SetupBench(const SetupOptions& options) {
  GOVESB_RETURN_IF_ERROR(registry::ValidateEndpoint(options.provider_url));
  if (options.data_dir.empty()) return InvalidArgument("no data directory");
  GOVESB_ASSIGN_OR_RETURN(store::DataDir dir, store::DataDir::Open({.path = options.data_dir}));
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db, dir.OpenDatabase());
  GOVESB_RETURN_IF_ERROR(registry::Registry::Migrate(*db));
  registry::Registry reg(*db, {.hash_secret = options.hash_secret});

  SetupResult r;
  r.curve = options.curve;
  r.api_code = std::string(BenchApiCode(options.curve));
  r.esb_public_key = dir.bus_key().public_key().SpkiBase64();
  GOVESB_RETURN_IF_ERROR(MakePrivateDir(dir.path() + "/bench"));
  r.bench_dir = dir.path() + "/bench/" + std::string(crypto::CurveName(options.curve));
  GOVESB_RETURN_IF_ERROR(MakePrivateDir(r.bench_dir));
  r.provider_key_file = r.bench_dir + "/provider.key";
  r.consumer_profile = r.bench_dir + "/consumer.profile.json";

  GOVESB_ASSIGN_OR_RETURN(bool reused, TryReuse(reg, options, r));
  if (!reused) GOVESB_RETURN_IF_ERROR(Create(reg, options, r));
  return r;
}

std::string SetupResultJson(const SetupResult& r) {
  JsonObjectWriter w;
  w.String("consumer_profile", r.consumer_profile)
      .String("provider_key_file", r.provider_key_file)
      .String("api_code", r.api_code)
      .String("esb_public_key", r.esb_public_key)
      .String("curve", crypto::CurveName(r.curve))
      .Raw("created", r.created ? "true" : "false")
      .String("provider_client_id", r.provider_client_id)
      .String("consumer_client_id", r.consumer_client_id);
  return w.Finish();
}

std::string SetupResultTable(const SetupResult& r) {
  std::string out;
  out += std::string(r.created ? "created" : "reused") + " the " +
         std::string(crypto::CurveName(r.curve)) + " benchmark systems in " + r.bench_dir + "\n";
  out += "api code          " + r.api_code + "\n";
  out += "consumer profile  " + r.consumer_profile + "  (client " + r.consumer_client_id + ")\n";
  out += "provider key      " + r.provider_key_file + "  (client " + r.provider_client_id + ")\n";
  out += "bus public key    " + r.esb_public_key + "\n";
  return out;
}

}  // namespace govesb::bench
