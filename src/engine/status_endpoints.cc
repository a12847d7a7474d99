// GET /health, /healthz, /readyz and /esb-key on the exchange port, and the engine's metrics
// (served by the server's metrics listeners, not here).
#include <cstdio>
#include <ctime>
#include <optional>

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

namespace {

// RFC 3339 UTC with milliseconds, or null.
std::string TimeOrNull(const std::optional<int64_t>& ms) {
  if (!ms.has_value()) return "null";
  const auto seconds = static_cast<std::time_t>(*ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(*ms % 1000));
  return text;
}

void AppendKey(std::string& out, const crypto::PublicKey& key) {
  out += "\"public_key\":\"" + key.SpkiBase64() + "\",\"curve\":\"" +
         std::string(crypto::CurveName(key.curve())) + "\",\"key_id\":\"" + crypto::KeyId(key) +
         "\"";
}

}  // namespace

// The key the bus signs with now, as before rotation existed (public_key, curve), its id, and
// with a key ring every published key: the current one, a staged one, those in their overlap,
// each with its status and times (docs/key-rotation.md).
HttpResponse Engine::HandlePublicKey() const {
  const crypto::PublicKey key = deps_.signer->public_key();
  std::string body = "{";
  AppendKey(body, key);
  if (deps_.key_ring != nullptr) {
    std::shared_ptr<const crypto::KeyRing> ring = deps_.key_ring->ring();
    const int64_t now = deps_.key_ring->as_of_ms();
    body += ",\"keys\":[";
    bool first = true;
    for (crypto::KeyStatus wanted :
         {crypto::KeyStatus::kCurrent, crypto::KeyStatus::kStaged, crypto::KeyStatus::kOverlap}) {
      for (auto it = ring->keys().rbegin(); it != ring->keys().rend(); ++it) {
        if (ring->StatusOf(*it, now) != wanted) continue;
        if (!first) body += ',';
        first = false;
        body += '{';
        AppendKey(body, it->public_key());
        body += ",\"status\":\"" + std::string(crypto::KeyStatusName(wanted)) +
                "\",\"valid_from\":" + TimeOrNull(it->valid_from_ms) +
                ",\"not_after\":" + TimeOrNull(it->not_after_ms) + "}";
      }
    }
    body += ']';
  }
  body += '}';
  HttpResponse r = HttpResponse::Json(200, std::move(body));
  // Clients that fetch it should see a rotation soon.
  r.headers.emplace_back("Cache-Control", "max-age=60");
  return r;
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
