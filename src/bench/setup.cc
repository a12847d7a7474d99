#include "bench/setup.h"

#include <boost/json/array.hpp>
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

std::string_view BenchPushCode(crypto::Curve curve) {
  switch (curve) {
    case crypto::Curve::kSecp256k1:
      return "PUSH01";
    case crypto::Curve::kP256:
      return "PUSHP256";
    case crypto::Curve::kP521:
      return "PUSHP521";
  }
  return "PUSH01";
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

// `code`: the apiCode (consumer) or pushCode (publisher) a run sends by default.
std::string ProfileJson(const std::string& client_id, const std::string& secret,
                        const std::string& private_key, const std::string& code,
                        const SetupResult& r) {
  JsonObjectWriter w;
  w.String("url", "")
      .String("client_id", client_id)
      .String("client_secret", secret)
      .String("private_key", private_key)
      .String("esb_public_key", r.esb_public_key)
      .String("api_code", code)
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
  GOVESB_RETURN_IF_ERROR(
      WritePrivateFile(r.consumer_profile, ProfileJson(r.consumer_client_id, consumer.client_secret,
                                                       consumer_key.Pkcs8Base64(), r.api_code, r)));
  // Last: its presence says the two files above are complete.
  GOVESB_RETURN_IF_ERROR(WritePrivateFile(r.bench_dir + "/setup.json", StateJson(r)));
  r.created = true;
  return Status::Ok();
}

std::string PushStateJson(const SetupResult& r) {
  json::array subscribers;
  for (const std::string& id : r.subscriber_client_ids) subscribers.emplace_back(id);
  JsonObjectWriter w;
  w.String("publisher_client_id", r.publisher_client_id)
      .String("push_code", r.push_code)
      .Raw("subscriber_client_ids", json::serialize(subscribers));
  return w.Finish() + "\n";
}

// The private key in `path` and whether it is the registered key of `client_id`.
Result<bool> KeyFileMatches(registry::Registry& reg, const std::string& path,
                            const std::string& client_id) {
  if (client_id.empty() || !fs::exists(path)) return false;
  auto system = reg.GetSystem(client_id);
  if (!system.ok()) return false;
  GOVESB_ASSIGN_OR_RETURN(std::string text, ReadText(path));
  auto key = crypto::PrivateKey::FromText(text);
  return key.ok() && key->public_key().SpkiBase64() == system->public_key_b64;
}

// The publisher of an earlier setup, when its profile, its system and the topic still fit.
Result<bool> TryReusePublisher(registry::Registry& reg, const std::string& publisher_client_id,
                               SetupResult& r) {
  if (publisher_client_id.empty() || !fs::exists(r.publisher_profile)) return false;
  GOVESB_ASSIGN_OR_RETURN(std::string profile_text, ReadText(r.publisher_profile));
  boost::system::error_code ec;
  json::value profile = json::parse(profile_text, ec);
  if (ec || !profile.is_object()) return false;
  json::object& o = profile.get_object();
  if (StringMember(o, "client_id") != publisher_client_id) return false;
  auto system = reg.GetSystem(publisher_client_id);
  if (!system.ok()) return false;
  auto key = crypto::PrivateKey::FromText(StringMember(o, "private_key"));
  if (!key.ok() || key->public_key().SpkiBase64() != system->public_key_b64) return false;
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Topic> topics, reg.ListTopics());
  bool owns = false;
  for (const auto& t : topics) {
    owns = owns || (t.code == r.push_code && t.publisher_client_id == publisher_client_id);
  }
  if (!owns) return false;
  if (StringMember(o, "esb_public_key") != r.esb_public_key) {
    o["esb_public_key"] = r.esb_public_key;
    GOVESB_RETURN_IF_ERROR(WritePrivateFile(r.publisher_profile, json::serialize(profile) + "\n"));
  }
  r.publisher_client_id = publisher_client_id;
  return true;
}

Status CreatePublisher(registry::Registry& reg, const SetupOptions& options, SetupResult& r) {
  GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::Generate(options.curve));
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Topic> topics, reg.ListTopics());
  std::string owner;
  for (const auto& t : topics) {
    if (t.code == r.push_code) owner = t.publisher_client_id;
  }
  std::string secret;
  if (!owner.empty()) {
    // The topic outlived the files of an earlier setup: take its publisher over.
    registry::SystemUpdate update;
    update.public_key = key.public_key().SpkiBase64();
    GOVESB_RETURN_IF_ERROR(reg.UpdateSystem(owner, update).status());
    GOVESB_ASSIGN_OR_RETURN(secret, reg.RotateSecret(owner));
    r.publisher_client_id = owner;
  } else {
    GOVESB_ASSIGN_OR_RETURN(
        registry::NewSystem publisher,
        reg.AddSystem(kInstitution,
                      "bench publisher " + std::string(crypto::CurveName(options.curve)),
                      key.public_key().SpkiBase64(), kConsumerEndpoint));
    r.publisher_client_id = publisher.system.client_id;
    secret = publisher.client_secret;
    GOVESB_RETURN_IF_ERROR(reg.AddTopic(r.publisher_client_id, r.push_code).status());
  }
  return WritePrivateFile(r.publisher_profile, ProfileJson(r.publisher_client_id, secret,
                                                           key.Pkcs8Base64(), r.push_code, r));
}

// Subscriber i (0-based): the system of an earlier setup when its key file still fits,
// otherwise a new one; its endpoint set to `url` and its subscription approved.
Status EnsureSubscriber(registry::Registry& reg, const SetupOptions& options, size_t i,
                        const std::string& earlier_client_id, SetupResult& r) {
  const std::string& url = options.subscriber_urls[i];
  std::string key_file = r.bench_dir + "/subscriber-" + std::to_string(i + 1) + ".key";
  std::string client_id;
  GOVESB_ASSIGN_OR_RETURN(bool reuse, KeyFileMatches(reg, key_file, earlier_client_id));
  if (reuse) {
    client_id = earlier_client_id;
    GOVESB_ASSIGN_OR_RETURN(registry::System system, reg.GetSystem(client_id));
    if (system.endpoint != url) {
      registry::SystemUpdate update;
      update.endpoint = url;
      GOVESB_RETURN_IF_ERROR(reg.UpdateSystem(client_id, update).status());
    }
  } else {
    GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::Generate(options.curve));
    GOVESB_ASSIGN_OR_RETURN(registry::NewSystem subscriber,
                            reg.AddSystem(kInstitution,
                                          "bench subscriber " + std::to_string(i + 1) + " " +
                                              std::string(crypto::CurveName(options.curve)),
                                          key.public_key().SpkiBase64(), url));
    client_id = subscriber.system.client_id;
    GOVESB_RETURN_IF_ERROR(WritePrivateFile(key_file, key.Pkcs8Base64() + "\n"));
    r.push_created = true;
  }
  auto subscribed = reg.AddSubscription(client_id, r.push_code);
  if (!subscribed.ok() && subscribed.status().code() != StatusCode::kAlreadyExists) {
    return subscribed.status();
  }
  r.subscriber_key_files.push_back(key_file);
  r.subscriber_client_ids.push_back(client_id);
  return Status::Ok();
}

Status SetupPush(registry::Registry& reg, const SetupOptions& options, SetupResult& r) {
  r.push = true;
  r.push_code = std::string(BenchPushCode(options.curve));
  r.publisher_profile = r.bench_dir + "/publisher.profile.json";
  std::string state_path = r.bench_dir + "/push.json";

  std::string earlier_publisher;
  std::vector<std::string> earlier_subscribers;
  if (fs::exists(state_path)) {
    GOVESB_ASSIGN_OR_RETURN(std::string text, ReadText(state_path));
    boost::system::error_code ec;
    json::value state = json::parse(text, ec);
    if (!ec && state.is_object() && StringMember(state.get_object(), "push_code") == r.push_code) {
      earlier_publisher = StringMember(state.get_object(), "publisher_client_id");
      const json::value* subs = state.get_object().if_contains("subscriber_client_ids");
      if (subs != nullptr && subs->is_array()) {
        for (const json::value& v : subs->get_array()) {
          earlier_subscribers.push_back(v.is_string() ? std::string(v.get_string()) : "");
        }
      }
    }
  }

  GOVESB_ASSIGN_OR_RETURN(bool publisher_reused, TryReusePublisher(reg, earlier_publisher, r));
  if (!publisher_reused) {
    GOVESB_RETURN_IF_ERROR(CreatePublisher(reg, options, r));
    r.push_created = true;
  }
  for (size_t i = 0; i < options.subscriber_urls.size(); ++i) {
    GOVESB_RETURN_IF_ERROR(EnsureSubscriber(
        reg, options, i, i < earlier_subscribers.size() ? earlier_subscribers[i] : "", r));
  }
  // Every delivery must go to a subscriber of this run: no other approved subscription stays.
  GOVESB_ASSIGN_OR_RETURN(std::vector<registry::Subscription> subscriptions,
                          reg.ListSubscriptions());
  for (const auto& s : subscriptions) {
    if (s.topic_code != r.push_code || s.state != registry::kSubscriptionApproved) continue;
    bool ours = false;
    for (const std::string& id : r.subscriber_client_ids)
      ours = ours || id == s.subscriber_client_id;
    if (!ours) {
      GOVESB_RETURN_IF_ERROR(reg.RevokeSubscription(s.subscriber_client_id, r.push_code).status());
    }
  }
  // Last: its presence says the files above are complete.
  return WritePrivateFile(state_path, PushStateJson(r));
}
}  // namespace

Result<SetupResult> SetupBench(const SetupOptions& options) {
  GOVESB_RETURN_IF_ERROR(registry::ValidateEndpoint(options.provider_url));
  for (const std::string& url : options.subscriber_urls) {
    GOVESB_RETURN_IF_ERROR(registry::ValidateEndpoint(url));
  }
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
  if (!options.subscriber_urls.empty()) GOVESB_RETURN_IF_ERROR(SetupPush(reg, options, r));
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
  if (r.push) {
    json::array key_files;
    for (const std::string& f : r.subscriber_key_files) key_files.emplace_back(f);
    json::array client_ids;
    for (const std::string& id : r.subscriber_client_ids) client_ids.emplace_back(id);
    w.String("push_code", r.push_code)
        .String("publisher_profile", r.publisher_profile)
        .String("publisher_client_id", r.publisher_client_id)
        .Raw("subscriber_key_files", json::serialize(key_files))
        .Raw("subscriber_client_ids", json::serialize(client_ids))
        .Raw("push_created", r.push_created ? "true" : "false");
  }
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
  if (r.push) {
    out += "push code         " + r.push_code + "\n";
    out +=
        "publisher profile " + r.publisher_profile + "  (client " + r.publisher_client_id + ")\n";
    for (size_t i = 0; i < r.subscriber_key_files.size(); ++i) {
      out += "subscriber " + std::to_string(i + 1) + " key  " + r.subscriber_key_files[i] +
             "  (client " + r.subscriber_client_ids[i] + ")\n";
    }
  }
  return out;
}

}  // namespace govesb::bench
