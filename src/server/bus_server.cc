#include "server/bus_server.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>

#include "admin/journal.h"
#include "base/cpu_share.h"
#include "base/thread_name.h"
#include "base/version.h"
#include "delivery/pg_queue.h"
#include "delivery/sqlite_queue.h"
#include "evidence/maintenance.h"
#include "evidence/pg_store.h"
#include "evidence/records.h"
#include "evidence/sqlite_store.h"
#include "http/tls.h"
#include "portal/portal.h"
#include "registry/pg_store.h"
#include "registry/sqlite_store.h"
#include "server/bus_server_impl.h"

namespace govesb::server {

Status SplitListen(const std::string& listen, std::string& host, uint16_t& port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("--listen must be HOST:PORT");
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  std::string_view p = std::string_view(listen).substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || ptr != p.data() + p.size() || value > 65535) {
    return InvalidArgument("--listen port must be a number from 0 to 65535");
  }
  port = static_cast<uint16_t>(value);
  return Status::Ok();
}

// A listener's base URL as clients reach it ("0.0.0.0" as loopback, IPv6 in brackets).
std::string BaseUrl(const http::HttpServer& server) {
  std::string host = server.host();
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(server.tls() ? "https" : "http") + "://" + host + ":" +
         std::to_string(server.port());
}

namespace {

// Adds the signature variant counts gathered since the last call to the registry, through
// `store` (the usage thread's own, opened on first use and again after a failure). A failure
// is logged and the counts are lost (they are statistics, not evidence: the evidence log
// names each exchange's variant).
void FlushSignatureUsage(BusServer::Impl& s, std::unique_ptr<registry::RegistryStore>& store) {
  std::vector<registry::SignatureUsage> usage = s.guards->usage().Take();
  if (usage.empty()) return;
  Status recorded = Status::Ok();
  if (store == nullptr) {
    auto opened = s.open_registry_store();
    if (opened.ok()) {
      store = std::move(opened).value();
    } else {
      recorded = opened.status();
    }
  }
  if (store != nullptr) recorded = store->RecordSignatureUsage(usage);
  if (!recorded.ok()) {
    // A store that failed may be broken (e.g. a lost connection): open a fresh one next time.
    store.reset();
    spdlog::warn("registry: signature variant counts not recorded: {}", recorded.message());
  }
}

bool IsLoopbackName(const std::string& name) {
  return name == "localhost" || name == "127.0.0.1" || name == "::1" || name.empty();
}

// The names the generated certificate carries besides the loopback ones: --tls-name when
// given; else a specific listen host; else (listening on every interface) the machine's host
// name and its addresses, other than loopback and IPv6 link-local ones.
std::vector<std::string> CertificateNames(const ServeOptions& o, const std::string& host) {
  std::vector<std::string> names = o.tls_names;
  const bool everywhere = host == "0.0.0.0" || host == "::";
  if (!everywhere) {
    if (!IsLoopbackName(host)) names.push_back(host);
    return names;
  }
  if (!names.empty()) return names;
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0 && hostname[0] != '\0' &&
      !IsLoopbackName(hostname)) {
    names.emplace_back(hostname);
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
      char text[INET6_ADDRSTRLEN] = {};
      if (i->ifa_addr->sa_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                    sizeof text);
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        const in6_addr& a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr;
        if (IN6_IS_ADDR_LINKLOCAL(&a)) continue;
        ::inet_ntop(AF_INET6, &a, text, sizeof text);
      } else {
        continue;
      }
      if (text[0] != '\0' && std::find(names.begin(), names.end(), text) == names.end()) {
        names.emplace_back(text);
      }
    }
    ::freeifaddrs(list);
  }
  return names;
}

// Runs `work` on the calling thread every `interval` until Shutdown wakes the timer threads, and
// once more then (what is still in memory is flushed before the process ends).
template <class Interval, class Work>
void EveryUntilStopped(BusServer::Impl& s, Interval interval, Work work) {
  std::unique_lock lock(s.checkpoint_mutex);
  bool stop = false;
  while (!stop) {
    stop = s.checkpoint_wake.wait_for(lock, interval, [&] { return s.checkpoint_stop; });
    lock.unlock();
    work();
    lock.lock();
  }
}

// Moves every admin action not yet in the evidence log into it (one writer job per 500).
void MoveAdminActions(BusServer::Impl& s, store::Database& db) {
  for (int round = 0; round < 100; ++round) {
    Result<int64_t> pending = admin::PendingActionCount(db);
    if (!pending.ok()) {
      spdlog::warn("evidence: admin actions not read: {}", pending.status().message());
      return;
    }
    if (*pending == 0) return;
    std::promise<Status> done;
    s.writer->Submit(
        [](store::WriteContext& ctx) -> Status {
          return admin::MoveActionsIntoEvidence(ctx, 500).status();
        },
        [&done](const Status& st) { done.set_value(st); });
    Status moved = done.get_future().get();
    if (!moved.ok()) {
      spdlog::warn("evidence: admin actions not moved into the log: {}", moved.message());
      return;
    }
  }
}

// Starts the admin listener on `listen` (HOST:PORT), TLS when `tls` is set.
Status StartAdminListener(BusServer::Impl& s, const std::string& listen,
                          std::shared_ptr<boost::asio::ssl::context> tls) {
  const ServeOptions& o = s.options;
  http::ServerOptions aopts;
  GOVESB_RETURN_IF_ERROR(SplitListen(listen, aopts.host, aopts.port));
  aopts.tls = std::move(tls);
  aopts.max_body_bytes = 1024 * 1024;  // an OpenAPI document of 256 KB as JSON text, and more
  aopts.max_connections = 1000;
  aopts.max_connections_per_address = 64;
  aopts.read_timeout = o.read_timeout;
  aopts.handshake_timeout = o.tls_handshake_timeout;
  GOVESB_ASSIGN_OR_RETURN(s.admin_db, s.open_database());
  s.login_guard = std::make_unique<accounts::LoginGuard>(*s.clock);
  admin::ServiceOptions service_options;
  service_options.clock = s.clock;
  service_options.evidence_archive_dir =
      o.archive_dir.empty() ? evidence::DefaultArchiveDir(o.data_dir) : o.archive_dir;
  service_options.bus_key_ring = [signer = s.signer.get()] { return signer->ring(); };
  service_options.signer = s.signer.get();      // access reports
  service_options.evidence = s.evidence.get();  // null with evidence off: then on admin_db
  service_options.bus = admin::BusInfo{
      .exchange_url = BaseUrl(*s.server),
      .admin_url = std::string(),  // set below, once the listener has its port
      .tls = o.plain_http ? "off" : (o.tls_cert.empty() ? "self-signed" : "provided"),
      .certificate_file = s.certificate_file,
      .ca_file = s.ca_file,
      .data_dir = o.data_dir,
      .version = std::string(GovesbVersion()),
      .started_at_ms = s.started_at_ms};
  s.admin_service = std::make_unique<admin::AdminService>(*s.admin_db, service_options);
  accounts::AccountsOptions account_options;
  account_options.clock = s.clock;
  account_options.hash_password = o.admin_password_hasher;
  account_options.guard = s.login_guard.get();
  s.accounts = std::make_unique<accounts::Accounts>(*s.admin_db, account_options);
  s.admin_auth = std::make_unique<adminapi::SessionAuthenticator>(*s.accounts);
  // The same connection as the service and the accounts: accepting an application and making
  // its first admin account are one transaction.
  s.admin_api = std::make_unique<adminapi::AdminApi>(*s.admin_service, s.accounts.get(),
                                                     *s.admin_auth, s.clock, s.admin_db.get());
  s.admin_io = std::make_unique<http::IoThreads>(1);
  s.admin_workers =
      std::make_unique<boost::asio::thread_pool>(std::max<size_t>(1, o.admin_threads));
  s.admin_server = std::make_unique<http::HttpServer>(
      *s.admin_io, std::move(aopts),
      [&s, api = s.admin_api.get(), workers = s.admin_workers.get()](
          http::HttpRequest& r) -> boost::asio::awaitable<http::HttpResponse> {
        // GET /metrics (for Prometheus: no session; the listener is on the operator's network),
        // rendered on a worker (it takes locks and reads /proc).
        if (r.Path() == "/metrics" && (r.method == "GET" || r.method == "HEAD")) {
          auto render = [&s]() -> boost::asio::awaitable<http::HttpResponse> {
            co_return MetricsResponse(s);
          };
          auto pending =
              boost::asio::co_spawn(*workers, std::move(render), boost::asio::use_awaitable);
          co_return co_await std::move(pending);
        }
        // The API under /api/; everything else is the portal's files (or their 404), served
        // from memory on the I/O thread.
        if (!r.Path().starts_with("/api/")) co_return portal::ServeAsset(r);
        // Named, not a temporary inside the co_await expression: GCC 12 destroys such
        // temporaries twice.
        auto work = [api, &r]() -> boost::asio::awaitable<http::HttpResponse> {
          co_return api->Handle(r);
        };
        auto pending = boost::asio::co_spawn(*workers, std::move(work), boost::asio::use_awaitable);
        co_return co_await std::move(pending);
      });
  GOVESB_RETURN_IF_ERROR(s.admin_server->Listen());
  s.admin_service->set_admin_url(BaseUrl(*s.admin_server));  // before the first request
  s.admin_server->Start();
  s.admin_io->Start();
  return Status::Ok();
}

// The embedded default: the data directory (SQLite database, keys, TLS files).
Status OpenEmbeddedState(BusServer::Impl& s) {
  const ServeOptions& o = s.options;
  store::DataDirOptions dopts;
  dopts.path = o.data_dir;
  dopts.key_curve = o.key_curve;
  GOVESB_ASSIGN_OR_RETURN(auto dir, store::DataDir::Open(dopts));
  s.data_dir.emplace(std::move(dir));
  s.key_ring = s.data_dir->key_ring();
  s.token_secret = s.data_dir->token_secret();
  s.evidence_key = s.data_dir->evidence_key();
  s.database_description = s.data_dir->database_path();
  s.open_database = [path = s.data_dir->database_path()] {
    store::DatabaseOptions own;
    own.create = false;
    own.busy_timeout_ms = 5000;
    return store::Database::Open(path, own);
  };
  {
    GOVESB_ASSIGN_OR_RETURN(auto db, s.data_dir->OpenDatabase());
    GOVESB_RETURN_IF_ERROR(registry::Registry::Migrate(*db));
    GOVESB_RETURN_IF_ERROR(evidence::MigrateEvidenceStore(*db));
    GOVESB_RETURN_IF_ERROR(delivery::MigrateDeliveryStore(*db));
    GOVESB_RETURN_IF_ERROR(traffic::MigrateTrafficStore(*db));
    GOVESB_RETURN_IF_ERROR(admin::MigrateAdminStore(*db));
    GOVESB_RETURN_IF_ERROR(accounts::MigrateAccountsStore(*db));
  }
  s.open_registry_store = [path = s.data_dir->database_path(),
                           clock = s.clock]() -> Result<std::unique_ptr<registry::RegistryStore>> {
    GOVESB_ASSIGN_OR_RETURN(auto store, registry::SqliteRegistryStore::Open(path, clock));
    return std::unique_ptr<registry::RegistryStore>(std::move(store));
  };
  return Status::Ok();
}

// Cluster mode: PostgreSQL (migrated here: nodes starting together migrate safely), the
// cluster's secrets opened with the key-encryption key.
Status OpenClusterState(BusServer::Impl& s) {
  ServeOptions& o = s.options;
  const ServeOptions::Cluster& c = o.cluster;
  GOVESB_RETURN_IF_ERROR(cluster::ValidateNodeId(c.node_id));
  if (c.nats.empty()) return InvalidArgument("a cluster node needs the NATS servers (--nats)");
  GOVESB_ASSIGN_OR_RETURN(std::string kek, cluster::LoadKeyEncryptionKey(c.kek_file, false));
  GOVESB_ASSIGN_OR_RETURN(auto db, store::Database::OpenPostgres(c.postgres));
  GOVESB_RETURN_IF_ERROR(registry::Registry::Migrate(*db));
  GOVESB_RETURN_IF_ERROR(evidence::MigrateEvidenceStore(*db));
  GOVESB_RETURN_IF_ERROR(delivery::MigrateDeliveryStore(*db));
  GOVESB_RETURN_IF_ERROR(traffic::MigrateTrafficStore(*db));
  GOVESB_RETURN_IF_ERROR(admin::MigrateAdminStore(*db));
  GOVESB_RETURN_IF_ERROR(accounts::MigrateAccountsStore(*db));
  GOVESB_RETURN_IF_ERROR(cluster::MigrateClusterStore(*db));
  GOVESB_ASSIGN_OR_RETURN(cluster::ClusterSecrets secrets, cluster::LoadSecrets(*db, kek));
  s.key_ring = std::move(secrets.key_ring);
  s.cluster_kek = kek;  // the key watcher opens the key ring again after a rotation
  s.token_secret = std::move(secrets.token_secret);
  s.evidence_key = std::move(secrets.evidence_key);
  s.database_description = db->path();  // without a password
  o.traffic.node = c.node_id;           // each node adds its own counts
  s.open_database = [conninfo = c.postgres] { return store::Database::OpenPostgres(conninfo); };
  s.open_registry_store = [conninfo = c.postgres,
                           clock = s.clock]() -> Result<std::unique_ptr<registry::RegistryStore>> {
    GOVESB_ASSIGN_OR_RETURN(auto store, registry::PgRegistryStore::Open(conninfo, clock));
    return std::unique_ptr<registry::RegistryStore>(std::move(store));
  };
  return Status::Ok();
}

// The writer's options: commits wait for their interval only while the I/O threads keep their
// CPUs busy (GroupCommitOptions::load).
store::GroupCommitOptions Durability(const ServeOptions& o) {
  store::GroupCommitOptions durability = o.durability;
  if (!durability.load) {
    auto share = std::make_shared<ProcessCpuShare>(std::chrono::milliseconds(100),
                                                   static_cast<int>(o.io_threads));
    durability.load = [share] { return share->At(ProcessCpuShare::Clock::now()); };
  }
  return durability;
}

// Cluster mode: the writer, queue and evidence chain on PostgreSQL, and the lanes on JetStream.
Status OpenClusterDelivery(BusServer::Impl& s, delivery::DispatcherDeps& deps) {
  const ServeOptions& o = s.options;
  const ServeOptions::Cluster& c = o.cluster;
  GOVESB_ASSIGN_OR_RETURN(auto writer_db, store::Database::OpenPostgres(c.postgres));
  GOVESB_ASSIGN_OR_RETURN(s.writer,
                          store::GroupCommitWriter::Start(std::move(writer_db), Durability(o)));
  evidence::PgEvidenceOptions evidence_options;
  evidence_options.node_id = c.node_id;
  // The node's evidence chain is the writer's participant: always open, since pushes and
  // deliveries record their evidence in their own write jobs.
  GOVESB_ASSIGN_OR_RETURN(s.evidence, evidence::PgEvidenceStore::Open(c.postgres, *s.writer,
                                                                      *s.signer, evidence_options));
  GOVESB_ASSIGN_OR_RETURN(auto queue, delivery::PgDeliveryQueue::Open(c.postgres, *s.writer));
  delivery::LaneStore* lanes = queue.get();
  s.queue = std::move(queue);
  nats::ConnectionOptions nopts;
  nopts.name = "govesb-" + c.node_id;
  GOVESB_ASSIGN_OR_RETURN(s.nats, nats::Connection::Open(c.nats, nopts));
  cluster::LaneWorkOptions lopts;
  lopts.node_id = c.node_id;
  lopts.replicas = c.work_replicas;
  lopts.lease = c.lease;
  lopts.renew_every = c.lease / 3;
  lopts.sweep_every = c.sweep_every;
  GOVESB_ASSIGN_OR_RETURN(s.lane_work, cluster::LaneWork::Create(*s.nats, *lanes, *s.queue, lopts));
  deps.coordinator = s.lane_work.get();
  return Status::Ok();
}

}  // namespace

BusServer::BusServer(ServeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

BusServer::~BusServer() { Shutdown(); }

Status BusServer::Start() {
  Impl& s = *impl_;
  const ServeOptions& o = s.options;
  std::string host;
  uint16_t port = 0;
  GOVESB_RETURN_IF_ERROR(SplitListen(o.listen, host, port));

  if (o.clock != nullptr) s.clock = o.clock;
  if (o.cluster.postgres.empty()) {
    GOVESB_RETURN_IF_ERROR(OpenEmbeddedState(s));
  } else {
    GOVESB_RETURN_IF_ERROR(OpenClusterState(s));
  }
  GOVESB_ASSIGN_OR_RETURN(std::unique_ptr<registry::RegistryStore> watched,
                          s.open_registry_store());
  s.watcher = std::make_unique<registry::SnapshotWatcher>(std::move(watched));
  GOVESB_RETURN_IF_ERROR(s.watcher->Start());
  s.signer = std::make_unique<crypto::RingSigner>(*s.key_ring, s.clock->NowMillis());
  CheckKeyRing(s, true);  // the ring as it is now, should it have changed since the open
  s.started_at_ms = s.clock->NowMillis();
  s.tokens = std::make_unique<auth::TokenService>(s.token_secret, *s.clock, o.token_ttl);

  // TLS.
  http::ServerOptions sopts;
  sopts.host = host;
  sopts.port = port;
  sopts.max_body_bytes = o.max_body_bytes;
  sopts.max_connections = o.max_connections;
  sopts.max_connections_per_address = o.max_connections_per_address;
  sopts.handshake_timeout = o.tls_handshake_timeout;
  sopts.read_timeout = o.read_timeout;
  // Every connection is a descriptor; the server keeps its cap below this limit.
  http::RaiseOpenFileLimit();
  if (!o.plain_http) {
    std::string cert = o.tls_cert;
    std::string key = o.tls_key;
    if (cert.empty() != key.empty()) {
      return InvalidArgument("--tls-cert and --tls-key go together");
    }
    if (cert.empty() && !o.cluster.postgres.empty()) {
      return InvalidArgument(
          "the nodes of a cluster share one certificate: give --tls-cert and --tls-key (or "
          "--plain-http behind a balancer that terminates TLS)");
    }
    if (cert.empty()) {
      std::vector<std::string> names = CertificateNames(o, host);
      GOVESB_ASSIGN_OR_RETURN(http::SelfSignedTls made,
                              http::EnsureSelfSignedCertificate(s.data_dir->tls_dir(), names));
      if (made.reissued) {
        spdlog::warn(
            "TLS: the server certificate in {} did not name every one of the bus's names; a new "
            "one was issued by the same CA ({}), which clients keep trusting",
            s.data_dir->tls_dir(), made.files.ca_cert);
      }
      cert = made.files.cert;
      key = made.files.key;
      s.ca_file = made.files.ca_cert;
      for (const std::string& n : names) {
        if (!IsLoopbackName(n)) s.public_names.push_back(n);
      }
    }
    s.certificate_file = cert;
    s.certificate_key_file = key;
    GOVESB_ASSIGN_OR_RETURN(sopts.tls, http::MakeServerTlsContext(cert, key));
  }

  std::shared_ptr<boost::asio::ssl::context> sopts_tls = sopts.tls;  // the admin listener's too
  s.io = std::make_unique<http::IoThreads>(o.io_threads);
  s.credential_checks = std::make_unique<limits::FairWorkPool>(o.credential_checks);
  http::PooledClientOptions copts;
  copts.max_response_bytes = o.max_body_bytes;
  if (!o.upstream_ca.empty()) {
    GOVESB_ASSIGN_OR_RETURN(copts.tls, http::MakeClientTlsContext(o.upstream_ca));
  }
  s.upstream = std::make_unique<http::PooledUpstreamClient>(*s.io, copts);

  // Guaranteed delivery: durable writer, queue, dispatcher (resumes pending deliveries), and
  // the evidence store on the same writer.
  delivery::DispatcherOptions delivery_options = o.delivery;
  delivery_options.tls = copts.tls;
  delivery_options.record_evidence = o.evidence;
  delivery::DispatcherDeps delivery_deps;
  if (o.cluster.postgres.empty()) {
    GOVESB_ASSIGN_OR_RETURN(
        s.writer, store::GroupCommitWriter::Open(s.data_dir->database_path(), Durability(o)));
    GOVESB_ASSIGN_OR_RETURN(
        s.queue, delivery::SqliteDeliveryQueue::Open(s.data_dir->database_path(), *s.writer));
    if (o.evidence) {
      evidence::SqliteEvidenceOptions evidence_options;
      evidence_options.archive_dir =
          o.archive_dir.empty() ? evidence::DefaultArchiveDir(o.data_dir) : o.archive_dir;
      GOVESB_ASSIGN_OR_RETURN(
          s.evidence, evidence::SqliteEvidenceStore::Open(s.data_dir->database_path(), *s.writer,
                                                          *s.signer, evidence_options));
    }
  } else {
    GOVESB_RETURN_IF_ERROR(OpenClusterDelivery(s, delivery_deps));
  }
  delivery_deps.queue = s.queue.get();
  delivery_deps.snapshot = [w = s.watcher.get()] { return w->Current(); };
  delivery_deps.signer = s.signer.get();
  s.dispatcher = std::make_unique<delivery::Dispatcher>(std::move(delivery_deps), delivery_options);
  GOVESB_RETURN_IF_ERROR(s.dispatcher->Start());
  if (s.lane_work) GOVESB_RETURN_IF_ERROR(s.lane_work->Start(*s.dispatcher));

  engine::EngineDeps deps;
  deps.snapshot = [w = s.watcher.get()] { return w->Current(); };
  deps.tokens = s.tokens.get();
  deps.clients = &s.clients;
  deps.signer = s.signer.get();
  deps.key_ring = s.signer.get();
  deps.upstream = s.upstream.get();
  deps.credential_checks = s.credential_checks.get();
  deps.clock = s.clock;
  deps.delivery = s.dispatcher.get();
  deps.evidence = o.evidence ? s.evidence.get() : nullptr;
  deps.evidence_body_key = s.evidence_key;
  deps.access_log = o.access_log;
  s.guards = std::make_unique<engine::Guards>(*s.clock, o.guards);
  deps.guards = s.guards.get();
  s.traffic = std::make_unique<traffic::TrafficCounters>(*s.clock, o.traffic);
  deps.traffic = s.traffic.get();
  deps.readiness = [&s](std::vector<engine::ReadyCheck>& checks) { AddReadinessChecks(s, checks); };
  s.engine = std::make_unique<engine::Engine>(std::move(deps));
  sopts.error_response = [e = s.engine.get()](int status, std::string_view message) {
    return e->ServerError(status, message);
  };
  s.server = std::make_unique<http::HttpServer>(
      *s.io, std::move(sopts), [e = s.engine.get()](http::HttpRequest& r) { return e->Handle(r); });
  GOVESB_RETURN_IF_ERROR(s.server->Listen());
  s.server->Start();
  s.io->Start();
  if (s.evidence && o.checkpoint_interval.count() > 0) {
    evidence::EvidenceMaintenance::Options upkeep;
    upkeep.interval_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(o.checkpoint_interval).count();
    // PostgreSQL keeps its records (archiving is the embedded log's: segment files).
    upkeep.retention_ms =
        o.cluster.postgres.empty()
            ? std::chrono::duration_cast<std::chrono::milliseconds>(o.evidence_retention).count()
            : 0;
    // Indexing every second between rounds (RunIndexing), so that a search reads at most
    // about a second of records from the files.
    const auto tick = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(o.checkpoint_interval),
        std::chrono::milliseconds(upkeep.index_interval_ms));
    s.checkpointer = std::thread([&s, interval = o.checkpoint_interval, tick, upkeep]() mutable {
      // The store's upkeep connection: the checkpoint's reading and signing, and archiving,
      // happen on this thread; the group-commit writer only stores a checkpoint, and
      // archiving's short delete transactions take turns with it (busy timeout).
      NameThisThread("govesb-evidence");
      // Rounds that cannot open a file (out of file descriptors) back off and are not damage.
      evidence::EvidenceMaintenance maintenance(*s.evidence, *s.clock, upkeep);
      std::unique_lock lock(s.checkpoint_mutex);
      auto next_round = std::chrono::steady_clock::now() + interval;
      while (!s.checkpoint_wake.wait_for(lock, tick, [&] { return s.checkpoint_stop; })) {
        lock.unlock();
        // Both log their failures themselves.
        if (std::chrono::steady_clock::now() >= next_round) {
          next_round = std::chrono::steady_clock::now() + interval;
          (void)maintenance.RunRound();
        } else {
          (void)maintenance.RunIndexing();
        }
        lock.lock();
      }
    });
  }
  s.usage_flusher = std::thread([&s, interval = o.usage_flush_interval] {
    NameThisThread("govesb-usage");
    std::unique_ptr<registry::RegistryStore> store;  // this thread's own
    EveryUntilStopped(s, interval, [&] { FlushSignatureUsage(s, store); });
  });
  s.traffic_flusher = std::thread([&s, interval = o.traffic_flush_interval] {
    NameThisThread("govesb-traffic");
    auto db = s.open_database();  // its own connection, kept open
    EveryUntilStopped(s, interval, [&] {
      // A failed flush keeps the counts in memory for the next one.
      Status flushed = db.ok() ? s.traffic->Flush(**db) : db.status();
      if (!flushed.ok()) spdlog::warn("traffic: counters not flushed: {}", flushed.message());
    });
  });
  if (!o.cluster.postgres.empty()) {
    cluster::NodeInfo self;
    self.node_id = o.cluster.node_id;
    self.address = BaseUrl(*s.server);
    auto membership = cluster::Membership::Start(
        o.cluster.postgres, std::move(self), o.cluster.heartbeat,
        [&s]() {
          cluster::NodeStats stats;
          if (s.lane_work) stats.lanes_held = s.lane_work->stats().lanes_held;
          if (s.dispatcher) {
            const delivery::DeliveryMetrics m = s.dispatcher->Metrics();
            stats.deliveries_pending = m.pending;
            stats.delivered = m.delivered;
          }
          return stats;
        },
        // Each node enforces its share of the cluster's rate limits.
        [guards = s.guards.get()](int64_t live) { guards->SetClusterShare(live); });
    if (!membership.ok()) {
      s.started = true;
      Shutdown();
      return membership.status();
    }
    s.membership = std::move(membership).value();
  }
  s.started = true;  // from here on, Shutdown undoes what Start did
  StartKeyWatcher(s);
  if (o.metrics_listen != "off") {
    Status metrics = StartMetricsListener(s, o.metrics_listen);
    if (!metrics.ok()) {
      Shutdown();
      return Status(metrics.code(),
                    "the metrics listener on " + o.metrics_listen + ": " + metrics.message());
    }
  }
  if (o.admin_listen != "off") {
    Status admin = StartAdminListener(s, o.admin_listen, sopts_tls);
    if (!admin.ok()) {
      s.admin_server.reset();
      s.admin_io.reset();
      if (!o.admin_listen_optional) {
        Shutdown();
        return Status(admin.code(),
                      "the admin listener on " + o.admin_listen + ": " + admin.message());
      }
      spdlog::warn("admin listener not started on {}: {} (set --admin-listen HOST:PORT, or off)",
                   o.admin_listen, admin.message());
    }
  }
  if (s.evidence) {
    s.admin_evidence = std::thread([&s] {
      NameThisThread("govesb-admin-ev");
      auto db = s.open_database();
      if (!db.ok()) {
        spdlog::error("evidence: admin actions: {}", db.status().message());
        return;
      }
      int64_t round = 0;
      auto once = [&] {
        MoveAdminActions(s, **db);  // at last, the last ones, before the log is sealed
        if (s.admin_api && round++ % 300 == 0) s.admin_api->Housekeeping();  // every 5 minutes
      };
      once();
      EveryUntilStopped(s, std::chrono::seconds(1), once);
    });
  }
  return Status::Ok();
}

void BusServer::Shutdown() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  // Not ready from now on; a balancer that polls /readyz has shutdown_delay to notice while
  // the bus goes on serving.
  s.shutting_down.store(true);
  if (s.options.shutdown_delay.count() > 0) {
    spdlog::info("shutting down: /readyz answers 503; serving for {} ms more",
                 s.options.shutdown_delay.count());
    std::this_thread::sleep_for(s.options.shutdown_delay);
  }
  if (s.admin_server) s.admin_server->Shutdown();
  if (s.admin_io) s.admin_io->Stop();
  if (s.admin_workers) s.admin_workers->join();
  s.server->Shutdown();  // in-flight exchanges finish; their durable writes complete
  if (s.metrics_server) s.metrics_server->Shutdown();  // scraped until the exchanges are done
  if (s.metrics_io) s.metrics_io->Stop();
  if (s.lane_work) s.lane_work->StopTaking();  // cluster: no more lanes taken
  s.dispatcher->Stop();  // deliveries in flight get a short grace; the rest stay pending
  // Cluster: the lanes this node held go back (their outcomes durable first) to the others.
  if (s.lane_work) s.lane_work->HandBack();
  s.io->Stop();
  s.upstream->Clear();
  s.credential_checks.reset();  // checks still waiting are answered "shutting down"
  {
    std::lock_guard lock(s.checkpoint_mutex);
    s.checkpoint_stop = true;
  }
  s.checkpoint_wake.notify_all();
  if (s.checkpointer.joinable()) s.checkpointer.join();
  if (s.key_watcher.joinable()) s.key_watcher.join();
  if (s.usage_flusher.joinable()) s.usage_flusher.join();
  if (s.traffic_flusher.joinable()) s.traffic_flusher.join();  // after its last flush
  if (s.admin_evidence.joinable()) s.admin_evidence.join();    // after its last move
  if (s.evidence) {
    // Seal what was written since the last checkpoint (after every write submitted before),
    // and index it.
    Status final_seal = s.evidence->SealAll(s.clock->NowMillis());
    if (!final_seal.ok()) {
      spdlog::error("evidence: final checkpoint failed: {}", final_seal.message());
    } else if (Status indexed = s.evidence->IndexSealed(); !indexed.ok()) {
      spdlog::error("evidence: indexing failed: {}", indexed.message());
    }
  }
  s.writer->Stop();  // after everything that writes
  s.watcher->Stop();
  s.membership.reset();  // the node says it stopped
  s.lane_work.reset();   // its last wake-ups published
  s.nats.reset();
}

std::string BusServer::database_path() const { return impl_->database_description; }

delivery::DeliveryMetrics BusServer::delivery_metrics() const {
  return impl_->dispatcher ? impl_->dispatcher->Metrics() : delivery::DeliveryMetrics{};
}

store::GroupCommitWriter::Stats BusServer::durability_stats() const {
  return impl_->writer ? impl_->writer->stats() : store::GroupCommitWriter::Stats{};
}

http::HttpServerStats BusServer::http_stats() const {
  return impl_->server ? impl_->server->stats() : http::HttpServerStats{};
}

traffic::TrafficCounters* BusServer::traffic() const { return impl_->traffic.get(); }

uint16_t BusServer::port() const { return impl_->server ? impl_->server->port() : 0; }

std::string BusServer::base_url() const { return BaseUrl(*impl_->server); }

std::string BusServer::admin_base_url() const {
  return impl_->admin_server ? BaseUrl(*impl_->admin_server) : std::string();
}

std::string BusServer::metrics_base_url() const {
  return impl_->metrics_server ? BaseUrl(*impl_->metrics_server) : std::string();
}

std::string BusServer::metrics_text() const { return RenderMetrics(*impl_); }

std::string BusServer::ca_file() const { return impl_->ca_file; }

std::vector<std::string> BusServer::public_urls() const {
  std::vector<std::string> urls;
  const http::HttpServer& server = *impl_->server;
  std::vector<std::string> names = impl_->public_names;
  const std::string host = server.host();
  if (names.empty() && host != "0.0.0.0" && host != "::" && !IsLoopbackName(host)) {
    names.push_back(host);
  }
  for (std::string name : names) {
    if (name.find(':') != std::string::npos) name = "[" + name + "]";
    urls.push_back(std::string(server.tls() ? "https" : "http") + "://" + name + ":" +
                   std::to_string(server.port()));
  }
  return urls;
}

std::string BusServer::bus_public_key() const {
  return impl_->signer ? impl_->signer->public_key().SpkiBase64() : std::string();
}

bool BusServer::tls() const { return impl_->server != nullptr && impl_->server->tls(); }

Status BusServer::ReloadTls() {
  Impl& s = *impl_;
  if (!s.started || s.server == nullptr || !s.server->tls()) {
    return FailedPrecondition("the bus serves no TLS (--plain-http): nothing to reload");
  }
  std::lock_guard lock(s.tls_mutex);
  auto tls = http::MakeServerTlsContext(s.certificate_file, s.certificate_key_file);
  if (!tls.ok()) {
    spdlog::error(
        "TLS: the certificate was not reloaded ({}); the one loaded before goes on serving",
        tls.status().message());
    return tls.status();
  }
  s.server->SetTls(*tls);
  if (s.admin_server && s.admin_server->tls()) s.admin_server->SetTls(*tls);
  spdlog::info("TLS: reloaded {} and its key; new connections get it, open ones keep theirs",
               s.certificate_file);
  return Status::Ok();
}

void BusServer::ReloadKeys() {
  if (impl_->started) CheckKeyRing(*impl_, true);
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace govesb::server
