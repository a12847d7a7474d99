// The routes of an exchange that passed every check of pipeline.cc: a push or an
// asynchronous answer is stored durably for delivery; a pull (or identity request) is
// delivered to its provider, whose reply is checked and answered to the consumer.
#include <spdlog/spdlog.h>

#include "crypto/primitives.h"
#include "engine/engine.h"
#include "engine/refusal.h"
#include "engine/stages.h"
#include "minimise/field_allow_list.h"
#include "wire/envelope.h"
#include "wire/messages.h"

namespace govesb::engine {

namespace asio = boost::asio;
using http::HttpResponse;

namespace {

const wire::JsonMember* EsbBody(const ExchangeContext& x) { return x.envelope->Find("esbBody"); }

std::string_view EsbBodyRaw(const ExchangeContext& x) {
  const wire::JsonMember* body = EsbBody(x);
  return body != nullptr ? body->raw : std::string_view();
}

}  // namespace

asio::awaitable<HttpResponse> Engine::RoutePush(ExchangeContext& x) {
  if (deps_.delivery == nullptr) {
    co_return RefuseExchange(x, FailedPrecondition("push is not enabled on this bus; use "
                                                   "/engine/esb/request for synchronous calls"));
  }
  const crypto::Signer& signer = *deps_.signer;
  delivery::NewMessage message;
  message.kind = delivery::MessageKind::kPush;
  message.request_id = x.log.request_id;
  message.code = x.push_code;
  message.source_system_id = x.caller->id;
  message.traceparent = x.log.traceparent();
  message.envelope = wire::SignAndSeal(
      wire::DeliveryData(EsbBodyRaw(x), x.log.request_id, "pushCode", x.push_code), signer);
  for (const registry::Subscription* sub : x.snapshot->ApprovedSubscriptions(x.topic->id)) {
    message.recipients.push_back(
        delivery::Recipient{"sub:" + std::to_string(sub->id), sub->id, sub->subscriber_system_id});
  }
  size_t subscribers = message.recipients.size();
  HttpResponse response = AcceptedWithEvidence(x, message);
  size_t deliveries = 0;
  x.phase = traffic::Phase::kStoring;
  auto accepting = deps_.delivery->Accept(std::move(message), &deliveries);
  Status stored = co_await std::move(accepting);
  if (!stored.ok()) {
    co_return RefuseExchange(x, Unavailable("the push was not accepted because it could not be "
                                            "stored durably; send it again (" +
                                            stored.message() + ")"));
  }
  x.evidence.stored = true;
  x.log.provider = "(" + std::to_string(subscribers) + " subscribers)";
  x.log.Write(200, Status::Ok());
  co_return response;
}

asio::awaitable<HttpResponse> Engine::RouteAsyncAnswer(ExchangeContext& x) {
  if (deps_.delivery == nullptr) {
    co_return RefuseExchange(x, FailedPrecondition("asynchronous answers are not enabled on this "
                                                   "bus; use /engine/esb/request for "
                                                   "synchronous calls"));
  }
  const std::string& answered = x.answered_request_id;
  x.log.request_id = answered;
  auto answer = wire::ReadProviderReply(*x.envelope);
  if (!answer.ok()) {
    co_return RefuseExchange(x, InvalidArgument("an asynchronous answer must carry success (true "
                                                "or false) and esbBody: " +
                                                answer.status().message()));
  }
  std::string message_text =
      answer->success
          ? (answer->message.empty() ? "Success" : answer->message)
          : (answer->message.empty() ? "the provider reported a failure" : answer->message);
  delivery::NewMessage message;
  message.kind = delivery::MessageKind::kAsyncAnswer;
  message.request_id = answered;
  message.source_system_id = x.caller->id;
  message.traceparent = x.log.traceparent();
  message.envelope = wire::SignAndSeal(
      wire::ResponseData(answer->success, answered, message_text, answer->esb_body_raw),
      *deps_.signer);
  message.claim = delivery::AnswerClaim{answered, x.caller->id, deps_.clock->NowMillis()};
  if (answer->success) {
    // The answer's contract: known once the claim names the answered API. An answer that does
    // not match is refused to its provider (it may answer again, correctly) and never reaches
    // the consumer.
    message.claim->check = [snapshot = x.snapshot,
                            body = std::string(answer->esb_body_raw)](std::string_view api_code) {
      const registry::Api* api = snapshot->FindApi(api_code);
      if (api == nullptr) return Status::Ok();
      Status contract = CheckAnswerContract(*api, body);
      if (contract.ok()) return contract;
      return InvalidArgument("the answer does not match the published response contract of API " +
                             std::string(api_code) + ": " + contract.message() +
                             "; it was not passed on");
    };
  }
  HttpResponse response = AcceptedWithEvidence(x, message);
  x.phase = traffic::Phase::kStoring;
  auto accepting = deps_.delivery->Accept(std::move(message), nullptr);
  Status stored = co_await std::move(accepting);
  if (!stored.ok()) {
    if (stored.code() == StatusCode::kUnavailable ||
        stored.code() == StatusCode::kResourceExhausted || stored.code() == StatusCode::kInternal) {
      co_return RefuseExchange(x, Unavailable("the answer was not accepted because it could not "
                                              "be stored durably; send it again (" +
                                              stored.message() + ")"));
    }
    co_return RefuseExchange(x, stored);
  }
  x.evidence.stored = true;
  x.log.Write(200, Status::Ok());
  co_return response;
}

asio::awaitable<HttpResponse> Engine::RoutePull(ExchangeContext& x) {
  const crypto::Signer& signer = *deps_.signer;
  const registry::Api& api = *x.api;
  const registry::System& provider = *x.provider;
  const std::string& api_code = x.api_code;
  if (api.store_bodies && !deps_.evidence_body_key.empty()) {
    x.evidence.body_key = &deps_.evidence_body_key;
  }

  // deliver
  if (api.async) {
    if (deps_.delivery == nullptr) {
      co_return RefuseExchange(x, FailedPrecondition("API " + api_code +
                                                     " is asynchronous, which this bus does not "
                                                     "support"));
    }
    int64_t now = deps_.clock->NowMillis();
    delivery::AwaitedAnswer awaited{
        x.log.request_id, api_code, x.caller->id,
        provider.id,      now,      now + deps_.delivery->answer_window().count()};
    x.phase = traffic::Phase::kStoring;
    auto recording = deps_.delivery->Await(std::move(awaited));
    Status recorded = co_await std::move(recording);
    if (!recorded.ok()) {
      co_return RefuseExchange(x, Unavailable("the request to asynchronous API " + api_code +
                                              " could not be recorded durably; send it again (" +
                                              recorded.message() + ")"));
    }
    x.awaiting_answer = true;
  }
  RecordRequest(x, Status::Ok());
  std::string delivery_data = wire::DeliveryData(EsbBodyRaw(x), x.log.request_id, "apiCode",
                                                 api_code, StyleFor(provider), x.log.purpose);
  const crypto::Sha256Digest delivery_sha256 = crypto::Sha256(delivery_data);
  std::string delivery_signature = signer.SignDigestBase64(delivery_sha256);
  std::string delivery = wire::SealEnvelope(delivery_data, delivery_signature);
  x.evidence.Add("delivery", x.log, "bus", provider.client_id, Status::Ok(),
                 deps_.clock->NowMillis(), delivery_data, delivery_signature,
                 static_cast<int64_t>(delivery.size()), &delivery_sha256);
  http::UpstreamRequest upstream_request;
  upstream_request.url = api.endpoint;
  upstream_request.body = std::move(delivery);
  upstream_request.timeout = std::chrono::milliseconds(api.timeout_ms);
  upstream_request.traceparent = x.log.traceparent();
  upstream_request.tracestate = x.tracestate;
  // (Named awaitable: no temporaries with destructors inside a co_await under GCC 12.)
  x.phase = traffic::Phase::kProvider;
  const auto called = std::chrono::steady_clock::now();
  auto pending = deps_.upstream->Post(std::move(upstream_request));
  auto answer = co_await std::move(pending);
  x.provider_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - called)
                      .count();
  x.log.provider_us = x.provider_us;
  std::string_view reply_variant_name;
  auto record_reply = [&](const Status& outcome, std::string_view data, std::string_view sig,
                          size_t size, const crypto::Sha256Digest* data_sha256 = nullptr) {
    x.evidence.Add("reply", x.log, provider.client_id, "bus", outcome, deps_.clock->NowMillis(),
                   data, sig, static_cast<int64_t>(size), data_sha256, reply_variant_name);
  };
  if (!answer.ok()) {
    // The consumer learns what kind of failure it was; the provider's address and the
    // transport's words go to the operator's log line only.
    const Status& s = answer.status();
    record_reply(s, {}, {}, 0);
    x.log.detail = s.message();
    if (s.code() == StatusCode::kDeadlineExceeded) {
      co_return RefuseExchange(
          x, DeadlineExceeded("the provider of API " + api_code + " did not answer within " +
                              std::to_string(api.timeout_ms) + " ms"));
    }
    if (s.code() == StatusCode::kResourceExhausted) {
      co_return RefuseExchange(x, BadGateway("the answer of the provider of API " + api_code +
                                             " is larger than the limit the bus passes on"));
    }
    if (s.code() == StatusCode::kBadGateway) {
      co_return RefuseExchange(x, BadGateway("the provider of API " + api_code +
                                             " answered with something that is not a complete "
                                             "HTTP answer"));
    }
    co_return RefuseExchange(
        x, Unavailable("the provider of API " + api_code + " could not be reached"));
  }

  // check the provider's reply
  int provider_status = answer->status;
  size_t reply_size = answer->body.size();
  auto reply_env = FormatOf(answer->content_type) == Format::kXml
                       ? wire::ParseXmlEnvelope(std::move(answer->body))
                       : wire::ParseEnvelope(std::move(answer->body));
  if (!reply_env.ok()) {
    record_reply(BadGateway(reply_env.status().message()), {}, {}, reply_size);
    x.log.detail = "HTTP " + std::to_string(provider_status) + ": " + reply_env.status().message();
    co_return RefuseExchange(x, BadGateway("the provider of API " + api_code +
                                           " answered with something that is not a signed "
                                           "GovESB envelope"));
  }
  crypto::Sha256Digest reply_sha256{};
  auto reply_variant = wire::VerifyEnvelope(
      *reply_env, *provider.public_key, &reply_sha256,
      provider.signature_fallbacks ? wire::Fallbacks::kAllowed : wire::Fallbacks::kOff);
  if (reply_variant.ok()) {
    reply_variant_name = wire::SignatureVariantName(*reply_variant);
    if (deps_.guards != nullptr) deps_.guards->usage().Count(provider.id, *reply_variant);
  }
  if (reply_variant.ok() && !wire::VerifiedTextIsPassedOn(*reply_env, *reply_variant)) {
    reply_variant = BadSignature("the reply's signature verifies only over other text");
  }
  if (!reply_variant.ok()) {
    record_reply(BadSignature("the reply's signature does not verify"), reply_env->data_raw,
                 reply_env->signature, reply_size, &reply_sha256);
    co_return RefuseExchange(x, BadSignature("the answer of the provider of API " + api_code +
                                             " failed signature verification; it was not passed "
                                             "on"));
  }
  auto reply = wire::ReadProviderReply(*reply_env);
  if (!reply.ok()) {
    record_reply(reply.status(), reply_env->data_raw, reply_env->signature, reply_size,
                 &reply_sha256);
    x.log.detail = reply.status().message();
    co_return RefuseExchange(x, BadGateway("the provider of API " + api_code +
                                           " answered with an unusable envelope (it must carry "
                                           "success and esbBody)"));
  }

  // The answer's contract (an asynchronous API's immediate reply is only an acknowledgement):
  // an answer that does not match is withheld and counted against the provider.
  if (reply->success && !api.async) {
    if (Status contract = CheckAnswerContract(api, reply->esb_body_raw); !contract.ok()) {
      const Status broken = BadGateway("the answer does not match the API's response contract: " +
                                       contract.message());
      record_reply(broken, reply_env->data_raw, reply_env->signature, reply_size, &reply_sha256);
      x.log.detail = broken.message();
      co_return RefuseExchange(x, BadGateway("the answer of the provider of API " + api_code +
                                             " does not match the API's published response "
                                             "contract; it was not passed on"));
    }
  }

  // respond
  std::string message = reply->success ? "Success"
                                       : (reply->message.empty() ? "the provider reported a failure"
                                                                 : reply->message);
  if (!reply->success && x.awaiting_answer) {
    deps_.delivery->CancelAwait(x.log.request_id);
    x.awaiting_answer = false;
  }
  Status outcome = reply->success ? Status::Ok()
                                  : Status(StatusCode::kFailedPrecondition,
                                           "provider answered success:false: " + message);
  record_reply(outcome, reply_env->data_raw, reply_env->signature, reply_size, &reply_sha256);
  // Data minimisation: the consumer receives only the fields its grant allows.
  std::string_view answer_body = reply->esb_body_raw;
  std::string minimised;
  if (x.grant != nullptr && x.grant->fields != nullptr) {
    minimise::Withheld withheld;
    if (Status filtered = x.grant->fields->Filter(answer_body, minimised, withheld);
        !filtered.ok()) {
      // Not reached (the envelope's esbBody was validated): fail closed all the same.
      x.log.detail = filtered.message();
      co_return RefuseExchange(x, Internal("the answer could not be reduced to the fields the "
                                           "grant allows; it was not passed on"));
    }
    answer_body = minimised;
    x.log.withheld = withheld.ToJson();
  }
  SignedParts parts;
  HttpResponse response =
      SignedResponse(200, reply->success, x.log.request_id, message, answer_body, signer, x.format,
                     &parts, StyleFor(*x.caller));
  x.evidence.Add("response", x.log, "bus", x.log.consumer, outcome, deps_.clock->NowMillis(),
                 parts.data, parts.signature, static_cast<int64_t>(response.body.size()),
                 &parts.data_sha256);
  x.outcome = outcome.code();
  x.log.Write(200, outcome);
  co_return response;
}

}  // namespace govesb::engine
