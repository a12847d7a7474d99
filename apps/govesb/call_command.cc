// `govesb call`: one signed exchange through the bus, on the C++ SDK.
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "govesb/client.h"

namespace govesb::apps {
namespace {

struct CallArgs {
  std::string profile;
  std::string url;
  std::string client_id;
  std::string secret;
  std::string key;
  std::string esb_key;
  std::string ca_file;
  std::string api;
  std::string push;
  std::string user_id;
  std::string body = "{}";
  int timeout_ms = 30000;
  bool json = false;
};

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  throw CLI::RuntimeError(kExitFailure);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "@file" reads the file; anything else is the value itself.
std::string ValueOrFile(const std::string& v) {
  if (!v.empty() && v.front() == '@') return ReadFile(v.substr(1));
  return v;
}

// Fills unset arguments from a profile file (sdk::LoadProfile); the command line wins.
void ApplyProfile(CallArgs& a) {
  if (a.profile.empty()) return;
  auto profile = sdk::LoadProfile(a.profile);
  if (!profile.ok()) Fail(profile.error().message);
  const sdk::ClientOptions& o = profile->options;
  for (auto [field, value] : {std::pair{&a.url, &o.bus_url},
                              {&a.client_id, &o.client_id},
                              {&a.secret, &o.client_secret},
                              {&a.key, &o.private_key},
                              {&a.esb_key, &o.esb_public_key},
                              {&a.ca_file, &o.ca_file}}) {
    if (field->empty()) *field = *value;
  }
}

// A hint for the usual first-contact TLS failures: the bus's own CA not trusted here, or a
// certificate that does not name the host the URL uses.
std::string TlsHint(const sdk::Error& e, const std::string& ca_file) {
  if (e.kind != sdk::ErrorKind::kTransport) return "";
  std::string lower = e.message;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("certificate") == std::string::npos && lower.find("ssl") == std::string::npos &&
      lower.find("tls") == std::string::npos && lower.find("handshake") == std::string::npos) {
    return "";
  }
  if (ca_file.empty()) {
    return ". The bus's TLS certificate is not trusted here: pass the bus's CA with --ca-file "
           "FILE (DATA_DIR/tls/ca.pem on the bus's machine, or the CA file the bus operator "
           "gave you), or set ca_file in the profile";
  }
  return ". The certificate did not verify against --ca-file " + ca_file +
         ": check that it is the bus's CA and that the certificate names the host in --url "
         "(the bus's --tls-name)";
}

void RunCall(CallArgs& a) {
  ApplyProfile(a);
  if (a.api.empty() == a.push.empty()) Fail("give exactly one of --api CODE or --push CODE");
  if (!a.push.empty() && !a.user_id.empty()) Fail("--user-id goes with --api, not --push");
  for (auto [value, name] : {std::pair{&a.url, "--url"},
                             {&a.client_id, "--client-id"},
                             {&a.secret, "--secret"},
                             {&a.key, "--key"},
                             {&a.esb_key, "--esb-public-key"}}) {
    if (value->empty()) Fail(std::string(name) + " is required (or a --profile that has it)");
  }
  sdk::ClientOptions options;
  options.bus_url = a.url;
  options.client_id = a.client_id;
  options.client_secret = a.secret;
  options.private_key = ValueOrFile(a.key);
  options.esb_public_key = ValueOrFile(a.esb_key);
  options.ca_file = a.ca_file;
  options.timeout = std::chrono::milliseconds(a.timeout_ms);
  auto client = sdk::Client::Create(std::move(options));
  if (!client.ok()) Fail(client.error().message);
  std::string body = ValueOrFile(a.body);

  sdk::Result<sdk::Response> r = !a.push.empty() ? (*client)->Push(a.push, body)
                                 : !a.user_id.empty()
                                     ? (*client)->NidaRequest(a.api, a.user_id, body)
                                     : (*client)->Request(a.api, body);
  if (!r.ok()) {
    const sdk::Error& e = r.error();
    std::string where = e.request_id.empty() ? "" : " (requestId " + e.request_id + ")";
    Fail(std::string(sdk::ErrorKindName(e.kind)) + ": " + e.message + where +
         TlsHint(e, a.ca_file));
  }
  std::printf("%s\n", a.json ? r->data.c_str() : r->esb_body.c_str());
}

}  // namespace

void AddCallCommand(CLI::App& app) {
  auto a = std::make_shared<CallArgs>();
  auto* cmd = app.add_subcommand(
      "call",
      "Call an API (or push) through the bus as a consumer system; prints the verified "
      "esbBody");
  cmd->add_option("--profile", a->profile,
                  "JSON file with url, client_id, client_secret, private_key, esb_public_key, "
                  "ca_file");
  cmd->add_option("--url", a->url, "Bus base URL, e.g. https://127.0.0.1:8443");
  cmd->add_option("--client-id", a->client_id, "This system's client_id");
  cmd->add_option("--secret", a->secret, "This system's client_secret");
  cmd->add_option("--key", a->key, "This system's private key (base64 PKCS#8 or PEM, or @file)");
  cmd->add_option("--esb-public-key,--esb-key", a->esb_key,
                  "The bus's (the ESB's) public key: base64 SPKI or PEM, or @file");
  cmd->add_option("--ca-file", a->ca_file, "CA to trust for https (e.g. DATA_DIR/tls/ca.pem)");
  cmd->add_option("--api", a->api, "apiCode to call");
  cmd->add_option("--push", a->push, "pushCode to publish under");
  cmd->add_option("--user-id", a->user_id, "Identity (NIDA-style) request for this userId");
  cmd->add_option("--body", a->body, "JSON body, or @file")->capture_default_str();
  cmd->add_option("--timeout-ms", a->timeout_ms, "Timeout of the call")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print the whole verified data object");
  cmd->callback([a] { RunCall(*a); });
}

}  // namespace govesb::apps
