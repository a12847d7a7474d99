#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "crypto/keys.h"
#include "delivery/dispatcher.h"
#include "engine/guards.h"
#include "http/admission.h"
#include "limits/fair_work_pool.h"
#include "registry/registry.h"
#include "store/group_commit.h"
#include "traffic/counters.h"

namespace govesb::server {

struct ServeOptions {
  std::string data_dir = "./govesb-data";
  std::string listen = "127.0.0.1:8443";  // HOST:PORT; port 0 picks a free port
  bool plain_http = false;                // TLS by default
  std::string tls_cert;                   // PEM chain; with tls_key, replaces the generated one
  std::string tls_key;
  // Host names and IP addresses the generated certificate names besides localhost, 127.0.0.1
  // and ::1 (--tls-name, repeatable). None given: the listen host when it is a specific one;
  // the machine's host name and non-loopback addresses when listening on all interfaces.
  std::vector<std::string> tls_names;
  std::string upstream_ca;  // extra CA file for https provider endpoints
  crypto::Curve key_curve = crypto::Curve::kSecp256k1;  // of a newly generated bus key
  size_t io_threads = std::max(1u, std::thread::hardware_concurrency());
  std::chrono::seconds token_ttl{3600};
  size_t max_body_bytes = 8 * 1024 * 1024;
  // Admission control (http::ServerOptions): caps on open client connections in total (kept
  // below the open-file limit) and per client address (0: none); over a cap a connection is
  // refused at once. A TLS client must finish its handshake within tls_handshake_timeout.
  size_t max_connections = 10'000;
  size_t max_connections_per_address = 256;
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  // A request (headers and body) must arrive within this once its connection is open or its
  // previous answer was sent; slower ones (slowloris) are closed.
  std::chrono::milliseconds read_timeout{30'000};
  // One info line per successful exchange (requestId, systems, code, latency). Off by default:
  // refusals and failures are always logged (warn), successes are in the evidence log and the
  // traffic counters, and a formatted line per exchange costs the hot path.
  bool access_log = false;
  // Time source (token expiry); nullptr: the system clock. Tests pass a SimulatedClock.
  const Clock* clock = nullptr;
  // Guaranteed delivery (push, asynchronous answers): retries, timeouts, breakers. Its `tls`
  // is set from upstream_ca.
  delivery::DispatcherOptions delivery;
  // Durable writes: group commit (max_batch 1 = one fsync per message, for comparison).
  store::GroupCommitOptions durability;
  // The evidence log: every step of every exchange, written before the answer leaves.
  // false only to measure what it costs (benchmarks).
  bool evidence = true;
  // How often the records written since the last checkpoint are sealed (and at shutdown).
  std::chrono::milliseconds checkpoint_interval{60'000};
  // Retention of the live evidence log: records sealed by checkpoints older than this move
  // into compressed archive files in `archive_dir` (default DATA_DIR/evidence-archive),
  // checked after each checkpoint. 0: never archive.
  std::chrono::milliseconds evidence_retention{std::chrono::hours(24 * 30)};
  std::string archive_dir;
  // Defences against hostile clients: rate limits, credential lock-outs, the replay window.
  engine::GuardOptions guards;
  // Client secrets are checked (scrypt, ~80 ms of CPU each) on these threads, fairly between
  // client ids (each id its own line, served in turn), with bounded lines; a token request
  // that finds them full is answered 429. Half the cores, so that a flood of checks leaves
  // the exchanges CPU.
  limits::FairWorkPoolOptions credential_checks{
      .threads = std::max(1u, std::thread::hardware_concurrency() / 2),
      .waiting_per_key = 4,
      .waiting_total = 256,
      .thread_name = "govesb-secrets"};
  // The admin listener (REST API under /api/v1, later the portal): "off", or HOST:PORT (port 0:
  // any free port), TLS when the exchange listener is, with the same certificate. It runs on
  // threads of its own. When `admin_listen_optional`, an address that cannot be bound is
  // logged and the bus runs without it (the default address of `govesb serve`); otherwise it
  // fails the start.
  std::string admin_listen = "off";
  bool admin_listen_optional = false;
  size_t admin_threads = 2;
  // The metrics listener: "off", or HOST:PORT (port 0: any free port): plain HTTP, GET /metrics
  // only, on a thread of its own (the admin listener serves /metrics too; the exchange port
  // never does). An address that cannot be bound fails the start.
  std::string metrics_listen = "off";
  // Shutdown begins by answering /readyz with 503, and goes on serving this long before it
  // stops accepting, so that a balancer polling /readyz stops sending traffic first.
  std::chrono::milliseconds shutdown_delay{0};
  // Password hashing of the admin accounts (empty: scrypt; tests pass a fast one).
  registry::SecretHasher admin_password_hasher;
  // How often the counts of signature variants per system are added to the registry (and at
  // shutdown), where `admin system show` reads them.
  std::chrono::milliseconds usage_flush_interval{10'000};
  // Per-minute traffic counters (the portal's charts): added to the database this often (and
  // at shutdown), so the charts lag by at most this; rows older than traffic.retention_days
  // are deleted.
  std::chrono::milliseconds traffic_flush_interval{5'000};
  traffic::TrafficOptions traffic;

  // Cluster mode (docs/cluster.md): N identical nodes keep every piece of state in one
  // PostgreSQL database and share delivery work through NATS JetStream; the bus key and the
  // token secret are the cluster's (`govesb cluster init`). `data_dir` is not used. Nodes share
  // one TLS certificate (tls_cert/tls_key), or serve plain HTTP behind a balancer that
  // terminates TLS. Empty `postgres`: the embedded default.
  struct Cluster {
    std::string postgres;           // libpq conninfo or postgresql:// URL
    std::vector<std::string> nats;  // nats://HOST:PORT of the NATS servers
    std::string node_id;            // unique in the cluster (cluster::ValidateNodeId)
    std::string kek_file;           // the key that opens the cluster's secrets
    int work_replicas = 3;          // of the JetStream work stream
    std::chrono::milliseconds heartbeat{1'000};
    std::chrono::milliseconds lease{6'000};  // of a lane; renewed every lease / 3
    std::chrono::milliseconds sweep_every{2'000};
  } cluster;
};

// The whole bus in one process, wired in one place: data directory (SQLite registry, bus key,
// token secret, TLS files), registry snapshot watcher, token service, engine, HTTP(S) server,
// pooled upstream client, I/O threads and the credential-check pool. Start, then Shutdown (or
// destroy) from the same, non-I/O thread.
class BusServer {
 public:
  explicit BusServer(ServeOptions options);
  ~BusServer();
  BusServer(const BusServer&) = delete;
  BusServer& operator=(const BusServer&) = delete;

  // Opens the data directory, loads the registry, binds and starts serving.
  Status Start();
  // Graceful: /readyz answers 503 (for shutdown_delay while the bus goes on serving), then
  // stops accepting, finishes in-flight exchanges, stops the threads.
  void Shutdown();

  // Valid after Start.
  uint16_t port() const;
  std::string base_url() const;  // e.g. https://127.0.0.1:8443
  // The admin listener's base URL ("" when it does not run), e.g. https://127.0.0.1:8444.
  std::string admin_base_url() const;
  // The metrics listener's ("" when it does not run), e.g. http://127.0.0.1:9464.
  std::string metrics_base_url() const;
  // What GET /metrics answers now (Prometheus text). Valid after Start.
  std::string metrics_text() const;
  std::string ca_file() const;  // the CA clients should trust ("" with --plain-http or
                                // a certificate given by the operator)
  // The exchange listener's URLs by the names other machines use (the generated certificate's
  // names that are not loopback, or the listen host), e.g. https://bus.example.go.tz:8443.
  std::vector<std::string> public_urls() const;
  std::string bus_public_key() const;  // base64 SPKI of the key it signs with now
  bool tls() const;                    // the exchange listener serves TLS
  // SIGHUP: loads the TLS certificate and key again from their files (--tls-cert/--tls-key, or
  // DIR/tls); new handshakes use them, open connections go on with theirs. A file that does
  // not load is refused (logged and returned) and the certificate loaded before goes on
  // serving. kFailedPrecondition without TLS.
  Status ReloadTls();
  // Reads the bus key ring again now (the key watcher does it within a second anyway).
  void ReloadKeys();
  std::string database_path() const;
  // Valid after Start; for tests and benchmarks.
  delivery::DeliveryMetrics delivery_metrics() const;
  store::GroupCommitWriter::Stats durability_stats() const;
  // Connection admission counters of the exchange listener (in /metrics).
  http::HttpServerStats http_stats() const;
  // The traffic counters the engine records into (flushed by the server). Valid after Start.
  traffic::TrafficCounters* traffic() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A listen address, HOST:PORT ("[::1]:PORT" for IPv6; "*" or no host: every interface;
// port 0: any free port), split for binding. InvalidArgument when malformed.
Status SplitListen(const std::string& listen, std::string& host, uint16_t& port);

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call before starting other threads,
// so they inherit the mask), and later waits for one of them. Returns the signal number
// (SIGHUP: reload, `govesb serve` then waits again).
void BlockTerminationSignals();
int WaitForTerminationSignal();

}  // namespace govesb::server
