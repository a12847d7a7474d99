#pragma once

// BusServer's state, shared by the files of this module (bus_server.cc wires and stops it,
// status.cc serves its readiness and metrics). Internal: nothing outside server/ includes it.

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "accounts/accounts.h"
#include "admin/service.h"
#include "adminapi/api.h"
#include "adminapi/session_auth.h"
#include "auth/client_credentials.h"
#include "auth/token.h"
#include "base/clock.h"
#include "cluster/lane_work.h"
#include "cluster/membership.h"
#include "engine/engine.h"
#include "evidence/store.h"
#include "http/client.h"
#include "http/io_threads.h"
#include "http/server.h"
#include "registry/registry.h"
#include "registry/snapshot_watcher.h"
#include "server/bus_server.h"
#include "store/data_dir.h"

namespace govesb::server {

struct BusServer::Impl {
  ServeOptions options;
  SystemClock system_clock;
  const Clock* clock = &system_clock;
  std::optional<store::DataDir> data_dir;  // the embedded default's
  // The bus's secrets: the data directory's, or the cluster's.
  std::optional<crypto::KeyRing> key_ring;  // as read at start; the signer holds the latest
  std::string token_secret;
  std::string evidence_key;
  // Opens a database connection of its own for a thread or a listener (the admin listener, the
  // traffic and admin-evidence threads): the data directory's SQLite file, or PostgreSQL.
  std::function<Result<std::unique_ptr<store::Database>>()> open_database;
  std::string database_description;  // the file's path, or the PostgreSQL address
  // Opens a registry store of its own for a thread (the embedded default: SQLite, the data
  // directory's database).
  std::function<Result<std::unique_ptr<registry::RegistryStore>>()> open_registry_store;
  std::unique_ptr<registry::SnapshotWatcher> watcher;
  // Signs with the key ring's current key; the key watcher (keys.cc) gives it the ring again
  // after a rotation and the time every second (a scheduled activation).
  std::unique_ptr<crypto::RingSigner> signer;
  std::thread key_watcher;
  std::mutex key_mutex;        // the watcher and a reload (SIGHUP) take turns reading the ring
  std::string key_ring_stamp;  // of the ring file when last read ("": not read yet)
  std::string cluster_kek;     // cluster mode: opens the key ring in PostgreSQL
  std::unique_ptr<store::Database> key_db;  // cluster mode: the watcher's connection
  bool key_ring_failing = false;            // the last reading failed (logged once)
  std::unique_ptr<auth::TokenService> tokens;
  auth::ClientAuthenticator clients;
  std::unique_ptr<http::IoThreads> io;
  std::unique_ptr<limits::FairWorkPool> credential_checks;
  std::unique_ptr<http::PooledUpstreamClient> upstream;
  std::unique_ptr<store::GroupCommitWriter> writer;
  std::unique_ptr<delivery::DeliveryQueue> queue;
  std::unique_ptr<delivery::Dispatcher> dispatcher;
  // Cluster mode: the NATS connection, the lanes this node delivers, its heartbeat.
  std::unique_ptr<nats::Connection> nats;
  std::unique_ptr<cluster::LaneWork> lane_work;
  std::unique_ptr<cluster::Membership> membership;
  // The evidence store: the engine appends through its EvidenceSink port;
  // the evidence thread, the admin layer and shutdown use the rest of EvidenceStore. The delivery
  // queue and the admin journal reach the same log through the writer (AppendInJob).
  std::unique_ptr<evidence::EvidenceStore> evidence;
  // Seals evidence checkpoints on a timer.
  std::thread checkpointer;
  std::mutex checkpoint_mutex;
  std::condition_variable checkpoint_wake;
  bool checkpoint_stop = false;
  std::unique_ptr<engine::Guards> guards;
  // Adds the signature variant counts to the registry on a timer.
  std::thread usage_flusher;
  std::unique_ptr<traffic::TrafficCounters> traffic;
  // Adds the traffic counters to the database on a timer, and once more at shutdown.
  std::thread traffic_flusher;
  // Moves the admin actions recorded in the registry database (by the CLI, the admin API)
  // into the evidence log, every second and once more at shutdown.
  std::thread admin_evidence;
  // The admin listener: its own database connection, service layer, accounts, API, I/O thread
  // and worker threads (the API blocks on SQLite and password hashing).
  std::unique_ptr<store::Database> admin_db;
  std::unique_ptr<accounts::LoginGuard> login_guard;
  std::unique_ptr<admin::AdminService> admin_service;
  std::unique_ptr<accounts::Accounts> accounts;
  std::unique_ptr<adminapi::SessionAuthenticator> admin_auth;
  std::unique_ptr<adminapi::AdminApi> admin_api;
  std::unique_ptr<http::IoThreads> admin_io;
  std::unique_ptr<boost::asio::thread_pool> admin_workers;
  std::unique_ptr<http::HttpServer> admin_server;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<http::HttpServer> server;
  // The metrics listener (--metrics-listen): its own I/O thread and server.
  std::unique_ptr<http::IoThreads> metrics_io;
  std::unique_ptr<http::HttpServer> metrics_server;
  // Set when Shutdown begins: /readyz answers 503 from then on.
  std::atomic<bool> shutting_down{false};
  std::string ca_file;
  std::vector<std::string> public_names;  // the names other machines reach the bus by
  std::string certificate_file;      // the chain the exchange and admin listeners serve ("": none)
  std::string certificate_key_file;  // its key
  std::mutex tls_mutex;              // one certificate reload at a time
  int64_t started_at_ms = 0;
  bool started = false;
  bool stopped = false;
};

// The checks of GET /readyz that the server makes (the engine adds the registry's).
void AddReadinessChecks(const BusServer::Impl& s, std::vector<engine::ReadyCheck>& checks);
// The whole of /metrics: the engine's, the traffic counters', the evidence log's, the store
// writer's, the exchange listener's and the process's. Blocks briefly (locks, /proc): call it
// off the exchange I/O threads.
std::string RenderMetrics(const BusServer::Impl& s);
// GET /metrics as served by the metrics and admin listeners.
http::HttpResponse MetricsResponse(const BusServer::Impl& s);
// Starts the metrics listener on `listen` (HOST:PORT, plain HTTP, GET /metrics).
Status StartMetricsListener(BusServer::Impl& s, const std::string& listen);
// Reads the key ring again when its file changed (or always, with `force`) and gives it to the
// signer with the time; logs a change of the signing key. (keys.cc)
void CheckKeyRing(BusServer::Impl& s, bool force);
// Starts the thread that calls CheckKeyRing every second until Shutdown. (keys.cc)
void StartKeyWatcher(BusServer::Impl& s);

// HOST:PORT into its parts ("" or "*" host: all interfaces; "localhost": 127.0.0.1).
Status SplitListen(const std::string& listen, std::string& host, uint16_t& port);
// A listener's base URL as clients reach it ("0.0.0.0" as loopback, IPv6 in brackets).
std::string BaseUrl(const http::HttpServer& server);

}  // namespace govesb::server
