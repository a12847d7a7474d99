// GET /health, /healthz, /readyz and /esb-key on the exchange port, and the engine's metrics
// (served by the server's metrics listeners, not here).
#include "base/prometheus_text.h"
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

// Alive: the process answers. Nothing is checked, so that a supervisor restarts only a bus
// that cannot answer at all (a bus that is alive but not ready is left to recover).
HttpResponse Engine::HandleAlive() const {
  HttpResponse r = HttpResponse::Json(200, "{\"status\":\"alive\"}");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// Ready: every check passes. The body names the checks and whether each passes, nothing else
// (the port is public: no file names, counts or errors; those are in the log and /metrics).
HttpResponse Engine::HandleReady() const {
  std::vector<ReadyCheck> checks;
  checks.reserve(4);
  checks.push_back(ReadyCheck{"registry", deps_.snapshot() != nullptr});
  if (deps_.readiness) deps_.readiness(checks);
  bool ready = true;
  std::string listed;
  for (const ReadyCheck& c : checks) {
    ready = ready && c.ok;
    if (!listed.empty()) listed += ',';
    listed += '"';
    listed += c.name;
    listed += c.ok ? "\":\"ok\"" : "\":\"failing\"";
  }
  HttpResponse r = HttpResponse::Json(
      ready ? 200 : 503, "{\"status\":\"" + std::string(ready ? "ready" : "not ready") +
                             "\",\"checks\":{" + listed + "}}");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Engine::HandlePublicKey() const {
  const auto& key = deps_.signer->public_key();
  std::string body = "{\"public_key\":\"" + key.SpkiBase64() + "\",\"curve\":\"" +
                     std::string(crypto::CurveName(key.curve())) + "\"}";
  return HttpResponse::Json(200, std::move(body));
}

void Engine::AppendMetrics(std::string& out) const {
  using prometheus::Family;
  using prometheus::Sample;
  auto snapshot = deps_.snapshot();
  Family(out, "govesb_registry_systems", "gauge", "Enabled systems in the registry.");
  Sample(out, "govesb_registry_systems", uint64_t{snapshot->enabled_system_count()});
  Family(out, "govesb_registry_apis", "gauge", "APIs in the registry.");
  Sample(out, "govesb_registry_apis", uint64_t{snapshot->api_count()});
  if (deps_.delivery != nullptr) out += delivery::PrometheusText(deps_.delivery->Metrics());
  if (deps_.guards != nullptr) deps_.guards->AppendPrometheus(*snapshot, out);
  const limits::FairWorkPoolStats checks = deps_.credential_checks->Stats();
  Family(out, "govesb_credential_checks_total", "counter",
         "Client secret checks (scrypt) asked of the pool, by what became of them (refused: its "
         "lines were full, answered 429).");
  Sample(out, "govesb_credential_checks_total", {{"outcome", "done"}}, uint64_t{checks.completed});
  Sample(out, "govesb_credential_checks_total", {{"outcome", "refused"}}, uint64_t{checks.refused});
  Family(out, "govesb_credential_checks_waiting", "gauge",
         "Client secret checks waiting for a thread.");
  Sample(out, "govesb_credential_checks_waiting", uint64_t{checks.waiting});
}

}  // namespace govesb::engine
