// The life of a GovESB exchange, stage by stage. Each stage reads and writes one
// ExchangeContext and either continues or stops the exchange with a Status, which refusal.cc
// turns into the consumer's answer (signed, in the consumer's format). The checks are in
// stages.cc, the routes in routes.cc.
//
//   1. route        token endpoint | engine endpoints | health (/health, /healthz alive,
//                   /readyz ready) | public key. Metrics are not on this port (server/).
//   2. parse        the envelope (JSON, or XML by Content-Type); raw `data` span kept
//   3. authenticate the bearer token: Authorization header (with or without "Bearer "),
//                   or `authorization` inside data (Java connector 0.1.5)
//   4. classify     pushCode -> push; requestId without apiCode (or the /async paths) ->
//                   async answer; userId -> identity (NIDA) request; apiCode -> pull
//   4a. admit       the caller's rate limits (per system, per system and API): 429 with
//                   Retry-After; before the signature, so that a flood costs no verification
//   5. verify       the consumer's signature with its registered key (variants unless the
//                   system's fallbacks are off; a variant must verify the text passed on)
//   6. authorise    push: the caller publishes the pushCode; pull: the apiCode exists, the
//                   consumer holds an approved grant, the provider is enabled
//   6a. validate    pull and identity requests: esbBody against the API's contract (its
//                   request schema, compiled with the registry snapshot); refused with the
//                   first failing path and rule, the provider never called
//   6b. replay      the same signed data from the same system within the window: a push or
//                   async answer is refused naming the first requestId; a pull is recorded
//                   (refused where its API says so). Forgotten again if the exchange fails.
//   --- then the route of the exchange's kind (routes.cc):
//   push            the message and one delivery per approved subscription are stored
//                   durably (group commit) before "accepted" is answered; the delivery module
//                   hands them out (retries, dead letters).
//   async answer    the answering provider really owes an answer to that requestId; the
//                   answer is stored durably and delivered to the consumer's callback.
//   pull            deliver: contract 4.3 envelope signed by the bus, POSTed to the provider
//                   (for an asynchronous API the awaited answer is first recorded durably);
//                   check reply: the provider's envelope, verified with the provider's key,
//                   and a success:true answer's esbBody against the API's response schema
//                   (one that does not match is withheld: a 502-class refusal, counted
//                   against the provider);
//                   respond: contract 4.2 envelope signed by the bus, in the consumer's format
//   Evidence: every step's record is written before the answer leaves (fail closed).
#include <spdlog/spdlog.h>

#include <chrono>

#include "base/log_safe_fmt.h"
#include "crypto/primitives.h"
#include "engine/engine.h"
#include "engine/refusal.h"
#include "engine/stages.h"

namespace govesb::engine {

namespace asio = boost::asio;
using http::HttpRequest;
using http::HttpResponse;

namespace {

constexpr std::string_view kTokenPath = "/gw/govesb-uaa/oauth/token";
constexpr std::string_view kEnginePrefix = "/engine/esb";
constexpr std::string_view kEnginePrefixSlash = "/engine/esb/";

}  // namespace

Engine::Engine(EngineDeps deps) : deps_(std::move(deps)) {
  GOVESB_CHECK(deps_.snapshot && deps_.tokens && deps_.clients && deps_.signer && deps_.upstream &&
               deps_.credential_checks && deps_.clock);
  if (deps_.evidence != nullptr) {
    evidence_rounds_ = std::make_unique<EvidenceRounds>(*deps_.evidence);
  }
}

Engine::~Engine() = default;

HttpResponse Engine::ServerError(int status, std::string_view message) const {
  return SignedResponse(status, false, crypto::NewRequestId(), message, "", *deps_.signer,
                        Format::kJson);
}

asio::awaitable<HttpResponse> Engine::Handle(HttpRequest& request) {
  std::string_view path = request.Path();
  // Tolerate a trailing slash on configured URLs.
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == kTokenPath || path == "/oauth/token") co_return co_await HandleToken(request);
  if (path == kEnginePrefix || path.starts_with(kEnginePrefixSlash)) {
    co_return co_await HandleExchange(request);
  }
  if (request.method == "GET" || request.method == "HEAD") {  // HEAD: the server sends no body
    if (path == "/healthz") co_return HandleAlive();
    if (path == "/readyz") co_return HandleReady();
    if (path == "/health") co_return HandleHealth();
    if (path == "/esb-key") co_return HandlePublicKey();
  }
  co_return OAuthError(404, "not_found", "no such endpoint: " + std::string(path));
}

asio::awaitable<HttpResponse> Engine::HandleExchange(HttpRequest& request) {
  if (request.method != "POST") {
    HttpResponse r = OAuthError(405, "method_not_allowed", "engine endpoints take POST");
    r.headers.emplace_back("Allow", "POST");
    co_return r;
  }
  ExchangeContext x(request);
  x.log.request_id = crypto::NewRequestId();
  x.log.log_success = deps_.access_log;
  // The bus's hop of the consumer's trace, or a new trace (W3C Trace Context).
  const std::string_view incoming_trace = request.Header("traceparent");
  std::optional<TraceContext> consumer_trace =
      incoming_trace.empty() ? std::nullopt : TraceContext::Parse(incoming_trace);
  if (consumer_trace) {
    x.log.trace = consumer_trace->Child();
    x.tracestate = PassableTracestate(request.Header("tracestate"));
  } else {
    x.log.trace = TraceContext::Start();
  }
  x.started_ms = deps_.clock->NowMillis();
  x.request_size = request.body.size();
  x.evidence.enabled = deps_.evidence != nullptr;
  if (x.evidence.enabled) x.evidence.records.Reserve(4);  // request, delivery, reply, response
  auto run = RunExchange(x);
  HttpResponse response = co_await std::move(run);
  if (deps_.evidence == nullptr || x.evidence.stored || x.evidence.records.empty()) {
    CountTraffic(x, response);
    co_return response;
  }
  // Fail closed: the answer leaves only once its evidence is durable.
  auto append = evidence_rounds_->Append(std::move(x.evidence.records));
  Status written = co_await std::move(append);
  if (written.ok() || x.evidence.refused) {
    // Nothing is released by a refusal: it still goes out, and the gap is logged.
    if (!written.ok()) {
      spdlog::error("exchange requestId={}: the evidence of its refusal could not be written: {}",
                    Untrusted(x.log.request_id), written.message());
    }
    CountTraffic(x, response);
    co_return response;
  }
  spdlog::error("exchange requestId={} withheld: its evidence could not be written: {}",
                Untrusted(x.log.request_id), written.message());
  Status withheld = Unavailable(
      "the exchange could not be recorded in the evidence log, so its answer is withheld; try "
      "again later");
  HttpResponse refusal =
      Refuse(withheld, x.log.request_id, *deps_.signer, x.format, nullptr,
             x.caller != nullptr ? StyleFor(*x.caller) : wire::JsonStyle::kJackson);
  x.phase = traffic::Phase::kStoring;
  x.outcome = withheld.code();
  CountTraffic(x, refusal);
  co_return refusal;
}

void Engine::CountTraffic(const ExchangeContext& x, const HttpResponse& response) const {
  if (deps_.traffic == nullptr) return;
  traffic::Observation o;
  o.at_ms = x.started_ms;
  o.outcome = traffic::OutcomeOf(x.outcome, x.phase);
  switch (x.kind) {
    case Kind::kPull:
      o.kind = traffic::Kind::kPull;
      break;
    case Kind::kNida:
      o.kind = traffic::Kind::kIdentity;
      break;
    case Kind::kPush:
      o.kind = traffic::Kind::kPush;
      break;
    case Kind::kAsyncAnswer:
      o.kind = traffic::Kind::kAsyncAnswer;
      break;
  }
  // Only codes and ids from the registry are keys: a caller cannot make up new ones.
  const registry::System* caller = x.caller;
  if (x.kind == Kind::kAsyncAnswer) {
    // The answering provider; the awaited request's API is not looked up here.
    if (caller != nullptr) o.provider = caller->client_id;
  } else if (caller != nullptr) {
    o.consumer = caller->client_id;
  }
  if (x.kind == Kind::kPush) {
    const registry::Topic* topic = x.topic;
    if (topic == nullptr && x.snapshot != nullptr) topic = x.snapshot->FindTopic(x.push_code);
    if (topic != nullptr) o.code = topic->code;
  } else if (x.kind != Kind::kAsyncAnswer) {
    const registry::Api* api = x.api;
    if (api == nullptr && x.snapshot != nullptr) api = x.snapshot->FindApi(x.api_code);
    if (api != nullptr) {
      o.code = api->code;
      o.provider = api->provider_client_id;
    }
  }
  const int64_t total_us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - x.log.started)
                               .count();
  o.provider_us = x.provider_us;
  o.bus_us = total_us > x.provider_us ? total_us - x.provider_us : 0;
  o.request_bytes = static_cast<int64_t>(x.request_size);
  o.response_bytes = static_cast<int64_t>(response.body.size());
  deps_.traffic->Record(o);
}

asio::awaitable<HttpResponse> Engine::RunExchange(ExchangeContext& x) {
  if (Status s = ParseStage(x); !s.ok()) co_return RefuseExchange(x, s);
  if (Status s = AuthenticateStage(x, *deps_.tokens, deps_.snapshot()); !s.ok()) {
    co_return RefuseExchange(x, s);
  }
  if (Status s = ClassifyStage(x); !s.ok()) co_return RefuseExchange(x, s);
  Guards* guards = deps_.guards;
  if (guards != nullptr) {
    if (Status s = AdmitStage(x, *guards); !s.ok()) co_return RefuseExchange(x, s);
  }
  if (Status s = VerifyStage(x); !s.ok()) co_return RefuseExchange(x, s);
  if (guards != nullptr) {
    guards->usage().Count(x.caller->id, x.variant);
    // Which form the system signs in, when its text tells (wire::SignedStyle): what the bus
    // learns for systems set to "auto" serialisation.
    if (x.variant == wire::SignatureVariant::kRaw) {
      if (auto style = wire::SignedStyle(x.envelope->data_raw)) {
        guards->usage().CountStyle(x.caller->id, *style);
      }
    }
  }
  if (Status s = AuthoriseStage(x); !s.ok()) co_return RefuseExchange(x, s);
  if (Status s = ValidateStage(x); !s.ok()) co_return RefuseExchange(x, s);
  if (guards != nullptr) {
    if (Status s = ReplayStage(x, *guards); !s.ok()) co_return RefuseExchange(x, s);
  }
  switch (x.kind) {
    case Kind::kPush:
      co_return co_await RoutePush(x);
    case Kind::kAsyncAnswer:
      co_return co_await RouteAsyncAnswer(x);
    case Kind::kPull:
    case Kind::kNida:
      break;
  }
  co_return co_await RoutePull(x);
}

void Engine::RecordRequest(ExchangeContext& x, const Status& outcome) {
  if (x.evidence.request_recorded) return;
  x.evidence.request_recorded = true;
  const wire::IncomingEnvelope* received = x.envelope ? &*x.envelope : nullptr;
  x.evidence.Add(KindName(x.kind), x.log, x.log.consumer, "bus", outcome, x.started_ms,
                 received != nullptr ? received->data_raw : std::string_view(),
                 received != nullptr ? std::string_view(received->signature) : std::string_view(),
                 static_cast<int64_t>(x.request_size), x.verified ? &x.data_sha256 : nullptr,
                 x.verified ? wire::SignatureVariantName(x.variant) : std::string_view());
}

HttpResponse Engine::RefuseExchange(ExchangeContext& x, const Status& status) {
  if (x.awaiting_answer) {
    deps_.delivery->CancelAwait(x.log.request_id);
    x.awaiting_answer = false;
  }
  if (x.replay_recorded) {
    // A failed exchange may be sent again: its bytes are not a replay then.
    deps_.guards->replay()->Forget(
        x.caller->id, x.data_sha256,
        x.kind == Kind::kAsyncAnswer ? x.answered_request_id : x.log.request_id);
    x.replay_recorded = false;
  }
  x.outcome = status.code();
  SignedParts parts;
  HttpResponse r = Refuse(status, x.log.request_id, *deps_.signer, x.format, &parts,
                          x.caller != nullptr ? StyleFor(*x.caller) : wire::JsonStyle::kJackson);
  if (status.code() == StatusCode::kResourceExhausted && x.retry_after_seconds > 0) {
    r.headers.emplace_back("Retry-After", std::to_string(x.retry_after_seconds));
  }
  x.evidence.refused = true;
  x.log.Write(r.status, status);
  RecordRequest(x, status);
  x.evidence.Add("response", x.log, "bus", x.log.consumer, status, deps_.clock->NowMillis(),
                 parts.data, parts.signature, static_cast<int64_t>(r.body.size()),
                 &parts.data_sha256);
  return r;
}

HttpResponse Engine::AcceptedWithEvidence(ExchangeContext& x, delivery::NewMessage& message) {
  SignedParts parts;
  HttpResponse response = SignedResponse(200, true, x.log.request_id, "Success", "", *deps_.signer,
                                         x.format, &parts, StyleFor(*x.caller));
  if (deps_.evidence != nullptr) {
    RecordRequest(x, Status::Ok());
    x.evidence.Add("response", x.log, "bus", x.log.consumer, Status::Ok(), deps_.clock->NowMillis(),
                   parts.data, parts.signature, static_cast<int64_t>(response.body.size()),
                   &parts.data_sha256);
    message.evidence = std::move(x.evidence.records);
    x.evidence.records = evidence::PreparedRecords();
    x.evidence.request_recorded = false;  // a failure to store it is recorded as a refusal
  }
  return response;
}

}  // namespace govesb::engine
