#pragma once

// A private NATS JetStream cluster on this machine, for tests and for trying cluster mode: N
// nats-server processes (Debian's /usr/sbin/nats-server, package nats-server) on loopback, each
// with a free client port and a free route port, its store and its log in a directory of its own
// under one temporary directory, routed to each other under one cluster name. Start returns once
// the JetStream meta group has a leader and can place a stream on every node. Killed, stopped and
// removed on destruction; each child also gets SIGKILL if the thread that started it dies
// (PR_SET_PDEATHSIG), so a crashed test leaves no server behind.
//
// Threading: one thread at a time.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace govesb::nats {

struct LocalClusterOptions {
  int nodes = 3;  // 1..5; 1 is a single JetStream server without a cluster
  // Where the nodes live; "" for a new temporary directory (removed on destruction).
  std::string dir = std::string();
  // How long Start and StartAgain wait for JetStream to be ready.
  std::chrono::milliseconds ready_timeout{30'000};
  // The server binary.
  std::string binary = "/usr/sbin/nats-server";
};

class LocalCluster {
 public:
  static Result<std::unique_ptr<LocalCluster>> Start(LocalClusterOptions options = {});
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // The client URLs of every node ("nats://127.0.0.1:port"), running or not.
  std::vector<std::string> urls() const;
  std::string url(int node) const;
  int size() const { return static_cast<int>(nodes_.size()); }
  bool running(int node) const;
  // The node's server name ("n0", "n1" ...), as JetStream reports stream leaders.
  std::string name(int node) const;
  // The tail of a node's log (for error messages).
  std::string LogTail(int node) const;

  // SIGKILL (a crash: nothing flushed, no goodbye to the cluster).
  Status Kill(int node);
  // Starts a killed or stopped node again on the same ports with the same store, and waits until
  // it serves JetStream requests (its streams catch up in the background).
  Status StartAgain(int node);
  // Stops every node (SIGTERM, then SIGKILL after a few seconds).
  Status Stop();

 private:
  struct Node {
    std::string name;
    std::string dir;
    uint16_t client_port = 0;
    uint16_t route_port = 0;
    pid_t pid = -1;
  };
  LocalCluster() = default;
  Status Spawn(int node);
  Status WaitReady(const std::vector<std::string>& urls, int replicas);
  Status StopNode(int node, bool gracefully);

  std::string dir_;
  bool remove_dir_ = false;
  std::string binary_;
  std::chrono::milliseconds ready_timeout_{30'000};
  std::vector<Node> nodes_;
};

}  // namespace govesb::nats
