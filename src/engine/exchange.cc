#include "engine/exchange.h"

#include <spdlog/spdlog.h>

#include "base/log_safe.h"
#include "base/log_safe_fmt.h"
#include "logging/json_log.h"

namespace govesb::engine {

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

void ExchangeLog::Write(int http_status, const Status& outcome) const {
  if (outcome.ok() && (!log_success || !spdlog::should_log(spdlog::level::info))) return;
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const double provider_ms = provider_us >= 0 ? static_cast<double>(provider_us) / 1000.0 : -1.0;
  if (JsonLogs()) {
    // Codes, ids and messages quote what the caller sent: JsonLogEvent escapes and bounds each.
    JsonLogEvent event("exchange");
    event.Str("requestId", request_id, 80)
        .Str("kind", kind)
        .Str("consumer", consumer)
        .Str("api", api, 80)
        .Str("provider", provider)
        .Str("signatureVariant", signature_variant)
        .Int("http", http_status)
        .Str("outcome", outcome.ok() ? std::string_view("ok") : StatusCodeName(outcome.code()));
    if (!outcome.ok()) event.Str("error", outcome.message(), 512);
    event.Millis("latencyMs", ms);
    if (provider_ms >= 0) {
      event.Millis("busMs", ms > provider_ms ? ms - provider_ms : 0.0);
      event.Millis("providerMs", provider_ms);
    } else {
      event.Millis("busMs", ms);
    }
    if (trace) event.Str("traceId", trace->trace_id()).Str("traceparent", trace->traceparent());
    if (!purpose.empty()) event.Str("purpose", purpose, 40);
    if (!withheld.empty()) event.Str("withheld", withheld, 1024);
    if (!replay_of.empty()) event.Str("replayOf", replay_of, 80);
    if (!detail.empty()) event.Str("detail", detail, 512);
    if (outcome.ok()) {
      spdlog::info("{}", event.text());
    } else {
      spdlog::warn("{}", event.text());
    }
    return;
  }
  // Codes, ids and messages quote what the caller sent: each is escaped and bounded, so that a
  // request cannot write a line of its own (issue 13, point 5). Client ids come from the
  // registry.
  std::string extra;
  if (provider_ms >= 0) {
    extra += fmt::format(" provider_ms={:.2f}", provider_ms);
  }
  if (trace) {
    extra += " trace_id=";
    extra += trace->trace_id();
  }
  if (!purpose.empty()) {
    extra += " purpose=";
    extra += purpose;  // a validated code
  }
  if (!withheld.empty()) {
    extra += " withheld=";
    AppendLogSafe(extra, withheld, 1024);
  }
  if (!replay_of.empty()) {
    extra += " replay_of=";
    AppendLogSafe(extra, replay_of, 80);
  }
  if (!detail.empty()) {
    extra += " detail=\"";
    AppendLogSafe(extra, detail, 512);
    extra += '"';
  }
  if (outcome.ok()) {
    spdlog::info(
        "exchange requestId={} kind={} consumer={} api={} provider={} sig={} http={} "
        "outcome=ok latency_ms={:.2f}{}",
        Untrusted(request_id, 80), kind, consumer, Untrusted(api, 80), provider, signature_variant,
        http_status, ms, extra);
  } else {
    spdlog::warn(
        "exchange requestId={} kind={} consumer={} api={} provider={} sig={} http={} "
        "outcome={} error=\"{}\" latency_ms={:.2f}{}",
        Untrusted(request_id, 80), kind, consumer, Untrusted(api, 80), provider, signature_variant,
        http_status, StatusCodeName(outcome.code()), Untrusted(outcome.message(), 512), ms, extra);
  }
}

void ExchangeEvidence::Add(std::string_view kind, const ExchangeLog& log, std::string_view from,
                           std::string_view to, const Status& outcome, int64_t at_ms,
                           std::string_view data, std::string_view signature, int64_t size,
                           const crypto::Sha256Digest* data_sha256,
                           std::string_view signature_variant) {
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
  r.signature_variant = signature_variant;
  r.traceparent = log.traceparent();
  r.purpose = log.purpose;
  r.withheld = log.withheld;
  std::string sealed_body;
  if (body_key != nullptr && from != "bus" && !data.empty()) {
    auto sealed = evidence::SealBody(*body_key, log.request_id, kind, data);
    if (sealed.ok()) {
      sealed_body = std::move(*sealed);
      r.body_encrypted = sealed_body;
    } else {
      spdlog::error("evidence: a body of exchange {} could not be encrypted: {}",
                    Untrusted(log.request_id), sealed.status().message());
    }
  }
  records.Add(r);
}

}  // namespace govesb::engine
