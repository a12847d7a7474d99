#include "govesb/client.h"

#include <charconv>
#include <cmath>
#include <string>
#include <utility>

#include "base/encoding.h"
#include "crypto/keys.h"
#include "internal.h"
#include "token_cache.h"
#include "transport.h"
#include "wire/envelope.h"
#include "wire/json.h"

namespace govesb::sdk {

using internal::MakeError;

namespace {

constexpr std::chrono::seconds kDefaultTokenLifetime{300};  // when expires_in is missing

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The caller's JSON body, compact (Jackson style), so that its whitespace does not matter and
// what is signed is exactly what is sent. A blank body is an empty object.
Result<std::string> CompactBody(std::string_view json_body) {
  if (IsBlank(json_body)) return std::string("{}");
  std::string out;
  Status s = wire::WriteCompact(json_body, out);
  if (!s.ok())
    return MakeError(ErrorKind::kInvalidArgument, "json_body is not valid JSON: " + s.message());
  return out;
}

std::string JsonString(std::string_view text) {
  std::string out;
  wire::WriteString(text, out);
  return out;
}

// The decoded value of a string member, or the raw JSON text of any other value; "" if absent.
std::string MemberText(const std::vector<wire::JsonMember>& members, std::string_view key) {
  const wire::JsonMember* m = wire::FindMember(members, key);
  if (m == nullptr || m->type == wire::JsonType::kNull) return "";
  if (m->type == wire::JsonType::kString) {
    auto decoded = wire::DecodeString(m->raw);
    return decoded.ok() ? std::move(decoded).value() : std::string();
  }
  return std::string(m->raw);
}

// The reason an OAuth2-style error body gives, or a short excerpt of whatever it is.
std::string OAuthReason(std::string_view body) {
  auto members = wire::ScanObject(body);
  if (members.ok()) {
    for (std::string_view key : {"error_description", "message", "error"}) {
      std::string text = MemberText(*members, key);
      if (!text.empty()) return text;
    }
  }
  std::string excerpt(body.substr(0, 200));
  return excerpt.empty() ? "no reason given" : excerpt;
}

std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : text) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 0x0F]);
    }
  }
  return out;
}

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

struct Client::Impl {
  Impl(ClientOptions o, crypto::PrivateKey k, std::vector<crypto::PublicKey> b,
       std::unique_ptr<internal::HttpTransport> t, internal::Endpoint token,
       internal::Endpoint engine)
      : options(std::move(o)),
        key(std::move(k)),
        bus_keys(std::move(b)),
        transport(std::move(t)),
        token_endpoint(std::move(token)),
        request_endpoint(engine.WithPathSuffix("/request")),
        nida_endpoint(engine.WithPathSuffix("/nida-request")),
        push_endpoint(engine.WithPathSuffix("/push-request")),
        async_endpoint(engine.WithPathSuffix("/async")),
        tokens([this] { return FetchToken(); }, options.refresh_margin) {}

  Result<internal::FetchedToken> FetchToken();
  Result<Response> Call(const internal::Endpoint& endpoint, const std::string& data);
  Result<Response> ReadResponse(int http_status, std::string body) const;

  const ClientOptions options;
  const crypto::PrivateKey key;
  const std::vector<crypto::PublicKey> bus_keys;  // esb_public_key, then the extra ones
  const std::unique_ptr<internal::HttpTransport> transport;
  const internal::Endpoint token_endpoint;
  const internal::Endpoint request_endpoint;
  const internal::Endpoint nida_endpoint;
  const internal::Endpoint push_endpoint;
  const internal::Endpoint async_endpoint;
  internal::TokenCache tokens;
};

// OAuth2 client credentials, both as form fields and as HTTP Basic (clients differ; the bus
// takes either).
Result<internal::FetchedToken> Client::Impl::FetchToken() {
  std::string form = "client_id=" + FormEncode(options.client_id) +
                     "&client_secret=" + FormEncode(options.client_secret) +
                     "&grant_type=client_credentials";
  std::string basic = "Basic " + Base64Encode(options.client_id + ":" + options.client_secret);
  auto reply =
      transport->Post(token_endpoint, "application/x-www-form-urlencoded", basic, std::move(form));
  if (!reply.ok()) return reply.error();
  const int status = reply->status;
  if (status == 400 || status == 401 || status == 403) {
    return MakeError(ErrorKind::kUnauthorized,
                     "the bus refused the client credentials: " + OAuthReason(reply->body), status);
  }
  if (status != 200) {
    return MakeError(ErrorKind::kProtocol,
                     "the token endpoint answered HTTP " + std::to_string(status) + ": " +
                         OAuthReason(reply->body),
                     status);
  }
  auto members = wire::ScanObject(reply->body);
  if (!members.ok()) {
    return MakeError(
        ErrorKind::kProtocol,
        "the token endpoint's answer is not a JSON object: " + members.status().message(), status);
  }
  const wire::JsonMember* access = wire::FindMember(*members, "access_token");
  std::string token = access != nullptr && access->type == wire::JsonType::kString
                          ? MemberText(*members, "access_token")
                          : std::string();
  if (token.empty()) {
    return MakeError(ErrorKind::kProtocol, "the token endpoint's answer has no access_token",
                     status);
  }
  internal::FetchedToken fetched;
  fetched.access_token = std::move(token);
  fetched.lifetime = kDefaultTokenLifetime;
  // expires_in is a number; some servers send it as a string.
  std::string expires = MemberText(*members, "expires_in");
  double seconds = 0;
  auto [end, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), seconds);
  if (!expires.empty() && ec == std::errc() && end == expires.data() + expires.size() &&
      std::isfinite(seconds) && seconds >= 0 && seconds < 1e9) {
    fetched.lifetime = std::chrono::seconds(static_cast<int64_t>(seconds));
  }
  return fetched;
}

// Signs `data`, sends it with the cached token, and once more with a fresh token when the bus
// answers 401 (the cached one may have expired early on the bus's clock or been revoked).
Result<Response> Client::Impl::Call(const internal::Endpoint& endpoint, const std::string& data) {
  const std::string envelope = wire::SealEnvelope(data, key.SignBase64(data));
  for (int attempt = 0;; ++attempt) {
    Result<std::string> token = tokens.Get();
    if (!token.ok()) return token.error();
    auto reply = transport->Post(endpoint, "application/json", "Bearer " + *token, envelope);
    if (!reply.ok()) return reply.error();
    if (reply->status == 401) {
      tokens.Invalidate(*token);
      if (attempt == 0) continue;
      return MakeError(ErrorKind::kUnauthorized,
                       "the bus refused the access token: " + OAuthReason(reply->body), 401);
    }
    return ReadResponse(reply->status, std::move(reply->body));
  }
}

Result<Response> Client::Impl::ReadResponse(int http_status, std::string body) const {
  auto envelope = wire::ParseEnvelope(std::move(body));
  if (!envelope.ok()) {
    return MakeError(
        ErrorKind::kProtocol,
        "the bus answered HTTP " + std::to_string(http_status) +
            " with something that is not a GovESB envelope: " + envelope.status().message(),
        http_status);
  }
  bool verified = false;
  for (const crypto::PublicKey& bus_key : bus_keys) {
    verified = verified || wire::VerifyEnvelope(*envelope, bus_key).ok();
  }
  if (!verified) {
    return MakeError(ErrorKind::kVerification,
                     "the response's signature does not verify against the configured bus "
                     "public key (HTTP " +
                         std::to_string(http_status) + ")",
                     http_status);
  }
  Response r;
  const wire::JsonMember* success = envelope->Find("success");
  if (success != nullptr && success->type == wire::JsonType::kTrue) {
    r.success = true;
  } else if (success != nullptr && success->type == wire::JsonType::kFalse) {
    r.success = false;
  } else {
    std::string text = MemberText(envelope->data, "success");
    if (text != "true" && text != "false") {
      return MakeError(ErrorKind::kProtocol, "the bus's response has no boolean success member",
                       http_status);
    }
    r.success = text == "true";
  }
  r.request_id = MemberText(envelope->data, "requestId");
  r.message = MemberText(envelope->data, "message");
  const wire::JsonMember* esb_body = envelope->Find("esbBody");
  r.esb_body = esb_body != nullptr ? std::string(esb_body->raw) : "{}";
  r.data = std::string(envelope->data_raw);
  if (!r.success) {
    Error e = MakeError(ErrorKind::kRefused,
                        r.message.empty() ? "the bus refused the request" : r.message, http_status);
    e.request_id = r.request_id;
    return e;
  }
  return r;
}

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  auto invalid = [](std::string m) { return MakeError(ErrorKind::kInvalidArgument, std::move(m)); };
  const std::string base = TrimTrailingSlashes(options.bus_url);
  if (options.token_url.empty()) {
    if (base.empty()) return invalid("give bus_url (or both token_url and engine_url)");
    options.token_url = base + "/gw/govesb-uaa/oauth/token";
  }
  if (options.engine_url.empty()) {
    if (base.empty()) return invalid("give bus_url (or both token_url and engine_url)");
    options.engine_url = base + "/engine/esb";
  }
  if (options.client_id.empty()) return invalid("client_id is empty");
  if (options.client_secret.empty()) return invalid("client_secret is empty");
  if (options.timeout.count() <= 0) return invalid("timeout must be positive");
  if (options.refresh_margin.count() < 0) return invalid("refresh_margin must not be negative");
  auto key = crypto::PrivateKey::FromText(options.private_key);
  if (!key.ok()) return invalid("private_key: " + key.status().message());
  const std::string& esb_key =
      options.esb_public_key.empty() ? options.bus_public_key : options.esb_public_key;
  auto bus_key = crypto::PublicKey::FromText(esb_key);
  if (!bus_key.ok()) return invalid("esb_public_key: " + bus_key.status().message());
  std::vector<crypto::PublicKey> bus_keys{std::move(bus_key).value()};
  for (const std::string& extra : options.esb_extra_public_keys) {
    auto parsed = crypto::PublicKey::FromText(extra);
    if (!parsed.ok()) return invalid("esb_extra_public_keys: " + parsed.status().message());
    bus_keys.push_back(std::move(parsed).value());
  }
  auto token = internal::ParseUrl(options.token_url);
  if (!token.ok()) return invalid("token_url: " + token.error().message);
  auto engine = internal::ParseUrl(options.engine_url);
  if (!engine.ok()) return invalid("engine_url: " + engine.error().message);
  internal::TransportOptions topts;
  topts.ca_file = options.ca_file;
  topts.timeout = options.timeout;
  auto transport = internal::HttpTransport::Create(std::move(topts));
  if (!transport.ok()) return transport.error();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(key).value(),
                                     std::move(bus_keys), std::move(transport).value(),
                                     std::move(token).value(), std::move(engine).value());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<Response> Client::Request(std::string_view api_code, std::string_view json_body) {
  if (api_code.empty()) return MakeError(ErrorKind::kInvalidArgument, "api_code is empty");
  auto body = CompactBody(json_body);
  if (!body.ok()) return body.error();
  std::string data = "{\"apiCode\":" + JsonString(api_code) + ",\"esbBody\":" + *body + "}";
  return impl_->Call(impl_->request_endpoint, data);
}

Result<Response> Client::NidaRequest(std::string_view api_code, std::string_view user_id,
                                     std::string_view json_body) {
  if (api_code.empty()) return MakeError(ErrorKind::kInvalidArgument, "api_code is empty");
  auto body = CompactBody(json_body);
  if (!body.ok()) return body.error();
  std::string data = "{\"apiCode\":" + JsonString(api_code) + ",\"userId\":" + JsonString(user_id) +
                     ",\"esbBody\":{\"Payload\":" + *body + "}}";
  return impl_->Call(impl_->nida_endpoint, data);
}

Result<Response> Client::Push(std::string_view push_code, std::string_view json_body) {
  if (push_code.empty()) return MakeError(ErrorKind::kInvalidArgument, "push_code is empty");
  auto body = CompactBody(json_body);
  if (!body.ok()) return body.error();
  std::string data = "{\"pushCode\":" + JsonString(push_code) + ",\"esbBody\":" + *body + "}";
  return impl_->Call(impl_->push_endpoint, data);
}

Result<Response> Client::AsyncAnswer(std::string_view request_id, bool success,
                                     std::string_view json_body, std::string_view message) {
  if (request_id.empty()) return MakeError(ErrorKind::kInvalidArgument, "request_id is empty");
  auto body = CompactBody(json_body);
  if (!body.ok()) return body.error();
  std::string data = "{\"requestId\":" + JsonString(request_id) +
                     ",\"success\":" + (success ? "true" : "false") + ",\"esbBody\":" + *body;
  if (!message.empty()) data += ",\"message\":" + JsonString(message);
  data += "}";
  return impl_->Call(impl_->async_endpoint, data);
}

Result<std::string> Client::AccessToken() { return impl_->tokens.Get(); }

int Client::token_fetches() const { return impl_->tokens.fetches(); }

}  // namespace govesb::sdk
