#include "serve_options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <type_traits>

#include "config_file.h"
#include "crypto/keys.h"

namespace govesb::apps {
namespace {

template <typename T>
std::string NumberText(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (value == std::floor(value) && std::abs(value) < 1e15) {
      return std::to_string(static_cast<int64_t>(value));  // 1000000, not 1e+06
    }
  }
  std::ostringstream out;
  out << value;
  return out.str();
}

// A number from `min` to `max`; NaN is refused. Text that is not a number passes here and
// is refused by the option's own conversion, which names the type. (No description: `--help`
// keeps showing the type and the default only; docs/configuration.md gives the ranges.)
template <typename T>
CLI::Validator Between(T min, T max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        T value{};
        if (!CLI::detail::lexical_cast(text, value)) return {};
        if (value >= min && value <= max) return {};
        return "must be from " + NumberText(min) + " to " + NumberText(max) + " (not " + text + ")";
      },
      "");
}

template <typename T>
CLI::Validator AtLeast(T min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        T value{};
        if (!CLI::detail::lexical_cast(text, value)) return {};
        if (value >= min) return {};
        return "must be at least " + NumberText(min) + " (not " + text + ")";
      },
      "");
}

CLI::Validator ListenAddress(bool may_be_off) {
  return CLI::Validator(
      [may_be_off](std::string& text) -> std::string {
        if (may_be_off && text == "off") return {};
        std::string host;
        uint16_t port = 0;
        if (server::SplitListen(text, host, port).ok()) return {};
        return std::string("must be HOST:PORT with a port from 0 to 65535") +
               (may_be_off ? ", or off" : "") + " (not '" + text + "')";
      },
      "");
}

CLI::Validator CurveName() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto curve = crypto::ParseCurveName(text);
        return curve.ok() ? std::string() : curve.status().message();
      },
      "");
}

}  // namespace

void AddServeOptions(CLI::App& cmd, ServeArgs& args) {
  ServeArgs* a = &args;
  cmd.add_option("--config", args.config_file,
                 "Read settings from this file (docs/configuration.md); options given here "
                 "override it")
      ->configurable(false);
  if (const char* env = std::getenv("GOVESB_DATA_DIR")) args.options.data_dir = env;
  cmd.add_option("--data-dir", args.options.data_dir,
                 "Data directory (registry database, bus key, TLS files)")
      ->capture_default_str();
  cmd.add_option("--listen", args.options.listen, "HOST:PORT to listen on (port 0: any)")
      ->check(ListenAddress(false))
      ->capture_default_str();
  args.options.admin_listen = "127.0.0.1:8444";
  cmd.add_option("--admin-listen", args.options.admin_listen,
                 "HOST:PORT of the admin API and portal (TLS like the bus; port 0: any), or off. "
                 "Keep it on the operator's network: the exchange port serves no admin route")
      ->check(ListenAddress(true))
      ->each([a](const std::string&) { a->admin_listen_given = true; })
      ->capture_default_str();
  cmd.add_option("--metrics-listen", args.options.metrics_listen,
                 "HOST:PORT of a plain-HTTP listener serving GET /metrics for Prometheus (port "
                 "0: any), or off. The admin listener serves /metrics too; the exchange port "
                 "does not")
      ->check(ListenAddress(true))
      ->capture_default_str();
  cmd.add_option("--shutdown-delay-ms", args.shutdown_delay_ms,
                 "On SIGTERM, answer /readyz with 503 and go on serving this long before "
                 "stopping (a balancer polling /readyz stops sending traffic first)")
      ->check(Between<int64_t>(0, 600'000))
      ->capture_default_str();
  cmd.add_flag("--plain-http", args.options.plain_http,
               "Serve plain HTTP (loopback, or behind a TLS-terminating balancer)");
  cmd.add_option("--tls-cert", args.options.tls_cert,
                 "PEM certificate chain (default: "
                 "a self-signed one in DATA_DIR/tls)");
  cmd.add_option("--tls-key", args.options.tls_key, "PEM private key for --tls-cert");
  cmd.add_option("--tls-name", args.options.tls_names,
                 "A host name or IP address clients use to reach the bus, named by the generated "
                 "certificate (repeatable; default: the listen host, or the machine's name and "
                 "addresses when listening on all interfaces)");
  cmd.add_option("--upstream-ca", args.options.upstream_ca,
                 "Extra CA file trusted for https provider endpoints");
  cmd.add_option("--key-curve", args.curve,
                 "Curve of the bus key generated on first start: secp256k1, prime256v1, "
                 "secp521r1")
      ->check(CurveName())
      ->capture_default_str();
  cmd.add_option("--threads", args.options.io_threads, "I/O threads (default: one per core)")
      ->check(AtLeast<size_t>(1))
      ->capture_default_str();
  cmd.add_option("--token-ttl", args.token_ttl_seconds, "Access token lifetime, seconds")
      ->check(Between<int64_t>(120, 86'400))
      ->capture_default_str();
  cmd.add_option("--max-body-bytes", args.options.max_body_bytes, "Request body size limit")
      ->capture_default_str();
  cmd.add_option("--max-connections", args.options.max_connections,
                 "Most open client connections; more are refused at once (503, or closed for "
                 "TLS). Lowered to stay below the open-file limit")
      ->check(AtLeast<size_t>(1))
      ->capture_default_str();
  cmd.add_option("--max-connections-per-address", args.options.max_connections_per_address,
                 "Most open connections from one client address; more are refused at once "
                 "(429, or closed for TLS). 0: no limit")
      ->capture_default_str();
  cmd.add_option("--read-timeout-ms", args.read_timeout_ms,
                 "A request must arrive within this (slow senders are closed)")
      ->check(Between<int64_t>(100, 600'000))
      ->capture_default_str();
  cmd.add_option("--tls-handshake-timeout-ms", args.tls_handshake_timeout_ms,
                 "Time a TLS client has, from connecting, to finish its handshake")
      ->check(Between<int64_t>(100, 600'000))
      ->capture_default_str();
  cmd.add_flag("--access-log", args.options.access_log,
               "Log every successful exchange at info (refusals and failures are always logged)");
  cmd.add_option("--log-level", args.log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  cmd.add_option("--log-format", args.log_format,
                 "text (one line per event), or json (one JSON object per line, with the fields "
                 "of each exchange)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  // Guaranteed delivery (push and asynchronous answers).
  cmd.add_option("--max-attempts", args.options.delivery.max_attempts,
                 "Delivery attempts before a delivery is dead-lettered")
      ->check(AtLeast(1))
      ->capture_default_str();
  cmd.add_option("--retry-base-ms", args.retry_base_ms,
                 "First retry delay; doubles per failed attempt, with jitter")
      ->check(AtLeast<int64_t>(10))
      ->capture_default_str();
  cmd.add_option("--retry-max-ms", args.retry_max_ms,
                 "Longest retry delay (at least --retry-base-ms)")
      ->capture_default_str();
  cmd.add_option("--delivery-timeout-ms", args.delivery_timeout_ms,
                 "Time a subscriber or callback has to acknowledge a delivery")
      ->check(AtLeast<int64_t>(100))
      ->capture_default_str();
  cmd.add_option("--max-in-flight", args.options.delivery.max_in_flight_per_endpoint,
                 "Deliveries in flight to one endpoint at once")
      ->check(AtLeast<size_t>(1))
      ->capture_default_str();
  cmd.add_option("--answer-window", args.answer_window_s,
                 "Seconds a provider of an asynchronous API has to post its answer")
      ->check(AtLeast<int64_t>(1))
      ->capture_default_str();
  cmd.add_option("--group-commit-max", args.options.durability.max_batch,
                 "Most writes made durable by one fsync (1: one fsync per message)")
      ->check(AtLeast<size_t>(1))
      ->capture_default_str();
  cmd.add_option("--commit-interval-us", args.options.durability.min_commit_interval_us,
                 "Least microseconds between the starts of two commits while the bus is busy, "
                 "each taking every write that arrived meanwhile (0: a commit starts as soon as "
                 "the previous one is done)")
      ->check(Between<int64_t>(0, 100'000))
      ->capture_default_str();
  cmd.add_option("--checkpoint-interval", args.checkpoint_interval_s,
                 "Seconds between signed checkpoints of the evidence log (also at shutdown)")
      ->check(AtLeast<int64_t>(1))
      ->capture_default_str();
  cmd.add_option("--evidence-retention", args.evidence_retention_days,
                 "Days the evidence log keeps records in the database; older sealed records "
                 "move into compressed archive files (0: never)")
      ->check(Between(0.0, 1e6))
      ->capture_default_str();
  cmd.add_option("--archive-dir", args.options.archive_dir,
                 "Where evidence archive files are written (default: DATA_DIR/evidence-archive)");
  cmd.add_flag("--no-evidence", args.no_evidence,
               "Run without the evidence log (only to measure what it costs)");
  cmd.add_option("--rate-per-system", args.rate_per_system,
                 "Requests per second of one system unless the registry sets its own (0: "
                 "unlimited)")
      ->check(Between(0.0, 1e6))
      ->capture_default_str();
  cmd.add_option("--burst-per-system", args.burst_per_system,
                 "Burst of one system's requests (0: one second's worth)")
      ->check(Between(0.0, 1e6))
      ->capture_default_str();
  cmd.add_option("--rate-per-api", args.rate_per_api,
                 "Requests per second of one consumer to one API unless the API sets its own "
                 "(0: unlimited)")
      ->check(Between(0.0, 1e6))
      ->capture_default_str();
  cmd.add_option("--burst-per-api", args.burst_per_api,
                 "Burst of one consumer's requests to one API (0: one second's worth)")
      ->check(Between(0.0, 1e6))
      ->capture_default_str();
  cmd.add_option("--replay-window", args.replay_window_s,
                 "Seconds during which the same signed push or async answer is refused as a "
                 "replay, and a repeated pull counted (0: off)")
      ->check(Between<int64_t>(0, 7 * 86'400))
      ->capture_default_str();
  cmd.add_option("--token-free-failures", args.token_free_failures,
                 "Failed client_credentials per client id within a minute before a lock-out "
                 "(1 s, doubling with each further failure)")
      ->check(AtLeast<uint32_t>(1))
      ->capture_default_str();
  cmd.add_option("--token-free-failures-per-address", args.token_free_failures_per_address,
                 "The same per client address")
      ->check(AtLeast<uint32_t>(1))
      ->capture_default_str();
  cmd.add_option("--token-max-lock", args.token_max_lock_s, "Longest lock-out, seconds")
      ->check(Between<int64_t>(1, 86'400))
      ->capture_default_str();
  cmd.add_option("--credential-check-threads", args.options.credential_checks.threads,
                 "Threads that check client secrets (scrypt, ~80 ms of CPU each), fairly "
                 "between client ids")
      ->check(Between<size_t>(1, 256))
      ->capture_default_str();
  cmd.add_option("--replay-max-entries", args.replay_max_entries,
                 "Signed messages the replay window remembers at most (about 64 bytes each)")
      ->check(Between<size_t>(1000, 100'000'000))
      ->capture_default_str();
  cmd.add_flag("--cluster", args.cluster,
               "Run as one node of a cluster: state in PostgreSQL, delivery work on NATS "
               "JetStream (docs/cluster.md)");
  cmd.add_option("--postgres", args.options.cluster.postgres,
                 "Cluster: the PostgreSQL database (libpq conninfo or postgresql:// URL)");
  cmd.add_option("--nats", args.nats, "Cluster: the NATS servers, nats://HOST:PORT[,...]");
  cmd.add_option("--node-id", args.options.cluster.node_id,
                 "Cluster: this node's id, unique in the cluster (letters, digits, - _ .)");
  cmd.add_option("--kek-file", args.options.cluster.kek_file,
                 "Cluster: the key file that opens the cluster's secrets (govesb cluster init)");
  cmd.add_option("--work-replicas", args.options.cluster.work_replicas,
                 "Cluster: replicas of the JetStream work stream")
      ->check(Between(1, 5))
      ->capture_default_str();
  cmd.add_option("--lease-ms", args.lease_ms,
                 "Cluster: how long a node holds a lane without renewing it (takeover time)")
      ->check(Between<int64_t>(1'000, 600'000))
      ->capture_default_str();
}

Status PrepareServe(CLI::App& cmd, ServeArgs& args) {
  if (!args.config_file.empty()) GOVESB_RETURN_IF_ERROR(ApplyConfigFile(cmd, args.config_file));
  // Each single value was checked by its option's validator; what is left involves several.
  auto curve = crypto::ParseCurveName(args.curve);
  if (!curve.ok()) return curve.status();
  args.options.key_curve = *curve;
  args.options.token_ttl = std::chrono::seconds(args.token_ttl_seconds);
  auto& d = args.options.delivery;
  if (args.retry_max_ms < args.retry_base_ms) {
    return InvalidArgument("--retry-max-ms (" + std::to_string(args.retry_max_ms) +
                           ") must be at least --retry-base-ms (" +
                           std::to_string(args.retry_base_ms) + ")");
  }
  d.retry_base = std::chrono::milliseconds(args.retry_base_ms);
  d.retry_max = std::chrono::milliseconds(args.retry_max_ms);
  d.timeout = std::chrono::milliseconds(args.delivery_timeout_ms);
  d.answer_window = std::chrono::seconds(args.answer_window_s);
  args.options.checkpoint_interval = std::chrono::seconds(args.checkpoint_interval_s);
  args.options.evidence_retention =
      std::chrono::milliseconds(static_cast<int64_t>(args.evidence_retention_days * 86'400'000.0));
  args.options.evidence = !args.no_evidence;
  auto& g = args.options.guards;
  g.system_rate = limits::Rate{args.rate_per_system, args.burst_per_system};
  g.api_rate = limits::Rate{args.rate_per_api, args.burst_per_api};
  g.replay_enabled = args.replay_window_s > 0;
  g.replay.window = std::chrono::seconds(args.replay_window_s);
  g.replay.max_entries = args.replay_max_entries;
  g.token_client.free_failures = args.token_free_failures;
  g.token_address.free_failures = args.token_free_failures_per_address;
  g.token_client.max_lock = g.token_address.max_lock = std::chrono::seconds(args.token_max_lock_s);
  args.options.tls_handshake_timeout = std::chrono::milliseconds(args.tls_handshake_timeout_ms);
  args.options.read_timeout = std::chrono::milliseconds(args.read_timeout_ms);
  args.options.shutdown_delay = std::chrono::milliseconds(args.shutdown_delay_ms);
  auto& c = args.options.cluster;
  if (args.cluster) {
    if (c.postgres.empty() || args.nats.empty() || c.node_id.empty() || c.kek_file.empty()) {
      return InvalidArgument(
          "--cluster needs --postgres URL, --nats URL[,URL...], --node-id ID and --kek-file "
          "FILE (see docs/cluster.md)");
    }
    c.lease = std::chrono::milliseconds(args.lease_ms);
    c.nats.clear();
    for (size_t start = 0; start <= args.nats.size();) {
      size_t comma = args.nats.find(',', start);
      if (comma == std::string::npos) comma = args.nats.size();
      if (comma > start) c.nats.push_back(args.nats.substr(start, comma - start));
      start = comma + 1;
    }
  } else if (!c.postgres.empty() || !args.nats.empty() || !c.node_id.empty()) {
    return InvalidArgument("--postgres, --nats and --node-id are for --cluster");
  }
  args.options.admin_listen_optional = !args.admin_listen_given;
  return Status::Ok();
}

void PrintServeErrors(const Status& status) {
  const std::string& message = status.message();
  for (size_t start = 0; start < message.size();) {
    size_t end = std::min(message.find('\n', start), message.size());
    std::fprintf(stderr, "error: %.*s\n", static_cast<int>(end - start), message.data() + start);
    start = end + 1;
  }
}

}  // namespace govesb::apps
