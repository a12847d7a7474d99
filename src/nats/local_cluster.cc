#include "nats/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "base/local_services.h"
#include "nats/connection.h"

namespace govesb::nats {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Reaps `pid` if it has exited; true when it is gone.
bool Exited(pid_t pid) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  return r == pid || (r < 0 && errno == ECHILD);
}

}  // namespace

Result<std::unique_ptr<LocalCluster>> LocalCluster::Start(LocalClusterOptions options) {
  if (options.nodes < 1 || options.nodes > 5) return InvalidArgument("1 to 5 NATS nodes");
  if (options.ready_timeout.count() <= 0) return InvalidArgument("a positive ready timeout");
  if (::access(options.binary.c_str(), X_OK) != 0) {
    return FailedPrecondition("no nats-server at " + options.binary +
                              ": install the package nats-server (scripts/setup does)");
  }
  std::unique_ptr<LocalCluster> c(new LocalCluster());
  c->binary_ = options.binary;
  c->ready_timeout_ = options.ready_timeout;
  if (options.dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "govesb-nats-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return Internal("cannot make a temporary directory");
    c->dir_ = tmpl;
    c->remove_dir_ = true;
  } else {
    c->dir_ = options.dir;
    std::error_code ec;
    fs::create_directories(c->dir_, ec);
    if (ec) return Internal("cannot make " + c->dir_ + ": " + ec.message());
  }
  std::set<uint16_t> taken;
  auto fresh_port = [&]() -> Result<uint16_t> {
    for (int attempt = 0; attempt < 20; ++attempt) {
      GOVESB_ASSIGN_OR_RETURN(uint16_t port, FreeLoopbackPort());
      if (taken.insert(port).second) return port;
    }
    return Internal("no distinct free loopback ports");
  };
  for (int i = 0; i < options.nodes; ++i) {
    Node node;
    node.name = "n" + std::to_string(i);
    node.dir = c->dir_ + "/" + node.name;
    GOVESB_ASSIGN_OR_RETURN(node.client_port, fresh_port());
    GOVESB_ASSIGN_OR_RETURN(node.route_port, fresh_port());
    std::error_code ec;
    fs::create_directories(node.dir + "/store", ec);
    if (ec) return Internal("cannot make " + node.dir + ": " + ec.message());
    c->nodes_.push_back(std::move(node));
  }
  // One configuration file per node; the cluster's name is unique to this process.
  std::string cluster_name = "govesb-" + std::to_string(::getpid());
  for (int i = 0; i < options.nodes; ++i) {
    const Node& node = c->nodes_[i];
    std::ofstream conf(node.dir + "/server.conf");
    conf << "server_name: " << node.name << "\n"
         << "listen: 127.0.0.1:" << node.client_port << "\n"
         << "jetstream {\n  store_dir: \"" << node.dir << "/store\"\n"
         << "  max_memory_store: 64MB\n  max_file_store: 1GB\n}\n";
    if (options.nodes > 1) {
      conf << "cluster {\n  name: " << cluster_name << "\n  listen: 127.0.0.1:" << node.route_port
           << "\n  routes: [\n";
      for (int j = 0; j < options.nodes; ++j) {
        if (j != i) conf << "    nats-route://127.0.0.1:" << c->nodes_[j].route_port << "\n";
      }
      conf << "  ]\n}\n";
    }
    if (!conf) return Internal("cannot write " + node.dir + "/server.conf");
  }
  for (int i = 0; i < options.nodes; ++i) GOVESB_RETURN_IF_ERROR(c->Spawn(i));
  GOVESB_RETURN_IF_ERROR(c->WaitReady(c->urls(), options.nodes));
  return c;
}

Status LocalCluster::Spawn(int i) {
  Node& node = nodes_[i];
  if (node.pid > 0) return FailedPrecondition(node.name + " is running");
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  std::string log = node.dir + "/server.log";
  std::string conf = node.dir + "/server.conf";
  std::vector<std::string> argv = {binary_, "-c", conf};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Internal("fork failed starting nats-server");
  if (pid == 0) {
    // Dies with the thread that started it, even if the test process crashes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    // Not the test's client sockets: a copy held open would hide their closing from the server.
    ::close_range(3, ~0U, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  node.pid = pid;
  return Status::Ok();
}

Status LocalCluster::WaitReady(const std::vector<std::string>& urls, int replicas) {
  auto deadline = Clock::now() + ready_timeout_;
  ConnectionOptions options;
  options.name = "govesb-localcluster";
  options.connect_timeout = milliseconds{500};
  options.request_timeout = milliseconds{2'000};
  std::unique_ptr<Connection> conn;
  bool placed = false;
  Status last = Unavailable("not tried");
  // A probe stream placed on `replicas` nodes proves the meta group has a leader and sees the
  // nodes as peers; it is deleted again.
  StreamConfig probe;
  probe.name = "govesb_localcluster_probe";
  probe.subjects = {"govesb.localcluster.probe"};
  probe.replicas = std::min(replicas, 5);
  probe.retention = Retention::kLimits;
  while (Clock::now() < deadline) {
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i].pid > 0 && Exited(nodes_[i].pid)) {
        nodes_[i].pid = -1;
        return Unavailable("nats-server " + nodes_[i].name + " exited while starting:\n" +
                           LogTail(i));
      }
    }
    if (conn == nullptr) {
      auto opened = Connection::Open(urls, options);
      if (opened.ok()) {
        conn = std::move(opened).value();
      } else {
        last = opened.status();
      }
    }
    if (conn != nullptr) {
      if (!placed) {
        last = conn->EnsureStream(probe);
        placed = last.ok();
      }
      if (placed) {
        // The meta group may still be busy right after: deleting is retried too (a retry after
        // a delete that timed out but happened finds nothing).
        last = conn->DeleteStream(probe.name);
        if (last.ok() || last.code() == StatusCode::kNotFound) return Status::Ok();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string tails;
  for (int i = 0; i < size(); ++i) tails += "--- " + nodes_[i].name + ":\n" + LogTail(i) + "\n";
  return DeadlineExceeded("NATS JetStream not ready within " +
                          std::to_string(ready_timeout_.count()) + " ms (" + last.ToString() +
                          ")\n" + tails);
}

std::vector<std::string> LocalCluster::urls() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(url(i));
  return out;
}

std::string LocalCluster::url(int node) const {
  if (node < 0 || node >= size()) return {};
  return "nats://127.0.0.1:" + std::to_string(nodes_[node].client_port);
}

bool LocalCluster::running(int node) const {
  return node >= 0 && node < size() && nodes_[node].pid > 0;
}

std::string LocalCluster::name(int node) const {
  return node >= 0 && node < size() ? nodes_[node].name : std::string();
}

std::string LocalCluster::LogTail(int node) const {
  if (node < 0 || node >= size()) return {};
  return FileTail(nodes_[node].dir + "/server.log");
}

Status LocalCluster::StopNode(int i, bool gracefully) {
  Node& node = nodes_[i];
  if (node.pid <= 0) return Status::Ok();
  pid_t pid = node.pid;
  node.pid = -1;
  if (gracefully) {
    ::kill(pid, SIGTERM);
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (Exited(pid)) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return Status::Ok();
}

Status LocalCluster::Kill(int node) {
  if (node < 0 || node >= size()) return InvalidArgument("no such NATS node");
  if (nodes_[node].pid <= 0) return FailedPrecondition(nodes_[node].name + " is not running");
  return StopNode(node, /*gracefully=*/false);
}

Status LocalCluster::StartAgain(int node) {
  if (node < 0 || node >= size()) return InvalidArgument("no such NATS node");
  GOVESB_RETURN_IF_ERROR(Spawn(node));
  int running_nodes = 0;
  for (int i = 0; i < size(); ++i) running_nodes += running(i) ? 1 : 0;
  return WaitReady({url(node)}, running_nodes);
}

Status LocalCluster::Stop() {
  for (int i = 0; i < size(); ++i) GOVESB_RETURN_IF_ERROR(StopNode(i, /*gracefully=*/true));
  return Status::Ok();
}

LocalCluster::~LocalCluster() {
  // Everything goes: no need to let the servers shut down in order.
  for (int i = 0; i < size(); ++i) (void)StopNode(i, /*gracefully=*/!remove_dir_);
  if (remove_dir_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace govesb::nats
