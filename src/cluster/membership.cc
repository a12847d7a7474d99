#include "cluster/membership.h"

#include <spdlog/spdlog.h>

#include <array>

#include "base/clock.h"
#include "base/encoding.h"
#include "base/log_safe_fmt.h"
#include "crypto/aead.h"
#include "crypto/primitives.h"
#include "store/data_dir.h"
#include "store/key_ring_file.h"

namespace govesb::cluster {

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE cluster_secrets (
  name       TEXT PRIMARY KEY,
  sealed     TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE cluster_nodes (
  node_id            TEXT PRIMARY KEY,
  address            TEXT NOT NULL,
  state              TEXT NOT NULL CHECK (state IN ('running', 'stopped')),
  started_at         BIGINT NOT NULL,
  last_seen          BIGINT NOT NULL,
  lanes_held         BIGINT NOT NULL DEFAULT 0,
  deliveries_pending BIGINT NOT NULL DEFAULT 0,
  delivered          BIGINT NOT NULL DEFAULT 0
);
)sql";

// The secrets, sealed one by one; each name is also the authenticated data of its seal, so a
// sealed value moved to another name does not open.
constexpr std::string_view kBusKey = "bus-key";
constexpr std::string_view kTokenSecret = "token-secret";
constexpr std::string_view kEvidenceKey = "evidence-key";
constexpr std::string_view kKeyRing = "esb-key-ring";

int64_t NowMs() { return SystemClock().NowMillis(); }

Result<std::string> OpenSecret(store::Database& db, std::string_view kek, std::string_view name) {
  GOVESB_ASSIGN_OR_RETURN(auto stmt,
                          db.Prepare("SELECT sealed FROM cluster_secrets WHERE name = ?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, name));
  GOVESB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return NotFound("the cluster has no shared secrets yet: run `govesb cluster init` first");
  }
  std::optional<std::string> sealed = Base64Decode(stmt.ColumnText(0));
  if (!sealed) return Internal("the cluster's stored " + std::string(name) + " is not base64");
  auto opened = crypto::OpenWithKey(kek, *sealed, name);
  if (!opened.ok()) {
    return Status(StatusCode::kBadSignature,
                  "the key-encryption key does not open the cluster's " + std::string(name) +
                      ": a different key file than `govesb cluster init` made, or the stored "
                      "secrets were changed");
  }
  return opened;
}

}  // namespace

Status MigrateClusterStore(store::Database& db) {
  if (db.backend() != store::Backend::kPostgres) {
    return FailedPrecondition("cluster tables live in PostgreSQL only");
  }
  static constexpr std::array<std::string_view, 1> kMigrations = {kV1};
  return store::Migrate(db, "cluster", kMigrations);
}

Status ValidateNodeId(std::string_view node_id) {
  if (node_id.empty() || node_id.size() > 64) {
    return InvalidArgument("a node id has 1 to 64 characters");
  }
  for (char c : node_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return InvalidArgument("a node id has only letters, digits, '-', '_' and '.'");
  }
  return Status::Ok();
}

Result<std::string> LoadKeyEncryptionKey(const std::string& path, bool create) {
  GOVESB_ASSIGN_OR_RETURN(std::string text,
                          store::LoadOrCreateSecretFile(path, create, []() -> Result<std::string> {
                            return Base64Encode(crypto::RandomBytes(crypto::kAesKeyBytes)) + "\n";
                          }));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  std::optional<std::string> key = Base64Decode(text);
  if (!key || key->size() != crypto::kAesKeyBytes) {
    return InvalidArgument("the key-encryption key file " + path +
                           " must hold 32 bytes as one base64 line");
  }
  return std::move(*key);
}

Result<ClusterSecrets> InitSecrets(store::Database& db, std::string_view kek, crypto::Curve curve) {
  if (kek.size() != crypto::kAesKeyBytes) return InvalidArgument("a 32-byte key-encryption key");
  GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::Generate(curve));
  const int64_t made = NowMs();
  ClusterSecrets secrets{.bus_key = key,
                         .token_secret = crypto::RandomBytes(32),
                         .evidence_key = crypto::RandomBytes(crypto::kAesKeyBytes),
                         .key_ring = crypto::KeyRing::Single(key, made, made)};
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  GOVESB_ASSIGN_OR_RETURN(auto count, db.Prepare("SELECT count(*) FROM cluster_secrets"));
  GOVESB_ASSIGN_OR_RETURN(bool row, count.Step());
  if (row && count.ColumnInt64(0) > 0) {
    return AlreadyExists(
        "the cluster has its shared secrets already (made by an earlier "
        "`govesb cluster init`); nothing was changed");
  }
  const std::array<std::pair<std::string_view, std::string>, 3> values = {{
      {kBusKey, secrets.bus_key.Pkcs8Base64()},
      {kTokenSecret, secrets.token_secret},
      {kEvidenceKey, secrets.evidence_key},
  }};
  const int64_t now = NowMs();
  for (const auto& [name, value] : values) {
    GOVESB_ASSIGN_OR_RETURN(std::string sealed, crypto::SealWithKey(kek, value, name));
    GOVESB_ASSIGN_OR_RETURN(
        auto insert,
        db.Prepare("INSERT INTO cluster_secrets(name, sealed, created_at) VALUES(?, ?, ?)"));
    GOVESB_RETURN_IF_ERROR(insert.Bind(1, name));
    GOVESB_RETURN_IF_ERROR(insert.Bind(2, Base64Encode(sealed)));
    GOVESB_RETURN_IF_ERROR(insert.Bind(3, now));
    GOVESB_RETURN_IF_ERROR(insert.Run());
  }
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return secrets;
}

namespace {

// The ring sealed as "esb-key-ring", or, before the first rotation, the key of "bus-key" alone,
// signing since `cluster init` stored it.
Result<crypto::KeyRing> ReadKeyRing(store::Database& db, std::string_view kek) {
  Result<std::string> ring_text = OpenSecret(db, kek, kKeyRing);
  if (ring_text.ok()) return store::ParseKeyRingText(*ring_text, "the cluster's key ring");
  if (ring_text.status().code() != StatusCode::kNotFound) return ring_text.status();
  GOVESB_ASSIGN_OR_RETURN(std::string key_text, OpenSecret(db, kek, kBusKey));
  GOVESB_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::FromText(key_text));
  GOVESB_ASSIGN_OR_RETURN(auto made,
                          db.Prepare("SELECT created_at FROM cluster_secrets WHERE name = ?"));
  GOVESB_RETURN_IF_ERROR(made.Bind(1, kBusKey));
  GOVESB_ASSIGN_OR_RETURN(bool row, made.Step());
  const int64_t since = row ? made.ColumnInt64(0) : 0;
  return crypto::KeyRing::Single(std::move(key), since, since);
}

}  // namespace

Result<ClusterSecrets> LoadSecrets(store::Database& db, std::string_view kek) {
  if (kek.size() != crypto::kAesKeyBytes) return InvalidArgument("a 32-byte key-encryption key");
  GOVESB_ASSIGN_OR_RETURN(crypto::KeyRing ring, ReadKeyRing(db, kek));
  GOVESB_ASSIGN_OR_RETURN(std::string token_secret, OpenSecret(db, kek, kTokenSecret));
  GOVESB_ASSIGN_OR_RETURN(std::string evidence_key, OpenSecret(db, kek, kEvidenceKey));
  crypto::PrivateKey key = ring.Signing(NowMs()).private_key();
  return ClusterSecrets{.bus_key = std::move(key),
                        .token_secret = std::move(token_secret),
                        .evidence_key = std::move(evidence_key),
                        .key_ring = std::move(ring)};
}

Result<crypto::KeyRing> LoadKeyRing(store::Database& db, std::string_view kek) {
  if (kek.size() != crypto::kAesKeyBytes) return InvalidArgument("a 32-byte key-encryption key");
  return ReadKeyRing(db, kek);
}

Result<crypto::KeyRing> UpdateKeyRing(
    store::Database& db, std::string_view kek,
    const std::function<Result<crypto::KeyRing>(const crypto::KeyRing&)>& change) {
  if (kek.size() != crypto::kAesKeyBytes) return InvalidArgument("a 32-byte key-encryption key");
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  {
    // The row every cluster has: held until the commit, so changes take turns.
    GOVESB_ASSIGN_OR_RETURN(
        auto lock, db.Prepare("SELECT name FROM cluster_secrets WHERE name = ? FOR UPDATE"));
    GOVESB_RETURN_IF_ERROR(lock.Bind(1, kBusKey));
    GOVESB_ASSIGN_OR_RETURN(bool row, lock.Step());
    if (!row) {
      return NotFound("the cluster has no shared secrets yet: run `govesb cluster init` first");
    }
  }
  GOVESB_ASSIGN_OR_RETURN(crypto::KeyRing before, ReadKeyRing(db, kek));
  GOVESB_ASSIGN_OR_RETURN(crypto::KeyRing after, change(before));
  GOVESB_ASSIGN_OR_RETURN(std::string sealed,
                          crypto::SealWithKey(kek, store::KeyRingText(after), kKeyRing));
  GOVESB_ASSIGN_OR_RETURN(
      auto upsert,
      db.Prepare("INSERT INTO cluster_secrets(name, sealed, created_at) VALUES(?, ?, ?)"
                 " ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed"));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(1, kKeyRing));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(2, Base64Encode(sealed)));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(3, NowMs()));
  GOVESB_RETURN_IF_ERROR(upsert.Run());
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return after;
}

Result<std::vector<NodeInfo>> ListNodes(store::Database& db) {
  GOVESB_ASSIGN_OR_RETURN(
      auto stmt, db.Prepare("SELECT node_id, address, state, started_at, last_seen, lanes_held,"
                            " deliveries_pending, delivered FROM cluster_nodes ORDER BY node_id"));
  std::vector<NodeInfo> nodes;
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    NodeInfo n;
    n.node_id = stmt.ColumnText(0);
    n.address = stmt.ColumnText(1);
    n.state = stmt.ColumnText(2);
    n.started_at_ms = stmt.ColumnInt64(3);
    n.last_seen_ms = stmt.ColumnInt64(4);
    n.stats.lanes_held = stmt.ColumnInt64(5);
    n.stats.deliveries_pending = stmt.ColumnInt64(6);
    n.stats.delivered = stmt.ColumnInt64(7);
    nodes.push_back(std::move(n));
  }
  return nodes;
}

Result<int64_t> CountLiveNodes(store::Database& db, int64_t now_ms, int64_t window_ms) {
  GOVESB_ASSIGN_OR_RETURN(
      auto stmt,
      db.Prepare("SELECT count(*) FROM cluster_nodes WHERE state = 'running' AND last_seen >= ?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, now_ms - window_ms));
  GOVESB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : 0;
}

// ---- Membership ----

Result<std::unique_ptr<Membership>> Membership::Start(const std::string& conninfo, NodeInfo self,
                                                      std::chrono::milliseconds interval,
                                                      std::function<NodeStats()> stats,
                                                      std::function<void(int64_t)> on_live_nodes) {
  GOVESB_RETURN_IF_ERROR(ValidateNodeId(self.node_id));
  std::unique_ptr<Membership> m(new Membership());
  GOVESB_ASSIGN_OR_RETURN(m->db_, store::Database::OpenPostgres(conninfo));
  m->self_ = std::move(self);
  m->self_.started_at_ms = NowMs();
  m->interval_ = interval;
  m->stats_ = std::move(stats);
  m->on_live_nodes_ = std::move(on_live_nodes);
  GOVESB_RETURN_IF_ERROR(m->Beat("running"));
  m->thread_ = std::thread([raw = m.get()] { raw->Run(); });
  return m;
}

Membership::~Membership() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (db_ != nullptr) (void)Beat("stopped");
}

Status Membership::Beat(std::string_view state) {
  const NodeStats stats = stats_ ? stats_() : NodeStats{};
  const int64_t now = NowMs();
  GOVESB_ASSIGN_OR_RETURN(
      auto upsert,
      db_->Prepare(
          "INSERT INTO cluster_nodes(node_id, address, state, started_at, last_seen,"
          " lanes_held, deliveries_pending, delivered) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
          " ON CONFLICT (node_id) DO UPDATE SET address = excluded.address,"
          " state = excluded.state, started_at = excluded.started_at,"
          " last_seen = excluded.last_seen, lanes_held = excluded.lanes_held,"
          " deliveries_pending = excluded.deliveries_pending,"
          " delivered = excluded.delivered"));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(1, self_.node_id));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(2, self_.address));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(3, state));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(4, self_.started_at_ms));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(5, now));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(6, stats.lanes_held));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(7, stats.deliveries_pending));
  GOVESB_RETURN_IF_ERROR(upsert.Bind(8, stats.delivered));
  GOVESB_RETURN_IF_ERROR(upsert.Run());
  // Three missed heartbeats make a node not live.
  auto live = CountLiveNodes(*db_, now, 3 * interval_.count());
  if (live.ok()) {
    live_.store(std::max<int64_t>(*live, 1));
    if (on_live_nodes_) on_live_nodes_(live_.load());
  }
  return Status::Ok();
}

void Membership::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Status beat = Beat("running");
    if (!beat.ok() && !failing_) {
      spdlog::warn("cluster: heartbeat of node {} failed (retrying): {}", Untrusted(self_.node_id),
                   beat.message());
    } else if (beat.ok() && failing_) {
      spdlog::info("cluster: heartbeat of node {} works again", Untrusted(self_.node_id));
    }
    failing_ = !beat.ok();
    lock.lock();
  }
}

}  // namespace govesb::cluster
