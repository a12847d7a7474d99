// `govesb cluster init|status`: the shared state of a cluster of `govesb serve --cluster` nodes
// (docs/cluster.md). `init` makes the cluster's secrets once (the bus key, the token secret and
// the evidence body key, sealed in PostgreSQL with a key-encryption key kept in a file that every
// node is given); `status` shows the nodes, their last heartbeat and their share of the queue.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "base/clock.h"
#include "cluster/membership.h"
#include "commands.h"
#include "crypto/keys.h"
#include "store/database.h"

namespace govesb::apps {
namespace {

struct ClusterOptions {
  std::string postgres;
  std::string kek_file;
  std::string curve = "secp256k1";
  bool json = false;
};

template <class T>
T Unwrap(Result<T> r, std::string_view what) {
  if (!r.ok()) {
    std::cerr << "error: " << what << ": " << r.status().message() << "\n";
    throw CLI::RuntimeError(kExitFailure);
  }
  return std::move(r).value();
}

void Check(const Status& s, std::string_view what) {
  if (!s.ok()) {
    std::cerr << "error: " << what << ": " << s.message() << "\n";
    throw CLI::RuntimeError(kExitFailure);
  }
}

std::unique_ptr<store::Database> OpenCluster(const ClusterOptions& o) {
  auto db = Unwrap(store::Database::OpenPostgres(o.postgres), "cannot reach PostgreSQL");
  Check(cluster::MigrateClusterStore(*db), "cannot prepare the cluster tables");
  return db;
}

void RunInit(const ClusterOptions& o) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-cluster"));
  const crypto::Curve curve = Unwrap(crypto::ParseCurveName(o.curve), "--key-curve");
  const std::string kek =
      Unwrap(cluster::LoadKeyEncryptionKey(o.kek_file, true), "the key-encryption key file");
  auto db = OpenCluster(o);
  auto made = cluster::InitSecrets(*db, kek, curve);
  if (made.status().code() == StatusCode::kAlreadyExists) {
    // Idempotent for scripts, but it must be the same key file.
    auto existing = Unwrap(cluster::LoadSecrets(*db, kek), "the cluster is initialised already");
    if (o.json) {
      boost::json::object out{{"created", false},
                              {"esb_public_key", existing.bus_key.public_key().SpkiBase64()},
                              {"bus_public_key", existing.bus_key.public_key().SpkiBase64()}};
      std::cout << boost::json::serialize(out) << "\n";
    } else {
      std::cout << "The cluster was initialised before; its bus public key:\n  "
                << existing.bus_key.public_key().SpkiBase64() << "\n";
    }
    return;
  }
  auto secrets = Unwrap(std::move(made), "cannot make the cluster's secrets");
  const std::string public_key = secrets.bus_key.public_key().SpkiBase64();
  if (o.json) {
    boost::json::object out{
        {"created", true}, {"esb_public_key", public_key}, {"bus_public_key", public_key}};
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    std::cout << "Cluster initialised. Give every node the key-encryption key file " << o.kek_file
              << "\n(keep it out of the database's backups), and every client the bus public key:"
              << "\n  " << public_key << "\n";
  }
}

std::string Age(int64_t now_ms, int64_t then_ms) {
  const int64_t s = std::max<int64_t>(0, (now_ms - then_ms) / 1000);
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  return std::to_string(s / 3600) + " h ago";
}

void RunStatus(const ClusterOptions& o) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-cluster"));
  auto db = OpenCluster(o);
  auto nodes = Unwrap(cluster::ListNodes(*db), "cannot read the nodes");
  const int64_t now = SystemClock().NowMillis();
  // A node is live when it heartbeat within the last 3 seconds (three missed beats).
  constexpr int64_t kLiveWindowMs = 3'000;
  int64_t live = 0;
  for (const auto& n : nodes) live += n.state == "running" && now - n.last_seen_ms <= kLiveWindowMs;
  if (o.json) {
    boost::json::array list;
    for (const auto& n : nodes) {
      list.push_back(boost::json::object{
          {"node_id", n.node_id},
          {"address", n.address},
          {"state", n.state},
          {"live", n.state == "running" && now - n.last_seen_ms <= kLiveWindowMs},
          {"started_at_ms", n.started_at_ms},
          {"last_seen_ms", n.last_seen_ms},
          {"lanes_held", n.stats.lanes_held},
          {"deliveries_pending", n.stats.deliveries_pending},
          {"delivered", n.stats.delivered}});
    }
    std::cout << boost::json::serialize(boost::json::object{{"live_nodes", live}, {"nodes", list}})
              << "\n";
    return;
  }
  std::printf("%-20s %-8s %-22s %-14s %6s %8s %10s\n", "NODE", "STATE", "ADDRESS", "LAST SEEN",
              "LANES", "PENDING", "DELIVERED");
  for (const auto& n : nodes) {
    const bool is_live = n.state == "running" && now - n.last_seen_ms <= kLiveWindowMs;
    const std::string state = n.state == "running" && !is_live ? "silent" : n.state;
    std::printf("%-20s %-8s %-22s %-14s %6lld %8lld %10lld\n", n.node_id.c_str(), state.c_str(),
                n.address.c_str(), Age(now, n.last_seen_ms).c_str(),
                static_cast<long long>(n.stats.lanes_held),
                static_cast<long long>(n.stats.deliveries_pending),
                static_cast<long long>(n.stats.delivered));
  }
  std::printf("%lld of %zu nodes live\n", static_cast<long long>(live), nodes.size());
}

}  // namespace

void AddClusterCommand(CLI::App& app) {
  auto options = std::make_shared<ClusterOptions>();
  CLI::App* cmd = app.add_subcommand(
      "cluster", "The shared state of a cluster of `govesb serve --cluster` nodes");
  cmd->require_subcommand(1);
  cmd->add_option("--postgres", options->postgres,
                  "The cluster's PostgreSQL (libpq conninfo or postgresql:// URL)")
      ->required();
  cmd->add_flag("--json", options->json, "Print JSON");
  CLI::App* init = cmd->add_subcommand(
      "init", "Make the cluster's shared bus key and secrets once, sealed with a key file");
  init->add_option("--kek-file", options->kek_file,
                   "The key-encryption key file (32 random bytes, base64; made when missing)")
      ->required();
  init->add_option("--key-curve", options->curve,
                   "Curve of the bus key: secp256k1, prime256v1 or secp521r1")
      ->capture_default_str();
  init->callback([options] { RunInit(*options); });
  init->fallthrough();  // --postgres and --json after the subcommand too
  CLI::App* status =
      cmd->add_subcommand("status", "The nodes, their last heartbeat and their queue shares");
  status->callback([options] { RunStatus(*options); });
  status->fallthrough();
  cmd->fallthrough();
}

}  // namespace govesb::apps
