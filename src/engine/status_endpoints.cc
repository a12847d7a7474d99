// GET /health, /esb-key and /metrics.
#include "delivery/dispatcher.h"
#include "engine/engine.h"

namespace govesb::engine {

using http::HttpResponse;

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
  if (deps_.guards != nullptr) deps_.guards->AppendPrometheus(body);
  const limits::FairWorkPoolStats checks = deps_.credential_checks->Stats();
  body +=
      "# HELP govesb_credential_checks_total Client secret checks (scrypt) asked of the pool, by "
      "what became of them (refused: its lines were full, answered 429).\n";
  body += "# TYPE govesb_credential_checks_total counter\n";
  body +=
      "govesb_credential_checks_total{outcome=\"done\"} " + std::to_string(checks.completed) + "\n";
  body += "govesb_credential_checks_total{outcome=\"refused\"} " + std::to_string(checks.refused) +
          "\n";
  body += "# HELP govesb_credential_checks_waiting Client secret checks waiting for a thread.\n";
  body += "# TYPE govesb_credential_checks_waiting gauge\n";
  body += "govesb_credential_checks_waiting " + std::to_string(checks.waiting) + "\n";
  if (deps_.extra_metrics) deps_.extra_metrics(body);
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(body);
  return r;
}

}  // namespace govesb::engine
