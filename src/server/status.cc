// What the bus says about itself: the server's readiness checks (GET /readyz on the exchange
// port, with the engine's), and GET /metrics on the metrics and admin listeners.
#include <spdlog/spdlog.h>

#include <chrono>

#include "base/process_stats.h"
#include "base/prometheus_text.h"
#include "base/version.h"
#include "server/bus_server_impl.h"
#include "traffic/prometheus.h"

namespace govesb::server {

namespace {

using store::GroupCommitWriter;

void AppendEvidenceMetrics(const BusServer::Impl& s, std::string& out) {
  using prometheus::Family;
  using prometheus::Sample;
  const evidence::LogProgress p = s.evidence->Progress();
  Family(out, "govesb_evidence_records", "gauge",
         "The number of the last record of the evidence log that is durable (committed), "
         "findable through the indexes (indexed), and sealed by a signed checkpoint (sealed).");
  Sample(out, "govesb_evidence_records", {{"state", "committed"}}, p.committed_seq);
  Sample(out, "govesb_evidence_records", {{"state", "indexed"}}, p.indexed_seq);
  Sample(out, "govesb_evidence_records", {{"state", "sealed"}}, p.sealed_seq);
  Family(out, "govesb_evidence_lag_records", "gauge",
         "Durable records not yet indexed, and not yet sealed by a checkpoint.");
  Sample(out, "govesb_evidence_lag_records", {{"behind", "indexed"}},
         std::max<int64_t>(0, p.committed_seq - p.indexed_seq));
  Sample(out, "govesb_evidence_lag_records", {{"behind", "sealed"}},
         std::max<int64_t>(0, p.committed_seq - p.sealed_seq));
  Family(out, "govesb_evidence_last_checkpoint_timestamp_seconds", "gauge",
         "When the last checkpoint was signed, seconds since the Unix epoch (0: none yet).");
  Sample(out, "govesb_evidence_last_checkpoint_timestamp_seconds",
         static_cast<double>(p.last_checkpoint_ms) / 1000.0);
  // With no checkpoint yet: since the bus started (its first one is due an interval later).
  const int64_t since = p.last_checkpoint_ms > 0 ? p.last_checkpoint_ms : s.started_at_ms;
  Family(out, "govesb_evidence_checkpoint_age_seconds", "gauge",
         "Seconds since the last checkpoint (since the start when there is none yet).");
  Sample(out, "govesb_evidence_checkpoint_age_seconds",
         static_cast<double>(std::max<int64_t>(0, s.clock->NowMillis() - since)) / 1000.0);
}

void AppendStoreMetrics(const GroupCommitWriter& writer, std::string& out) {
  using prometheus::Family;
  using prometheus::Sample;
  const GroupCommitWriter::Stats st = writer.stats();
  Family(out, "govesb_store_commits_total", "counter",
         "Group commits of durable writes (messages, deliveries, evidence), by outcome.");
  Sample(out, "govesb_store_commits_total", {{"outcome", "ok"}}, st.commits);
  Sample(out, "govesb_store_commits_total", {{"outcome", "failed"}}, st.failed_commits);
  Family(out, "govesb_store_writes_total", "counter", "Write jobs run by the group-commit writer.");
  Sample(out, "govesb_store_writes_total", st.jobs);
  Family(out, "govesb_store_writes_queued", "gauge",
         "Write jobs waiting for the next group commit.");
  Sample(out, "govesb_store_writes_queued", uint64_t{st.queued});
  Family(out, "govesb_store_wal_checkpoints_total", "counter",
         "Checkpoints of the embedded database's write-ahead log made by its checkpoint thread.");
  Sample(out, "govesb_store_wal_checkpoints_total", st.wal_checkpoints);
}

}  // namespace

void AddReadinessChecks(const BusServer::Impl& s, std::vector<engine::ReadyCheck>& checks) {
  const GroupCommitWriter::Health h =
      s.writer ? s.writer->health() : GroupCommitWriter::Health{.running = false};
  using Failure = GroupCommitWriter::Failure;
  checks.push_back({"store", h.running && h.last_batch != Failure::kDatabase});
  if (s.options.evidence && s.evidence) {
    // Embedded: the log's files are the writer's participant. Cluster: its records are rows of
    // the database, so a database failure is the log's too.
    const bool cluster = !s.options.cluster.postgres.empty();
    checks.push_back({"evidence", h.running && h.last_batch != Failure::kParticipant &&
                                      !(cluster && h.last_batch == Failure::kDatabase)});
  }
  checks.push_back({"shutdown", !s.shutting_down.load()});
}

std::string RenderMetrics(const BusServer::Impl& s) {
  using prometheus::Family;
  using prometheus::Sample;
  std::string out;
  out.reserve(64 * 1024);
  Family(out, "govesb_build_info", "gauge", "The bus's version (always 1).");
  Sample(out, "govesb_build_info", {{"version", std::string(GovesbVersion())}}, int64_t{1});
  std::vector<engine::ReadyCheck> checks;
  checks.push_back({"registry", s.watcher != nullptr && s.watcher->Current() != nullptr});
  AddReadinessChecks(s, checks);
  Family(out, "govesb_ready", "gauge", "Each check of /readyz: 1 when it passes, 0 when not.");
  for (const engine::ReadyCheck& c : checks) {
    Sample(out, "govesb_ready", {{"check", c.name}}, int64_t{c.ok ? 1 : 0});
  }
  if (s.engine) s.engine->AppendMetrics(out);
  if (s.traffic) traffic::AppendPrometheus(s.traffic->Totals(), s.traffic->overflowed(), out);
  if (s.evidence && s.options.evidence) AppendEvidenceMetrics(s, out);
  if (s.writer) AppendStoreMetrics(*s.writer, out);
  if (s.server) out += http::PrometheusText(s.server->stats());
  std::vector<http::NamedResolverStats> names;
  if (s.upstream) names.push_back({"exchange", s.upstream->name_stats()});
  if (s.dispatcher) names.push_back({"delivery", s.dispatcher->NameStats()});
  http::AppendResolverMetrics(out, names);
  if (auto process = ReadProcessStats(); process.ok()) {
    AppendProcessMetrics(*process, out);
  } else {
    spdlog::debug("metrics: {}", process.status().message());
  }
  return out;
}

http::HttpResponse MetricsResponse(const BusServer::Impl& s) {
  http::HttpResponse r;
  r.status = 200;
  r.content_type = std::string(prometheus::kContentType);
  r.body = RenderMetrics(s);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Status StartMetricsListener(BusServer::Impl& s, const std::string& listen) {
  http::ServerOptions mopts;
  GOVESB_RETURN_IF_ERROR(SplitListen(listen, mopts.host, mopts.port));
  mopts.max_body_bytes = 4096;  // GET only
  mopts.max_connections = 64;
  mopts.max_connections_per_address = 16;
  mopts.read_timeout = std::chrono::seconds(10);
  mopts.trim_after_closes = 0;
  s.metrics_io = std::make_unique<http::IoThreads>(1);
  // A scrape renders on this listener's own thread: it never holds up an exchange.
  s.metrics_server = std::make_unique<http::HttpServer>(
      *s.metrics_io, std::move(mopts),
      [&s](http::HttpRequest& r) -> boost::asio::awaitable<http::HttpResponse> {
        if (r.Path() == "/metrics") {
          if (r.method == "GET" || r.method == "HEAD") co_return MetricsResponse(s);
          http::HttpResponse refused =
              http::HttpResponse::Json(405, R"({"error":"GET /metrics only"})");
          refused.headers.emplace_back("Allow", "GET");
          co_return refused;
        }
        co_return http::HttpResponse::Json(404,
                                           R"({"error":"this listener serves GET /metrics only"})");
      });
  Status listening = s.metrics_server->Listen();
  if (!listening.ok()) {
    s.metrics_server.reset();
    s.metrics_io.reset();
    return listening;
  }
  s.metrics_server->Start();
  s.metrics_io->Start();
  return Status::Ok();
}

}  // namespace govesb::server
