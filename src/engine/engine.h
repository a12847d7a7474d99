#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/client_credentials.h"
#include "auth/token.h"
#include "base/clock.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "delivery/dispatcher.h"
#include "engine/evidence_rounds.h"
#include "engine/exchange.h"
#include "engine/guards.h"
#include "evidence/store.h"
#include "http/client.h"
#include "http/types.h"
#include "limits/fair_work_pool.h"
#include "registry/snapshot.h"
#include "traffic/counters.h"

namespace govesb::engine {

// One check of GET /readyz.
struct ReadyCheck {
  std::string_view name;  // a literal: "registry", "store", "evidence", "shutdown"
  bool ok = true;
};

// What the engine needs, wired in one place (server/). All references must outlive it.
struct EngineDeps {
  // The current registry snapshot (cheap, thread-safe).
  std::function<std::shared_ptr<const registry::Snapshot>()> snapshot;
  const auth::TokenService* tokens = nullptr;
  auth::ClientAuthenticator* clients = nullptr;
  const crypto::Signer* signer = nullptr;  // the bus's own key
  // The bus's key ring behind `signer`, when it signs through one: GET /esb-key then also
  // lists the staged key and those in their overlap. Optional.
  const crypto::RingSigner* key_ring = nullptr;
  http::UpstreamClient* upstream = nullptr;
  // Where client secrets are checked (scrypt, ~80 ms of CPU each), fairly between client ids.
  limits::FairWorkPool* credential_checks = nullptr;
  const Clock* clock = nullptr;
  // Push and asynchronous answers (guaranteed delivery). Null: those are refused.
  delivery::Dispatcher* delivery = nullptr;
  // Evidence of every exchange, written before the answer leaves (fail closed). Null: off.
  evidence::EvidenceSink* evidence = nullptr;
  // Rate limits, credential lock-outs, the replay window, signature variant counts. Null:
  // none of these defences (tests of other things only; the server always sets it).
  Guards* guards = nullptr;
  // Per-minute traffic counters: every exchange is counted as its answer leaves. Null: off.
  traffic::TrafficCounters* traffic = nullptr;
  // The server's checks for GET /readyz (the store, the evidence log, not shutting down),
  // added to the registry check the engine makes itself. Optional. Called on an I/O thread:
  // must be cheap and must not block.
  std::function<void(std::vector<ReadyCheck>&)> readiness;
  // The 32-byte key that encrypts the bodies kept for APIs with store_bodies ("": none kept).
  // Secret: never log it.
  std::string evidence_body_key;
  // Log every successful exchange at info (refusals and failures are always logged).
  bool access_log = false;
};

// The bus's request handling: the token endpoint and the engine endpoints of the wire contract
// (../shared/protocol/GOVESB-WIRE.md). Stateless apart from its dependencies; Handle runs on
// the I/O thread of the connection and never blocks it (secret checks go to `credential_checks`,
// provider calls are asynchronous). The stages of an exchange are listed in pipeline.cc.
class Engine {
 public:
  explicit Engine(EngineDeps deps);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  boost::asio::awaitable<http::HttpResponse> Handle(http::HttpRequest& request);

  // A signed `success:false` envelope for errors the HTTP server answers itself (413 ...).
  http::HttpResponse ServerError(int status, std::string_view message) const;

  // The engine's metrics in Prometheus text (registry size, delivery, defences, credential
  // checks, tokens, signature variants); the server serves them on its metrics listeners,
  // never on the exchange port. Any thread.
  void AppendMetrics(std::string& out) const;

 private:
  // The token endpoint, each request counted (Guards::tokens) by what its answer was.
  boost::asio::awaitable<http::HttpResponse> HandleToken(http::HttpRequest& request);
  // `caller`: set to the registry's system of the client id, when it names one.
  boost::asio::awaitable<http::HttpResponse> RunToken(
      http::HttpRequest& request, std::shared_ptr<const registry::System>& caller);
  boost::asio::awaitable<http::HttpResponse> HandleExchange(http::HttpRequest& request);
  // The stages of pipeline.cc, then the route of the exchange's kind (routes.cc).
  boost::asio::awaitable<http::HttpResponse> RunExchange(ExchangeContext& x);
  boost::asio::awaitable<http::HttpResponse> RoutePush(ExchangeContext& x);
  boost::asio::awaitable<http::HttpResponse> RouteAsyncAnswer(ExchangeContext& x);
  boost::asio::awaitable<http::HttpResponse> RoutePull(ExchangeContext& x);
  // The signed refusal of an exchange, logged and recorded as evidence.
  http::HttpResponse RefuseExchange(ExchangeContext& x, const Status& status);
  // The consumer's request, as evidence: accepted (all checks passed) or refused.
  void RecordRequest(ExchangeContext& x, const Status& outcome);
  // The success:true answer to a push or an async answer, made before the message is stored
  // so that its evidence (with the request's) is stored with the message: both or neither.
  http::HttpResponse AcceptedWithEvidence(ExchangeContext& x, delivery::NewMessage& message);
  // Counts the exchange in deps_.traffic (when set), as its answer `response` leaves.
  void CountTraffic(const ExchangeContext& x, const http::HttpResponse& response) const;
  http::HttpResponse HandleHealth() const;
  http::HttpResponse HandleAlive() const;
  http::HttpResponse HandleReady() const;
  http::HttpResponse HandlePublicKey() const;

  EngineDeps deps_;
  // The evidence appends of each event-loop turn, gathered (null without an evidence log).
  std::unique_ptr<EvidenceRounds> evidence_rounds_;
};

}  // namespace govesb::engine
