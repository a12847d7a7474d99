// The life of a GovESB exchange, stage by stage. Each stage either continues or stops the
// exchange with a Status, which refusal.cc turns into the consumer's answer.
//
//   1. route        token endpoint | engine endpoints | health | public key
//   2. parse        the envelope (JSON, or XML by Content-Type); raw `data` span kept
//   3. authenticate the bearer token: Authorization header (with or without "Bearer "),
//                   or `authorization` inside data (Java connector 0.1.5)
//   4. classify     pushCode -> push; requestId without apiCode (or the /async paths) ->
//                   async answer; userId -> identity (NIDA) request; apiCode -> pull
//   5. verify       the consumer's signature with its registered key (all variants)
//   --- push: the publisher owns the pushCode; the message and one delivery per approved
//       subscription are stored durably (group commit) before "accepted" is answered; the
//       delivery module hands them out (retries, dead letters).
//   --- async answer: the answering provider really owes an answer to that requestId; the
//       answer is stored durably and delivered to the consumer's callback endpoint.
//   6. authorise    the apiCode exists and the consumer holds an approved grant
//   7. deliver      contract 4.3 envelope signed by the bus, POSTed to the provider over the
//                   pooled client with the API's timeout. For an asynchronous API the awaited
//                   answer is first recorded durably (the provider may answer at once).
//   8. check reply  the provider's envelope, verified with the provider's key
//   9. respond      contract 4.2 envelope signed by the bus, in the consumer's format
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

#include "crypto/primitives.h"
#include "engine/engine.h"
#include "engine/refusal.h"
#include "http/await_status.h"
#include "wire/envelope.h"
#include "wire/json.h"
#include "wire/messages.h"

namespace govesb::engine {

namespace asio = boost::asio;
using http::HttpRequest;
using http::HttpResponse;

namespace {

constexpr std::string_view kTokenPath = "/gw/govesb-uaa/oauth/token";
constexpr std::string_view kEnginePrefix = "/engine/esb";
constexpr std::string_view kEnginePrefixSlash = "/engine/esb/";

enum class Kind { kPull, kNida, kPush, kAsyncAnswer };

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kPull:
      return "request";
    case Kind::kNida:
      return "nida-request";
    case Kind::kPush:
      return "push";
    case Kind::kAsyncAnswer:
      return "async";
  }
  return "?";
}

bool IsXml(std::string_view content_type) {
  return content_type.find("xml") != std::string_view::npos;
}

// A string member of data, decoded; empty when absent or not a string.
std::string StringMember(const wire::IncomingEnvelope& env, std::string_view key) {
  const wire::JsonMember* m = env.Find(key);
  if (m == nullptr || m->type != wire::JsonType::kString) return {};
  auto decoded = wire::DecodeString(m->raw);
  return decoded.ok() ? *decoded : std::string();
}

// Everything known about one exchange, for the log line.
struct ExchangeLog {
  std::string request_id;
  std::string_view kind = "-";
  std::string consumer = "-";
  std::string api = "-";
  std::string provider = "-";
  std::string user_id;
  std::string_view signature_variant = "-";
  Kind kind_value = Kind::kPull;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  void Write(int http_status, const Status& outcome) const {
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    if (outcome.ok()) {
      spdlog::info(
          "exchange requestId={} kind={} consumer={} api={} provider={} sig={} http={} "
          "outcome=ok latency_ms={:.2f}",
          request_id, kind, consumer, api, provider, signature_variant, http_status, ms);
    } else {
      spdlog::warn(
          "exchange requestId={} kind={} consumer={} api={} provider={} sig={} http={} "
          "outcome={} error=\"{}\" latency_ms={:.2f}",
          request_id, kind, consumer, api, provider, signature_variant, http_status,
          StatusCodeName(outcome.code()), outcome.message(), ms);
    }
  }
};

}  // namespace

// The evidence of one exchange, collected step by step and written before the answer leaves.
struct Engine::ExchangeEvidence {
  // The records' texts, made as each step happens (no copy of its fields is kept).
  evidence::PreparedRecords records;
  // False when the bus runs without an evidence log (`serve --no-evidence`): then no record
  // is made at all, not even the hashes of the bodies and signatures.
  bool enabled = true;
  bool stored = false;  // already written together with the message (push, async answer)
  bool request_recorded = false;
  bool refused = false;    // the answer is a refusal made by the bus (carries nothing else)
  std::string request_id;  // for a fail-closed answer
  Format format = Format::kJson;
  int64_t started_ms = 0;
  // Set for an API with store_bodies: the bodies the parties send (the request, the reply)
  // are kept, encrypted under this key.
  const std::string* body_key = nullptr;

  void Add(std::string_view kind, const ExchangeLog& log, std::string_view from,
           std::string_view to, const Status& outcome, int64_t at_ms, std::string_view data,
           std::string_view signature, int64_t size,
           const crypto::Sha256Digest* data_sha256 = nullptr) {
    if (!enabled) return;
    evidence::RecordView r;
    r.at_ms = at_ms;
    r.request_id = log.request_id;
    r.kind = kind;
    r.from = from;
    r.to = to;
    r.code = log.api == "-" ? std::string_view() : std::string_view(log.api);
    r.user_id = log.user_id;
    r.outcome = outcome.ok() ? std::string_view("ok") : StatusCodeName(outcome.code());
    r.error = outcome.ok() ? std::string_view() : std::string_view(outcome.message());
    r.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - log.started)
                       .count();
    r.size = size;
    // The SHA-256 that signing or verifying made already, when there is one.
    crypto::Sha256Digest made{};
    if (!data.empty()) {
      if (data_sha256 == nullptr) {
        made = crypto::Sha256(data);
        data_sha256 = &made;
      }
      r.body_digest = data_sha256;
    }
    r.signature = signature;
    r.signature_sha256_derived = true;
    std::string sealed_body;
    if (body_key != nullptr && from != "bus" && !data.empty()) {
      auto sealed = evidence::SealBody(*body_key, log.request_id, kind, data);
      if (sealed.ok()) {
        sealed_body = std::move(*sealed);
        r.body_encrypted = sealed_body;
      } else {
        spdlog::error("evidence: a body of exchange {} could not be encrypted: {}", log.request_id,
                      sealed.status().message());
      }
    }
    records.Add(r);
  }
};

Engine::Engine(EngineDeps deps) : deps_(std::move(deps)) {
  GOVESB_CHECK(deps_.snapshot && deps_.tokens && deps_.clients && deps_.signer && deps_.upstream &&
               deps_.blocking && deps_.clock);
}

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
  if (request.method == "GET" && path == "/health") co_return HandleHealth();
  if (request.method == "GET" && path == "/esb-key") co_return HandlePublicKey();
  if (request.method == "GET" && path == "/metrics") co_return HandleMetrics();
  co_return OAuthError(404, "not_found", "no such endpoint: " + std::string(path));
}

HttpResponse Engine::HandleHealth() const {
  auto snapshot = deps_.snapshot();
  std::string body =
      "{\"status\":\"ok\",\"systems\":" + std::to_string(snapshot->enabled_system_count()) +
      ",\"apis\":" + std::to_string(snapshot->api_count()) + "}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse Engine::HandlePublicKey() const {
  const auto& key = deps_.signer->public_key();
  std::string body = "{\"public_key\":\"" + key.SpkiBase64() + "\",\"curve\":\"" +
                     std::string(crypto::CurveName(key.curve())) + "\"}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse Engine::HandleMetrics() const {
  std::string body;
  auto snapshot = deps_.snapshot();
  body += "# HELP govesb_registry_systems Enabled systems in the registry.\n";
  body += "# TYPE govesb_registry_systems gauge\n";
  body += "govesb_registry_systems " + std::to_string(snapshot->enabled_system_count()) + "\n";
  if (deps_.delivery != nullptr) body += delivery::PrometheusText(deps_.delivery->Metrics());
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(body);
  return r;
}

asio::awaitable<HttpResponse> Engine::HandleExchange(HttpRequest& request) {
  ExchangeEvidence ev;
  ev.enabled = deps_.evidence != nullptr;
  if (ev.enabled) ev.records.Reserve(4);  // request, delivery, reply, response
  auto run = RunExchange(request, ev);
  HttpResponse response = co_await std::move(run);
  if (deps_.evidence == nullptr || ev.stored || ev.records.empty()) co_return response;
  // Fail closed: the answer leaves only once its evidence is durable.
  auto start = [log = deps_.evidence, records = std::move(ev.records)](auto complete) mutable {
    log->Append(std::move(records), std::move(complete));
  };
  auto append = http::AwaitStatus(std::move(start));
  Status written = co_await std::move(append);
  if (written.ok()) co_return response;
  if (ev.refused) {
    // Nothing is released by a refusal: it still goes out, and the gap is logged.
    spdlog::error("exchange requestId={}: the evidence of its refusal could not be written: {}",
                  ev.request_id, written.message());
    co_return response;
  }
  spdlog::error("exchange requestId={} withheld: its evidence could not be written: {}",
                ev.request_id, written.message());
  co_return Refuse(Unavailable("the exchange could not be recorded in the evidence log, so its "
                               "answer is withheld; try again later"),
                   ev.request_id, *deps_.signer, ev.format);
}

asio::awaitable<HttpResponse> Engine::RunExchange(HttpRequest& request, ExchangeEvidence& ev) {
  const crypto::Signer& signer = *deps_.signer;
  ExchangeLog log;
  log.request_id = crypto::NewRequestId();
  Format format = IsXml(request.content_type) ? Format::kXml : Format::kJson;
  ev.format = format;
  ev.request_id = log.request_id;
  ev.started_ms = deps_.clock->NowMillis();
  const wire::IncomingEnvelope* received = nullptr;     // once parsed
  std::optional<crypto::Sha256Digest> received_sha256;  // of its data, once verified
  size_t request_size = request.body.size();
  // The consumer's request: accepted (all checks passed) or refused, with its signed data.
  auto record_request = [&](const Status& outcome) {
    if (ev.request_recorded) return;
    ev.request_recorded = true;
    ev.Add(KindName(log.kind_value), log, log.consumer, "bus", outcome, ev.started_ms,
           received != nullptr ? received->data_raw : std::string_view(),
           received != nullptr ? std::string_view(received->signature) : std::string_view(),
           static_cast<int64_t>(request_size), received_sha256 ? &*received_sha256 : nullptr);
  };
  // Set once an asynchronous API's awaited answer is recorded: a failed delivery cancels it.
  bool awaiting_answer = false;
  auto refuse = [&](const Status& status) {
    if (awaiting_answer) {
      deps_.delivery->CancelAwait(log.request_id);
      awaiting_answer = false;
    }
    SignedParts parts;
    HttpResponse r = Refuse(status, log.request_id, signer, format, &parts);
    ev.refused = true;
    log.Write(r.status, status);
    record_request(status);
    ev.Add("response", log, "bus", log.consumer, status, deps_.clock->NowMillis(), parts.data,
           parts.signature, static_cast<int64_t>(r.body.size()), &parts.data_sha256);
    return r;
  };

  // The success:true answer to a push or an async answer, made before the message is stored so
  // that its evidence (with the request's) is stored with the message: both or neither.
  auto accepted_with_evidence = [&](delivery::NewMessage& message) {
    SignedParts parts;
    HttpResponse response =
        SignedResponse(200, true, log.request_id, "Success", "", signer, format, &parts);
    if (deps_.evidence != nullptr) {
      record_request(Status::Ok());
      ev.Add("response", log, "bus", log.consumer, Status::Ok(), deps_.clock->NowMillis(),
             parts.data, parts.signature, static_cast<int64_t>(response.body.size()),
             &parts.data_sha256);
      message.evidence = std::move(ev.records);
      ev.records = evidence::PreparedRecords();
      ev.request_recorded = false;  // a failure to store it is recorded as a refusal
    }
    return response;
  };

  if (request.method != "POST") {
    HttpResponse r = OAuthError(405, "method_not_allowed", "engine endpoints take POST");
    r.headers.emplace_back("Allow", "POST");
    co_return r;
  }

  // 2. parse
  auto parsed = format == Format::kXml ? wire::ParseXmlEnvelope(std::move(request.body))
                                       : wire::ParseEnvelope(std::move(request.body));
  if (!parsed.ok()) co_return refuse(InvalidArgument(parsed.status().message()));
  const wire::IncomingEnvelope& env = *parsed;
  received = &env;

  // 3. authenticate
  std::shared_ptr<const registry::Snapshot> snapshot = deps_.snapshot();
  std::string token(auth::TokenFromAuthorization(request.authorization));
  if (token.empty()) token = StringMember(env, "authorization");
  auto consumer = deps_.tokens->Authenticate(token, *snapshot);
  if (!consumer.ok()) co_return refuse(consumer.status());
  const registry::System& caller = **consumer;
  log.consumer = caller.client_id;

  // 4. classify
  std::string push_code = StringMember(env, "pushCode");
  std::string api_code = StringMember(env, "apiCode");
  std::string request_id_member = StringMember(env, "requestId");
  log.user_id = StringMember(env, "userId");
  Kind kind = Kind::kPull;
  std::string_view path = request.Path();
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  bool async_path = path == "/engine/esb/async" || path == "/engine/esb/async-response";
  if (!push_code.empty()) {
    kind = Kind::kPush;
  } else if (async_path || (api_code.empty() && !request_id_member.empty())) {
    kind = Kind::kAsyncAnswer;
  } else if (env.Find("userId") != nullptr) {
    kind = Kind::kNida;
  }
  log.kind = KindName(kind);
  log.kind_value = kind;
  if (kind == Kind::kPull || kind == Kind::kNida) {
    if (api_code.empty()) {
      co_return refuse(InvalidArgument(
          "data must carry apiCode (the code of the API to call) as a string, or pushCode to "
          "publish"));
    }
    log.api = api_code;
  }

  // 5. verify the consumer's signature
  if (!caller.public_key.has_value()) {
    co_return refuse(BadSignature("the public key registered for system " + caller.client_id +
                                  " cannot be used; ask the bus operator to register it again"));
  }
  crypto::Sha256Digest request_sha256{};
  auto variant = wire::VerifyEnvelope(env, *caller.public_key, &request_sha256);
  received_sha256 = request_sha256;
  if (!variant.ok()) {
    co_return refuse(BadSignature(
        "signature does not verify against the public key registered for system " +
        caller.client_id +
        ": sign the exact bytes of data with that system's private key (ECDSA with SHA-256, "
        "DER, base64)"));
  }
  log.signature_variant = wire::SignatureVariantName(*variant);

  if ((kind == Kind::kPush || kind == Kind::kAsyncAnswer) && deps_.delivery == nullptr) {
    co_return refuse(FailedPrecondition(
        std::string(kind == Kind::kPush ? "push" : "asynchronous answers") +
        " are not enabled on this bus; use /engine/esb/request for synchronous calls"));
  }
  const wire::JsonMember* body = env.Find("esbBody");
  std::string_view body_raw = body != nullptr ? body->raw : std::string_view();

  if (kind == Kind::kPush) {
    log.api = push_code;
    const registry::Topic* topic = snapshot->FindTopic(push_code);
    if (topic == nullptr) {
      co_return refuse(NotFound("unknown pushCode '" + push_code +
                                "': no push topic with this code is registered on the bus "
                                "(codes are case-sensitive)"));
    }
    if (topic->publisher_system_id != caller.id) {
      co_return refuse(PermissionDenied("system " + caller.client_id +
                                        " is not the publisher of push topic " + push_code +
                                        "; only its publisher may push to it"));
    }
    delivery::NewMessage message;
    message.kind = delivery::MessageKind::kPush;
    message.request_id = log.request_id;
    message.code = push_code;
    message.source_system_id = caller.id;
    message.envelope = wire::SignAndSeal(
        wire::DeliveryData(body_raw, log.request_id, "pushCode", push_code), signer);
    for (const registry::Subscription* sub : snapshot->ApprovedSubscriptions(topic->id)) {
      message.recipients.push_back(delivery::Recipient{"sub:" + std::to_string(sub->id), sub->id,
                                                       sub->subscriber_system_id});
    }
    size_t subscribers = message.recipients.size();
    HttpResponse response = accepted_with_evidence(message);
    size_t deliveries = 0;
    auto accepting = deps_.delivery->Accept(std::move(message), &deliveries);
    Status stored = co_await std::move(accepting);
    if (!stored.ok()) {
      co_return refuse(
          Unavailable("the push was not accepted because it could not be stored "
                      "durably; send it again (" +
                      stored.message() + ")"));
    }
    ev.stored = true;
    log.provider = "(" + std::to_string(subscribers) + " subscribers)";
    log.Write(200, Status::Ok());
    co_return response;
  }

  if (kind == Kind::kAsyncAnswer) {
    if (request_id_member.empty() || request_id_member.size() > 64) {
      co_return refuse(InvalidArgument(
          "an asynchronous answer carries requestId (the id of the request being answered, as "
          "delivered), success, esbBody and optionally message"));
    }
    log.request_id = request_id_member;
    auto answer = wire::ReadProviderReply(env);
    if (!answer.ok()) {
      co_return refuse(
          InvalidArgument("an asynchronous answer must carry success (true or "
                          "false) and esbBody: " +
                          answer.status().message()));
    }
    std::string message_text =
        answer->success
            ? (answer->message.empty() ? "Success" : answer->message)
            : (answer->message.empty() ? "the provider reported a failure" : answer->message);
    delivery::NewMessage message;
    message.kind = delivery::MessageKind::kAsyncAnswer;
    message.request_id = request_id_member;
    message.source_system_id = caller.id;
    message.envelope = wire::SignAndSeal(
        wire::ResponseData(answer->success, request_id_member, message_text, answer->esb_body_raw),
        signer);
    message.claim = delivery::AnswerClaim{request_id_member, caller.id, deps_.clock->NowMillis()};
    HttpResponse response = accepted_with_evidence(message);
    auto accepting = deps_.delivery->Accept(std::move(message), nullptr);
    Status stored = co_await std::move(accepting);
    if (!stored.ok()) {
      if (stored.code() == StatusCode::kUnavailable) {
        co_return refuse(
            Unavailable("the answer was not accepted because it could not be "
                        "stored durably; send it again (" +
                        stored.message() + ")"));
      }
      co_return refuse(stored);
    }
    ev.stored = true;
    log.Write(200, Status::Ok());
    co_return response;
  }

  // 6. authorise
  const registry::Api* api = snapshot->FindApi(api_code);
  if (api == nullptr) {
    co_return refuse(NotFound("unknown apiCode '" + api_code +
                              "': no API with this code is registered on the bus (codes are "
                              "case-sensitive)"));
  }
  if (!snapshot->HasApprovedGrant(caller.id, api->id)) {
    co_return refuse(PermissionDenied("system " + caller.client_id +
                                      " has no approved access to API " + api_code +
                                      "; ask the bus operator for a grant"));
  }
  const registry::System* provider = snapshot->FindSystemById(api->provider_system_id);
  if (provider == nullptr || !provider->enabled) {
    co_return refuse(Unavailable("the provider of API " + api_code + " is disabled"));
  }
  log.provider = provider->client_id;
  if (api->store_bodies && !deps_.evidence_body_key.empty()) ev.body_key = &deps_.evidence_body_key;
  if (!provider->public_key.has_value()) {
    co_return refuse(
        Unavailable("the provider of API " + api_code + " has no usable public key registered"));
  }

  // 7. deliver
  if (api->async) {
    if (deps_.delivery == nullptr) {
      co_return refuse(FailedPrecondition("API " + api_code +
                                          " is asynchronous, which this bus does not support"));
    }
    int64_t now = deps_.clock->NowMillis();
    delivery::AwaitedAnswer awaited{
        log.request_id, api_code, caller.id,
        provider->id,   now,      now + deps_.delivery->answer_window().count()};
    auto recording = deps_.delivery->Await(std::move(awaited));
    Status recorded = co_await std::move(recording);
    if (!recorded.ok()) {
      co_return refuse(Unavailable("the request to asynchronous API " + api_code +
                                   " could not be recorded durably; send it again (" +
                                   recorded.message() + ")"));
    }
    awaiting_answer = true;
  }
  record_request(Status::Ok());
  std::string delivery_data = wire::DeliveryData(body_raw, log.request_id, "apiCode", api_code);
  const crypto::Sha256Digest delivery_sha256 = crypto::Sha256(delivery_data);
  std::string delivery_signature = signer.SignDigestBase64(delivery_sha256);
  std::string delivery = wire::SealEnvelope(delivery_data, delivery_signature);
  ev.Add("delivery", log, "bus", provider->client_id, Status::Ok(), deps_.clock->NowMillis(),
         delivery_data, delivery_signature, static_cast<int64_t>(delivery.size()),
         &delivery_sha256);
  http::UpstreamRequest upstream_request;
  upstream_request.url = api->endpoint;
  upstream_request.body = std::move(delivery);
  upstream_request.content_type = "application/json";
  upstream_request.timeout = std::chrono::milliseconds(api->timeout_ms);
  // (Named awaitable: no temporaries with destructors inside a co_await under GCC 12.)
  auto pending = deps_.upstream->Post(std::move(upstream_request));
  auto answer = co_await std::move(pending);
  auto record_reply = [&](const Status& outcome, std::string_view data, std::string_view sig,
                          size_t size, const crypto::Sha256Digest* data_sha256 = nullptr) {
    ev.Add("reply", log, provider->client_id, "bus", outcome, deps_.clock->NowMillis(), data, sig,
           static_cast<int64_t>(size), data_sha256);
  };
  if (!answer.ok()) {
    const Status& s = answer.status();
    record_reply(s, {}, {}, 0);
    std::string message =
        s.code() == StatusCode::kDeadlineExceeded
            ? "the provider of API " + api_code + " did not answer within " +
                  std::to_string(api->timeout_ms) + " ms"
            : "the provider of API " + api_code + " could not be reached: " + s.message();
    co_return refuse(Status(s.code() == StatusCode::kDeadlineExceeded
                                ? StatusCode::kDeadlineExceeded
                                : (s.code() == StatusCode::kBadGateway ? StatusCode::kBadGateway
                                                                       : StatusCode::kUnavailable),
                            std::move(message)));
  }

  // 8. check the provider's reply
  int provider_status = answer->status;
  size_t reply_size = answer->body.size();
  auto reply_env = IsXml(answer->content_type) ? wire::ParseXmlEnvelope(std::move(answer->body))
                                               : wire::ParseEnvelope(std::move(answer->body));
  if (!reply_env.ok()) {
    record_reply(BadGateway(reply_env.status().message()), {}, {}, reply_size);
    co_return refuse(BadGateway("the provider of API " + api_code +
                                " answered with something that is not a signed GovESB envelope "
                                "(HTTP " +
                                std::to_string(provider_status) +
                                "): " + reply_env.status().message()));
  }
  crypto::Sha256Digest reply_sha256{};
  auto reply_variant = wire::VerifyEnvelope(*reply_env, *provider->public_key, &reply_sha256);
  if (!reply_variant.ok()) {
    record_reply(BadSignature("the reply's signature does not verify"), reply_env->data_raw,
                 reply_env->signature, reply_size, &reply_sha256);
    co_return refuse(BadSignature("the answer of the provider of API " + api_code +
                                  " failed signature verification; it was not passed on"));
  }
  auto reply = wire::ReadProviderReply(*reply_env);
  if (!reply.ok()) {
    record_reply(reply.status(), reply_env->data_raw, reply_env->signature, reply_size,
                 &reply_sha256);
    co_return refuse(
        BadGateway("the provider of API " + api_code +
                   " answered with an unusable envelope: " + reply.status().message()));
  }

  // 9. respond
  std::string message = reply->success ? "Success"
                                       : (reply->message.empty() ? "the provider reported a failure"
                                                                 : reply->message);
  if (!reply->success && awaiting_answer) {
    deps_.delivery->CancelAwait(log.request_id);
    awaiting_answer = false;
  }
  Status outcome = reply->success ? Status::Ok()
                                  : Status(StatusCode::kFailedPrecondition,
                                           "provider answered success:false: " + message);
  record_reply(outcome, reply_env->data_raw, reply_env->signature, reply_size, &reply_sha256);
  SignedParts parts;
  HttpResponse response = SignedResponse(200, reply->success, log.request_id, message,
                                         reply->esb_body_raw, signer, format, &parts);
  ev.Add("response", log, "bus", log.consumer, outcome, deps_.clock->NowMillis(), parts.data,
         parts.signature, static_cast<int64_t>(response.body.size()), &parts.data_sha256);
  log.Write(200, outcome);
  co_return response;
}

}  // namespace govesb::engine
