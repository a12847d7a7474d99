// POST /gw/govesb-uaa/oauth/token: OAuth2 client credentials (wire contract section 2).
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
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

// What became of a credential check handed to the fair pool.
struct CheckOutcome {
  enum class Kind { kChecked, kBusy, kLocked, kStopping };
  static CheckOutcome Checked(Result<const registry::System*> r) {
    CheckOutcome o(Kind::kChecked);
    o.verified = std::move(r);
    return o;
  }
  static CheckOutcome Locked(limits::Decision d, std::string_view why) {
    CheckOutcome o(Kind::kLocked);
    o.lock = d;
    o.why = why;
    return o;
  }
  explicit CheckOutcome(Kind k = Kind::kStopping) : kind(k) {}

  Kind kind;
  std::optional<Result<const registry::System*>> verified;  // kChecked
  limits::Decision lock;                                    // kLocked
  std::string_view why;                                     // kLocked (a literal)
};

// Runs `check` on the pool in `client_id`'s line and resumes the caller on its own executor
// with the outcome (kBusy at once when the lines are full).
asio::awaitable<CheckOutcome> CheckFairly(limits::FairWorkPool& pool, const std::string& client_id,
                                          std::function<CheckOutcome()> check) {
  auto initiate = [&pool, &client_id](auto handler, std::function<CheckOutcome()> job) {
    auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
    auto answer = [waiting](CheckOutcome outcome) {
      auto executor = asio::get_associated_executor(*waiting);
      asio::post(executor, [waiting, outcome = std::move(outcome)]() mutable {
        std::move (*waiting)(std::move(outcome));
      });
    };
    const bool queued = pool.Submit(client_id, [answer, job = std::move(job)](bool run) {
      answer(run ? job() : CheckOutcome());
    });
    if (!queued) answer(CheckOutcome(CheckOutcome::Kind::kBusy));
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(CheckOutcome)>(
      initiate, asio::use_awaitable, std::move(check));
}

}  // namespace

asio::awaitable<HttpResponse> Engine::HandleToken(HttpRequest& request) {
  std::shared_ptr<const registry::System> caller;
  auto run = RunToken(request, caller);
  HttpResponse response = co_await std::move(run);
  if (deps_.guards != nullptr) {
    using O = TokenCounter::Outcome;
    O outcome = O::kRefusedInvalid;  // 400, 405
    switch (response.status) {
      case 200:
        outcome = O::kIssued;
        break;
      case 401:
        outcome = O::kRefusedCredentials;
        break;
      case 429:
        outcome = O::kRefusedLimit;
        break;
      case 503:
        outcome = O::kUnavailable;
        break;
      default:
        break;
    }
    // Only the registry's client ids: a caller cannot make up labels.
    deps_.guards->tokens().Count(caller ? std::string_view(caller->client_id) : "", outcome);
  }
  co_return response;
}

asio::awaitable<HttpResponse> Engine::RunToken(HttpRequest& request,
                                               std::shared_ptr<const registry::System>& caller) {
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
  if (const registry::System* known = snapshot->FindSystem(client_id)) {
    caller = std::shared_ptr<const registry::System>(snapshot, known);  // keeps the snapshot
  }
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
  if (!verified && caller == nullptr) {
    // No such client id: nothing to hash. The answer comes after as long as a check takes,
    // on a timer (no CPU), so an unknown id costs nothing and looks like a known one.
    asio::steady_timer wait(co_await asio::this_coro::executor, deps_.clients->TypicalCheckTime());
    boost::system::error_code ignored;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    verified = Result<const registry::System*>(auth::ClientAuthenticator::Refusal());
  }
  if (!verified) {
    // The slow hash runs on the credential-check pool, never on this I/O thread, in this
    // client id's own line: an attacker's guesses at one id delay another id's check by at most
    // one hash. A lock set while the check waited (by a guess ahead of it) refuses it there,
    // before hashing.
    auto check = [clients = deps_.clients, snapshot, client_id, secret, guards,
                  address]() -> CheckOutcome {
      if (guards != nullptr) {
        limits::Decision by_client = guards->token_clients().Check(client_id);
        if (!by_client.allowed) {
          return CheckOutcome::Locked(by_client,
                                      "too many failed client credentials for this client_id");
        }
        limits::Decision by_address = guards->token_addresses().Check(address);
        if (!by_address.allowed) {
          return CheckOutcome::Locked(by_address,
                                      "too many failed client credentials from this address");
        }
      }
      return CheckOutcome::Checked(clients->Verify(*snapshot, client_id, secret));
    };
    CheckOutcome outcome = co_await CheckFairly(*deps_.credential_checks, client_id, check);
    switch (outcome.kind) {
      case CheckOutcome::Kind::kChecked:
        verified = std::move(outcome.verified);
        break;
      case CheckOutcome::Kind::kLocked:
        co_return TooManyAttempts(outcome.lock.retry_after, outcome.why);
      case CheckOutcome::Kind::kBusy:
        co_return TooManyAttempts(std::chrono::seconds(1),
                                  "too many credential checks waiting; try again shortly");
      case CheckOutcome::Kind::kStopping:
        co_return OAuthError(503, "temporarily_unavailable", "the bus is shutting down");
    }
  }
  if (!verified->ok()) {
    if (guards != nullptr) {
      guards->token_addresses().RecordFailure(address);
      // Only ids that exist: unknown ones would fill the table with an attacker's inventions.
      if (caller != nullptr) {
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
