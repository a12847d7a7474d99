#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "server/bus_server.h"

namespace govesb::apps {
namespace {

struct ServeArgs {
  bool admin_listen_given = false;  // the default admin address may be taken: then a warning
  server::ServeOptions options;
  std::string curve = "secp256k1";
  std::string log_level = "info";
  int64_t token_ttl_seconds = 3600;
  int64_t retry_base_ms = 1000;
  int64_t retry_max_ms = 600'000;
  int64_t delivery_timeout_ms = 30'000;
  int64_t answer_window_s = 86'400;
  int64_t checkpoint_interval_s = 60;
  int64_t tls_handshake_timeout_ms = 10'000;
  int64_t read_timeout_ms = 30'000;
  int64_t shutdown_delay_ms = 0;
  double evidence_retention_days = 30;
  double rate_per_system = 500;
  double burst_per_system = 1000;
  double rate_per_api = 0;
  double burst_per_api = 0;
  int64_t replay_window_s = 600;
  size_t replay_max_entries = 1'000'000;
  uint32_t token_free_failures = 5;
  uint32_t token_free_failures_per_address = 20;
  int64_t token_max_lock_s = 900;
  bool no_evidence = false;
  bool cluster = false;
  std::string nats;  // comma-separated URLs
  int64_t lease_ms = 6'000;
};

void SetUpLogging(const std::string& level) {
  // Log lines go through a background thread so that I/O threads never wait on stdout.
  spdlog::init_thread_pool(16384, 1);
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>("govesb", sink, spdlog::thread_pool(),
                                                       spdlog::async_overflow_policy::block);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

void RunServe(ServeArgs& args) {
  auto curve = crypto::ParseCurveName(args.curve);
  if (!curve.ok()) {
    std::fprintf(stderr, "error: %s\n", curve.status().message().c_str());
    throw CLI::RuntimeError(kExitFailure);
  }
  args.options.key_curve = *curve;
  if (args.token_ttl_seconds < 120 || args.token_ttl_seconds > 86400) {
    std::fprintf(stderr, "error: --token-ttl must be between 120 and 86400 seconds\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  args.options.token_ttl = std::chrono::seconds(args.token_ttl_seconds);
  auto& d = args.options.delivery;
  if (args.retry_base_ms < 10 || args.retry_max_ms < args.retry_base_ms ||
      args.delivery_timeout_ms < 100 || d.max_attempts < 1 || args.answer_window_s < 1 ||
      args.options.durability.max_batch < 1 || d.max_in_flight_per_endpoint < 1 ||
      args.options.durability.min_commit_interval_us < 0 ||
      args.options.durability.min_commit_interval_us > 100000) {
    std::fprintf(stderr,
                 "error: delivery settings out of range: --retry-base-ms >= 10, --retry-max-ms "
                 ">= --retry-base-ms, --delivery-timeout-ms >= 100, --max-attempts >= 1, "
                 "--answer-window >= 1, --max-in-flight >= 1, --group-commit-max >= 1, "
                 "--commit-interval-us 0-100000\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  d.retry_base = std::chrono::milliseconds(args.retry_base_ms);
  d.retry_max = std::chrono::milliseconds(args.retry_max_ms);
  d.timeout = std::chrono::milliseconds(args.delivery_timeout_ms);
  d.answer_window = std::chrono::seconds(args.answer_window_s);
  if (args.checkpoint_interval_s < 1) {
    std::fprintf(stderr, "error: --checkpoint-interval must be at least 1 second\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  args.options.checkpoint_interval = std::chrono::seconds(args.checkpoint_interval_s);
  if (args.evidence_retention_days < 0) {
    std::fprintf(stderr, "error: --evidence-retention must be >= 0 days (0: never archive)\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  args.options.evidence_retention =
      std::chrono::milliseconds(static_cast<int64_t>(args.evidence_retention_days * 86'400'000.0));
  args.options.evidence = !args.no_evidence;
  auto bad_rate = [](double v) { return !(v >= 0 && v <= 1e6); };
  if (bad_rate(args.rate_per_system) || bad_rate(args.burst_per_system) ||
      bad_rate(args.rate_per_api) || bad_rate(args.burst_per_api)) {
    std::fprintf(stderr,
                 "error: rates and bursts must be from 0 (unlimited, or one second's "
                 "worth for a burst) to 1000000\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  if (args.replay_window_s < 0 || args.replay_window_s > 7 * 86'400 ||
      args.replay_max_entries < 1000 || args.replay_max_entries > 100'000'000) {
    std::fprintf(stderr,
                 "error: --replay-window must be 0 (off) to 604800 seconds and "
                 "--replay-max-entries 1000 to 100000000\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  auto& g = args.options.guards;
  g.system_rate = limits::Rate{args.rate_per_system, args.burst_per_system};
  g.api_rate = limits::Rate{args.rate_per_api, args.burst_per_api};
  g.replay_enabled = args.replay_window_s > 0;
  g.replay.window = std::chrono::seconds(args.replay_window_s);
  g.replay.max_entries = args.replay_max_entries;
  if (args.token_free_failures < 1 || args.token_free_failures_per_address < 1 ||
      args.token_max_lock_s < 1 || args.token_max_lock_s > 86'400) {
    std::fprintf(stderr,
                 "error: --token-free-failures and --token-free-failures-per-address must be >= "
                 "1, --token-max-lock 1 to 86400 seconds\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  g.token_client.free_failures = args.token_free_failures;
  g.token_address.free_failures = args.token_free_failures_per_address;
  g.token_client.max_lock = g.token_address.max_lock = std::chrono::seconds(args.token_max_lock_s);
  if (args.options.max_connections < 1 || args.tls_handshake_timeout_ms < 100 ||
      args.tls_handshake_timeout_ms > 600'000 || args.read_timeout_ms < 100 ||
      args.read_timeout_ms > 600'000) {
    std::fprintf(stderr,
                 "error: connection settings out of range: --max-connections >= 1, "
                 "--tls-handshake-timeout-ms and --read-timeout-ms 100-600000\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  if (args.shutdown_delay_ms < 0 || args.shutdown_delay_ms > 600'000) {
    std::fprintf(stderr, "error: --shutdown-delay-ms must be 0 to 600000\n");
    throw CLI::RuntimeError(kExitFailure);
  }
  args.options.shutdown_delay = std::chrono::milliseconds(args.shutdown_delay_ms);
  args.options.tls_handshake_timeout = std::chrono::milliseconds(args.tls_handshake_timeout_ms);
  args.options.read_timeout = std::chrono::milliseconds(args.read_timeout_ms);
  if (args.cluster) {
    auto& c = args.options.cluster;
    if (c.postgres.empty() || args.nats.empty() || c.node_id.empty() || c.kek_file.empty()) {
      std::fprintf(stderr,
                   "error: --cluster needs --postgres URL, --nats URL[,URL...], --node-id ID "
                   "and --kek-file FILE (see docs/cluster.md)\n");
      throw CLI::RuntimeError(kExitUsage);
    }
    if (args.lease_ms < 1'000 || args.lease_ms > 600'000 || c.work_replicas < 1 ||
        c.work_replicas > 5) {
      std::fprintf(stderr, "error: --lease-ms 1000-600000, --work-replicas 1-5\n");
      throw CLI::RuntimeError(kExitFailure);
    }
    c.lease = std::chrono::milliseconds(args.lease_ms);
    c.nats.clear();
    for (size_t start = 0; start <= args.nats.size();) {
      size_t comma = args.nats.find(',', start);
      if (comma == std::string::npos) comma = args.nats.size();
      if (comma > start) c.nats.push_back(args.nats.substr(start, comma - start));
      start = comma + 1;
    }
  } else if (!args.options.cluster.postgres.empty() || !args.nats.empty() ||
             !args.options.cluster.node_id.empty()) {
    std::fprintf(stderr, "error: --postgres, --nats and --node-id are for --cluster\n");
    throw CLI::RuntimeError(kExitUsage);
  }
  SetUpLogging(args.log_level);
  // (BusServer::Start raises the open-file limit to its hard limit.)
  server::BlockTerminationSignals();
  args.options.admin_listen_optional = !args.admin_listen_given;
  server::BusServer bus(args.options);
  Status started = bus.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "error: %s\n", started.message().c_str());
    spdlog::shutdown();
    throw CLI::RuntimeError(kExitFailure);
  }
  std::printf("govesb: listening on %s\n", bus.base_url().c_str());
  std::printf("govesb: token URL   %s/gw/govesb-uaa/oauth/token\n", bus.base_url().c_str());
  std::printf("govesb: engine URL  %s/engine/esb\n", bus.base_url().c_str());
  std::printf("govesb: bus public key %s\n", bus.bus_public_key().c_str());
  if (!bus.admin_base_url().empty()) {
    std::printf("govesb: admin API   %s/api/v1/ (portal accounts: govesb admin user add)\n",
                bus.admin_base_url().c_str());
  }
  if (!bus.metrics_base_url().empty()) {
    std::printf("govesb: metrics     %s/metrics\n", bus.metrics_base_url().c_str());
  } else if (!bus.admin_base_url().empty()) {
    std::printf("govesb: metrics     %s/metrics\n", bus.admin_base_url().c_str());
  }
  if (!bus.ca_file().empty()) {
    std::printf("govesb: clients trust the CA in %s\n", bus.ca_file().c_str());
  }
  std::fflush(stdout);
  int sig = server::WaitForTerminationSignal();
  spdlog::info("received signal {}, finishing in-flight exchanges", sig);
  bus.Shutdown();
  spdlog::info("stopped");
  spdlog::shutdown();
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Run the bus (embedded default: SQLite in --data-dir)");
  if (const char* env = std::getenv("GOVESB_DATA_DIR")) args->options.data_dir = env;
  cmd->add_option("--data-dir", args->options.data_dir,
                  "Data directory (registry database, bus key, TLS files)")
      ->capture_default_str();
  cmd->add_option("--listen", args->options.listen, "HOST:PORT to listen on (port 0: any)")
      ->capture_default_str();
  args->options.admin_listen = "127.0.0.1:8444";
  cmd->add_option("--admin-listen", args->options.admin_listen,
                  "HOST:PORT of the admin API and portal (TLS like the bus; port 0: any), or off. "
                  "Keep it on the operator's network: the exchange port serves no admin route")
      ->each([args](const std::string&) { args->admin_listen_given = true; })
      ->capture_default_str();
  cmd->add_option("--metrics-listen", args->options.metrics_listen,
                  "HOST:PORT of a plain-HTTP listener serving GET /metrics for Prometheus (port "
                  "0: any), or off. The admin listener serves /metrics too; the exchange port "
                  "does not")
      ->capture_default_str();
  cmd->add_option("--shutdown-delay-ms", args->shutdown_delay_ms,
                  "On SIGTERM, answer /readyz with 503 and go on serving this long before "
                  "stopping (a balancer polling /readyz stops sending traffic first)")
      ->capture_default_str();
  cmd->add_flag("--plain-http", args->options.plain_http,
                "Serve plain HTTP (loopback, or behind a TLS-terminating balancer)");
  cmd->add_option("--tls-cert", args->options.tls_cert,
                  "PEM certificate chain (default: "
                  "a self-signed one in DATA_DIR/tls)");
  cmd->add_option("--tls-key", args->options.tls_key, "PEM private key for --tls-cert");
  cmd->add_option("--upstream-ca", args->options.upstream_ca,
                  "Extra CA file trusted for https provider endpoints");
  cmd->add_option("--key-curve", args->curve,
                  "Curve of the bus key generated on first start: secp256k1, prime256v1, "
                  "secp521r1")
      ->capture_default_str();
  cmd->add_option("--threads", args->options.io_threads, "I/O threads (default: one per core)")
      ->capture_default_str();
  cmd->add_option("--token-ttl", args->token_ttl_seconds, "Access token lifetime, seconds")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", args->options.max_body_bytes, "Request body size limit")
      ->capture_default_str();
  cmd->add_option("--max-connections", args->options.max_connections,
                  "Most open client connections; more are refused at once (503, or closed for "
                  "TLS). Lowered to stay below the open-file limit")
      ->capture_default_str();
  cmd->add_option("--max-connections-per-address", args->options.max_connections_per_address,
                  "Most open connections from one client address; more are refused at once "
                  "(429, or closed for TLS). 0: no limit")
      ->capture_default_str();
  cmd->add_option("--read-timeout-ms", args->read_timeout_ms,
                  "A request must arrive within this (slow senders are closed)")
      ->capture_default_str();
  cmd->add_option("--tls-handshake-timeout-ms", args->tls_handshake_timeout_ms,
                  "Time a TLS client has, from connecting, to finish its handshake")
      ->capture_default_str();
  cmd->add_flag("--access-log", args->options.access_log,
                "Log every successful exchange at info (refusals and failures are always logged)");
  cmd->add_option("--log-level", args->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  // Guaranteed delivery (push and asynchronous answers).
  cmd->add_option("--max-attempts", args->options.delivery.max_attempts,
                  "Delivery attempts before a delivery is dead-lettered")
      ->capture_default_str();
  cmd->add_option("--retry-base-ms", args->retry_base_ms,
                  "First retry delay; doubles per failed attempt, with jitter")
      ->capture_default_str();
  cmd->add_option("--retry-max-ms", args->retry_max_ms, "Longest retry delay")
      ->capture_default_str();
  cmd->add_option("--delivery-timeout-ms", args->delivery_timeout_ms,
                  "Time a subscriber or callback has to acknowledge a delivery")
      ->capture_default_str();
  cmd->add_option("--max-in-flight", args->options.delivery.max_in_flight_per_endpoint,
                  "Deliveries in flight to one endpoint at once")
      ->capture_default_str();
  cmd->add_option("--answer-window", args->answer_window_s,
                  "Seconds a provider of an asynchronous API has to post its answer")
      ->capture_default_str();
  cmd->add_option("--group-commit-max", args->options.durability.max_batch,
                  "Most writes made durable by one fsync (1: one fsync per message)")
      ->capture_default_str();
  cmd->add_option("--commit-interval-us", args->options.durability.min_commit_interval_us,
                  "Least microseconds between the starts of two commits (0: a commit starts as "
                  "soon as the previous one is done, with every write that arrived meanwhile)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-interval", args->checkpoint_interval_s,
                  "Seconds between signed checkpoints of the evidence log (also at shutdown)")
      ->capture_default_str();
  cmd->add_option("--evidence-retention", args->evidence_retention_days,
                  "Days the evidence log keeps records in the database; older sealed records "
                  "move into compressed archive files (0: never)")
      ->capture_default_str();
  cmd->add_option("--archive-dir", args->options.archive_dir,
                  "Where evidence archive files are written (default: DATA_DIR/evidence-archive)");
  cmd->add_flag("--no-evidence", args->no_evidence,
                "Run without the evidence log (only to measure what it costs)");
  cmd->add_option("--rate-per-system", args->rate_per_system,
                  "Requests per second of one system unless the registry sets its own (0: "
                  "unlimited)")
      ->capture_default_str();
  cmd->add_option("--burst-per-system", args->burst_per_system,
                  "Burst of one system's requests (0: one second's worth)")
      ->capture_default_str();
  cmd->add_option("--rate-per-api", args->rate_per_api,
                  "Requests per second of one consumer to one API unless the API sets its own "
                  "(0: unlimited)")
      ->capture_default_str();
  cmd->add_option("--burst-per-api", args->burst_per_api,
                  "Burst of one consumer's requests to one API (0: one second's worth)")
      ->capture_default_str();
  cmd->add_option("--replay-window", args->replay_window_s,
                  "Seconds during which the same signed push or async answer is refused as a "
                  "replay, and a repeated pull counted (0: off)")
      ->capture_default_str();
  cmd->add_option("--token-free-failures", args->token_free_failures,
                  "Failed client_credentials per client id within a minute before a lock-out "
                  "(1 s, doubling with each further failure)")
      ->capture_default_str();
  cmd->add_option("--token-free-failures-per-address", args->token_free_failures_per_address,
                  "The same per client address")
      ->capture_default_str();
  cmd->add_option("--token-max-lock", args->token_max_lock_s, "Longest lock-out, seconds")
      ->capture_default_str();
  cmd->add_option("--credential-check-threads", args->options.credential_checks.threads,
                  "Threads that check client secrets (scrypt, ~80 ms of CPU each), fairly "
                  "between client ids")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--replay-max-entries", args->replay_max_entries,
                  "Signed messages the replay window remembers at most (about 64 bytes each)")
      ->capture_default_str();
  cmd->add_flag("--cluster", args->cluster,
                "Run as one node of a cluster: state in PostgreSQL, delivery work on NATS "
                "JetStream (docs/cluster.md)");
  cmd->add_option("--postgres", args->options.cluster.postgres,
                  "Cluster: the PostgreSQL database (libpq conninfo or postgresql:// URL)");
  cmd->add_option("--nats", args->nats, "Cluster: the NATS servers, nats://HOST:PORT[,...]");
  cmd->add_option("--node-id", args->options.cluster.node_id,
                  "Cluster: this node's id, unique in the cluster (letters, digits, - _ .)");
  cmd->add_option("--kek-file", args->options.cluster.kek_file,
                  "Cluster: the key file that opens the cluster's secrets (govesb cluster init)");
  cmd->add_option("--work-replicas", args->options.cluster.work_replicas,
                  "Cluster: replicas of the JetStream work stream")
      ->capture_default_str();
  cmd->add_option("--lease-ms", args->lease_ms,
                  "Cluster: how long a node holds a lane without renewing it (takeover time)")
      ->capture_default_str();
  cmd->callback([args] { RunServe(*args); });
}

}  // namespace govesb::apps
