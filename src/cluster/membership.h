#pragma once

// What the nodes of a cluster share in PostgreSQL besides the domain stores: the cluster's
// secrets (the bus signing key, the token secret and the evidence body key, sealed with a
// key-encryption key that every node is given and the database never holds), and the nodes
// themselves (heartbeats, for `govesb cluster status` and for dividing per-node limits).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "store/database.h"

namespace govesb::cluster {

// Creates or updates the cluster tables (component "cluster"). PostgreSQL only:
// kFailedPrecondition on SQLite.
Status MigrateClusterStore(store::Database& db);

// A node id: 1..64 of letters, digits, '-', '_' and '.'. kInvalidArgument otherwise.
Status ValidateNodeId(std::string_view node_id);

// ---- secrets ----

struct ClusterSecrets {
  crypto::PrivateKey bus_key;  // the key ring's signing key when the secrets were read
  std::string token_secret;    // raw bytes
  std::string evidence_key;    // raw bytes (AES-256)
  // The bus's signing keys (docs/key-rotation.md): sealed as "esb-key-ring" once the key was
  // first rotated; before that the one key `cluster init` made, signing since then.
  crypto::KeyRing key_ring;
};

// A key-encryption key file: 32 random bytes as one base64 line, mode 0600. Created when
// missing with `create`. Never logged.
Result<std::string> LoadKeyEncryptionKey(const std::string& path, bool create);

// Generates the cluster's secrets and stores them sealed with `kek` (AES-256-GCM). Once per
// cluster: kAlreadyExists (nothing changed) when they exist.
Result<ClusterSecrets> InitSecrets(store::Database& db, std::string_view kek, crypto::Curve curve);
// The stored secrets. kNotFound when the cluster has none yet ("run govesb cluster init");
// kBadSignature when `kek` does not open them (the wrong key file, or tampered rows).
Result<ClusterSecrets> LoadSecrets(store::Database& db, std::string_view kek);

// The cluster's key ring alone (see ClusterSecrets::key_ring), as LoadSecrets reads it.
Result<crypto::KeyRing> LoadKeyRing(store::Database& db, std::string_view kek);
// Reads the key ring, gives it to `change` and stores what it returns (sealed with `kek`), in
// one transaction that holds the secrets' row lock, so that two changes at once are one after
// the other. Nodes read it again within a second. Nothing is stored when `change` fails.
Result<crypto::KeyRing> UpdateKeyRing(
    store::Database& db, std::string_view kek,
    const std::function<Result<crypto::KeyRing>(const crypto::KeyRing&)>& change);

// ---- nodes ----

struct NodeStats {
  int64_t lanes_held = 0;
  int64_t deliveries_pending = 0;  // held by this node
  int64_t delivered = 0;           // since start
};

struct NodeInfo {
  std::string node_id = std::string();
  std::string address = std::string();  // where its exchange port listens, as it reports it
  std::string state = std::string();    // "running" | "stopped"
  int64_t started_at_ms = 0;
  int64_t last_seen_ms = 0;
  NodeStats stats = NodeStats();
};

// Every node that ever joined, by id.
Result<std::vector<NodeInfo>> ListNodes(store::Database& db);
// Nodes running and seen within `window_ms` of `now_ms`.
Result<int64_t> CountLiveNodes(store::Database& db, int64_t now_ms, int64_t window_ms);

// This node's heartbeat: a row in cluster_nodes written at start and every `interval` by a
// thread of its own (on its own connection), with `stats()` (called on that thread). A failed
// heartbeat (PostgreSQL away) is logged once and retried; it never stops the node. On
// destruction the row says "stopped".
class Membership {
 public:
  // `on_live_nodes` (may be empty) gets the number of live nodes after each heartbeat, on the
  // heartbeat's thread.
  static Result<std::unique_ptr<Membership>> Start(const std::string& conninfo, NodeInfo self,
                                                   std::chrono::milliseconds interval,
                                                   std::function<NodeStats()> stats,
                                                   std::function<void(int64_t)> on_live_nodes = {});
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Live nodes at the last heartbeat (at least 1: this one).
  int64_t live_nodes() const { return live_.load(); }

 private:
  Membership() = default;
  Status Beat(std::string_view state);
  void Run();

  std::unique_ptr<store::Database> db_;
  NodeInfo self_;
  std::chrono::milliseconds interval_{1000};
  std::function<NodeStats()> stats_;
  std::function<void(int64_t)> on_live_nodes_;
  std::atomic<int64_t> live_{1};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool failing_ = false;
  std::thread thread_;
};

}  // namespace govesb::cluster
