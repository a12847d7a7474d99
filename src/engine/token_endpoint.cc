// POST /gw/govesb-uaa/oauth/token: OAuth2 client credentials (wire contract section 2).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "engine/engine.h"
#include "engine/refusal.h"
#include "http/form.h"
#include "limits/rate.h"
#include "wire/json.h"

namespace govesb::engine {

namespace asio = boost::asio;
using http::HttpRequest;
using http::HttpResponse;

namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// 429 with Retry-After, in the token endpoint's OAuth2 error form.
HttpResponse TooManyAttempts(std::chrono::milliseconds retry_after, std::string_view why) {
  const int64_t seconds = limits::RetryAfterSeconds(retry_after);
  HttpResponse r = OAuthError(429, "too_many_requests",
                              std::string(why) + "; retry after " + std::to_string(seconds) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

}  // namespace

asio::awaitable<HttpResponse> Engine::HandleToken(HttpRequest& request) {
  if (request.method != "POST") {
    HttpResponse r = OAuthError(405, "invalid_request", "the token endpoint takes POST");
    r.headers.emplace_back("Allow", "POST");
    co_return r;
  }
  // Credentials: form fields (urlencoded or multipart) and/or HTTP Basic.
  http::FormFields form;
  if (!request.body.empty()) {
    Result<http::FormFields> parsed =
        StartsWithNoCase(request.content_type, "multipart/form-data")
            ? http::ParseMultipartForm(request.content_type, request.body)
            : http::ParseUrlEncodedForm(request.body);
    if (!parsed.ok()) co_return OAuthError(400, "invalid_request", parsed.status().message());
    form = std::move(parsed).value();
  }
  auto grant = form.find("grant_type");
  if (grant != form.end() && grant->second != "client_credentials") {
    co_return OAuthError(400, "unsupported_grant_type",
                         "only grant_type=client_credentials is supported");
  }
  std::string client_id;
  std::string secret;
  if (auto basic = http::ParseBasicAuthorization(request.authorization)) {
    client_id = std::move(basic->user);
    secret = std::move(basic->password);
  }
  if (client_id.empty()) {
    if (auto it = form.find("client_id"); it != form.end()) client_id = it->second;
    if (auto it = form.find("client_secret"); it != form.end()) secret = it->second;
  }
  if (client_id.empty() || secret.empty()) {
    HttpResponse r = OAuthError(401, "invalid_client",
                                "client credentials are missing: send client_id and "
                                "client_secret as form fields or HTTP Basic authentication");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"govesb\"");
    co_return r;
  }

  std::shared_ptr<const registry::Snapshot> snapshot = deps_.snapshot();
  std::optional<Result<const registry::System*>> verified =
      deps_.clients->TryCached(*snapshot, client_id, secret);
  Guards* guards = deps_.guards;
  const std::string& address = request.remote_address;
  // Credentials already verified pass at once, whatever an attacker did with this client id.
  const bool cached_success = verified && verified->ok();
  if (guards != nullptr && !cached_success) {
    // Locked out: refused before any hashing, so that guessing costs the bus nothing.
    limits::Decision by_address = guards->token_addresses().Check(address);
    if (!by_address.allowed) {
      co_return TooManyAttempts(by_address.retry_after,
                                "too many failed client credentials from this address");
    }
    limits::Decision by_client = guards->token_clients().Check(client_id);
    if (!by_client.allowed) {
      co_return TooManyAttempts(by_client.retry_after,
                                "too many failed client credentials for this client_id");
    }
  }
  if (!verified) {
    std::optional<Guards::HashSlot> slot =
        guards != nullptr ? guards->BeginHash(address) : std::nullopt;
    if (guards != nullptr && !slot) {
      co_return TooManyAttempts(std::chrono::seconds(1),
                                "too many credential checks in progress; try again shortly");
    }
    // The slow hash runs on the blocking pool, never on this I/O thread.
    // Named, not a temporary inside the co_await expression: GCC 12 destroys such
    // temporaries twice.
    auto slow_check =
        [clients = deps_.clients, snapshot, client_id,
         secret]() -> asio::awaitable<std::optional<Result<const registry::System*>>> {
      co_return clients->Verify(*snapshot, client_id, secret);
    };
    auto pending = asio::co_spawn(*deps_.blocking, std::move(slow_check), asio::use_awaitable);
    verified = co_await std::move(pending);
  }
  if (!verified->ok()) {
    if (guards != nullptr) {
      guards->token_addresses().RecordFailure(address);
      // Only ids that exist: unknown ones would fill the table with an attacker's inventions.
      if (snapshot->FindSystem(client_id) != nullptr) {
        guards->token_clients().RecordFailure(client_id);
      }
    }
    HttpResponse r = OAuthError(401, "invalid_client", verified->status().message());
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"govesb\"");
    co_return r;
  }
  if (guards != nullptr && !cached_success) guards->token_clients().RecordSuccess(client_id);
  auto issued = deps_.tokens->Issue(***verified);
  // Exactly these four members: the Java connector maps this with a strict mapper.
  std::string body = "{\"access_token\":";
  wire::WriteString(issued.access_token, body);
  body += ",\"token_type\":\"bearer\",\"expires_in\":" + std::to_string(issued.expires_in) +
          ",\"scope\":\"esb\"}";
  HttpResponse r = HttpResponse::Json(200, std::move(body));
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Pragma", "no-cache");
  co_return r;
}

}  // namespace govesb::engine
