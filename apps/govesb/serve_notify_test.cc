// The real `govesb serve` under a service manager's readiness protocol: NOTIFY_SOCKET names a
// datagram socket this test holds, as systemd does for a unit of Type=notify.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/temp_dir.h"
#include "notify_socket.h"  // test/support

extern char** environ;

namespace govesb::apps {
namespace {

using govesb::testing::NotifySocket;
constexpr std::chrono::seconds kStartLimit{60};

// `govesb serve --config FILE --data-dir DIR` with NOTIFY_SOCKET set, its output discarded;
// killed if still running at the end.
class ServeProcess {
 public:
  ServeProcess(const std::string& notify_socket, const std::string& config_file,
               const std::string& data_dir) {
    std::vector<std::string> env_strings = {"NOTIFY_SOCKET=" + notify_socket};
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("NOTIFY_SOCKET=", 0) != 0) env_strings.push_back(*e);
    }
    std::vector<std::string> args = {GOVESB_BIN,  "serve",      "--config",
                                     config_file, "--data-dir", data_dir};
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    spawned_ = posix_spawn(&pid_, GOVESB_BIN, &actions, nullptr, argv.data(), envp.data()) == 0;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool spawned() const { return spawned_; }
  pid_t pid() const { return pid_; }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool spawned_ = false;
  bool exited_ = false;
};

// Connects to 127.0.0.1:port; true when the connection is accepted.
bool Connects(uint16_t port, std::string* answer = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  if (connected && answer != nullptr) {
    std::string request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)!::write(fd, request.data(), request.size());
    char buffer[256];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) answer->assign(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return connected;
}

// A STATUS line's URL's port: "STATUS=Listening on http://127.0.0.1:PORT".
uint16_t PortOf(const std::string& state) {
  size_t status = state.find("STATUS=Listening on http://127.0.0.1:");
  if (status == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(
      state.substr(status + std::string("STATUS=Listening on http://127.0.0.1:").size())));
}

// The blocked-signal mask of a thread, from /proc (SigBlk, hex); 0 when unreadable.
uint64_t BlockedSignals(const std::string& status_file) {
  std::ifstream in(status_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

constexpr uint64_t kTermAndInt = (uint64_t{1} << (SIGTERM - 1)) | (uint64_t{1} << (SIGINT - 1));
constexpr uint64_t kHangUp = uint64_t{1} << (SIGHUP - 1);

void WriteConfig(const std::string& path) {
  // The settings come from a file, as under the packaged unit (a bus that ignored it would
  // listen with TLS on 127.0.0.1:8443, and its STATUS line would say so).
  std::ofstream(path) << "listen = 127.0.0.1:0\n"
                         "plain-http = true\n"
                         "admin-listen = off\n"
                         "threads = 1\n"
                         "credential-check-threads = 1\n";
}

TEST(ServeNotify, ReadyOnlyOnceThePortAcceptsReloadingOnSighupThenStoppingAtShutdown) {
  TempDir dir;
  NotifySocket manager(dir.path() + "/notify");
  ASSERT_TRUE(manager.bound());
  WriteConfig(dir.path() + "/govesb.conf");
  ServeProcess serve(dir.path() + "/notify", dir.path() + "/govesb.conf", dir.path() + "/data");
  ASSERT_TRUE(serve.spawned());

  std::optional<std::string> ready = manager.Receive(kStartLimit);
  ASSERT_TRUE(ready.has_value()) << "no READY=1 within " << kStartLimit.count() << " s";
  // Freeze the bus the moment it says it is ready: a connection can then only be accepted by a
  // listening socket that existed before READY=1 was sent.
  ASSERT_EQ(::kill(serve.pid(), SIGSTOP), 0);
  EXPECT_EQ(ready->rfind("READY=1\n", 0), 0u) << *ready;
  // Every thread but the main one (which waits for them in sigwait) blocks SIGTERM, SIGINT and
  // SIGHUP: a thread that did not would take the signal and die of it, without the orderly
  // stop (or, for SIGHUP, instead of the reload).
  const std::string tasks = "/proc/" + std::to_string(serve.pid()) + "/task";
  int threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    if (task.path().filename() == std::to_string(serve.pid())) continue;
    ++threads;
    EXPECT_EQ(BlockedSignals(task.path().string() + "/status") & (kTermAndInt | kHangUp),
              kTermAndInt | kHangUp)
        << "thread " << task.path().filename() << " would take SIGTERM or SIGHUP";
  }
  EXPECT_GT(threads, 1);
  uint16_t port = PortOf(*ready);
  ASSERT_NE(port, 0) << "no STATUS line with the URL: " << *ready;
  EXPECT_TRUE(Connects(port)) << "READY=1 came before port " << port << " accepted connections";
  ASSERT_EQ(::kill(serve.pid(), SIGCONT), 0);
  std::string answer;
  EXPECT_TRUE(Connects(port, &answer));
  EXPECT_EQ(answer.rfind("HTTP/1.1 ", 0), 0u) << answer;  // the bus answers

  // systemctl reload (ExecReload=kill -HUP): RELOADING=1, then READY=1, and the bus goes on.
  ASSERT_EQ(::kill(serve.pid(), SIGHUP), 0);
  std::optional<std::string> reloading = manager.Receive(std::chrono::seconds(30));
  ASSERT_TRUE(reloading.has_value()) << "no RELOADING=1 after SIGHUP";
  EXPECT_EQ(reloading->rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << *reloading;
  std::optional<std::string> reloaded = manager.Receive(std::chrono::seconds(30));
  ASSERT_TRUE(reloaded.has_value()) << "no READY=1 after the reload";
  EXPECT_EQ(reloaded->rfind("READY=1", 0), 0u) << *reloaded;
  answer.clear();
  EXPECT_TRUE(Connects(port, &answer));
  EXPECT_EQ(answer.rfind("HTTP/1.1 ", 0), 0u) << "the bus after SIGHUP: " << answer;

  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  std::optional<std::string> stopping = manager.Receive(std::chrono::seconds(30));
  ASSERT_TRUE(stopping.has_value()) << "no STOPPING=1 after SIGTERM";
  EXPECT_EQ(stopping->rfind("STOPPING=1", 0), 0u) << *stopping;
  EXPECT_EQ(serve.Wait(), 0);
}

TEST(ServeNotify, ASigtermWhileStartingStillStopsInOrder) {
  // systemctl stop while the bus is still starting: once it has blocked the signal (it does so
  // first thing), the bus finishes starting, reports READY=1, then STOPPING=1, and exits 0.
  TempDir dir;
  NotifySocket manager(dir.path() + "/notify");
  ASSERT_TRUE(manager.bound());
  WriteConfig(dir.path() + "/govesb.conf");
  ServeProcess serve(dir.path() + "/notify", dir.path() + "/govesb.conf", dir.path() + "/data");
  ASSERT_TRUE(serve.spawned());
  const std::string status = "/proc/" + std::to_string(serve.pid()) + "/status";
  const auto deadline = std::chrono::steady_clock::now() + kStartLimit;
  while ((BlockedSignals(status) & kTermAndInt) != kTermAndInt) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "SIGTERM never blocked";
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  std::optional<std::string> ready = manager.Receive(kStartLimit);
  ASSERT_TRUE(ready.has_value()) << "no READY=1 after an early SIGTERM";
  std::optional<std::string> stopping =
      ready->find("STOPPING=1") != std::string::npos ? ready : manager.Receive(kStartLimit);
  ASSERT_TRUE(stopping.has_value()) << "no STOPPING=1 after an early SIGTERM";
  EXPECT_NE(stopping->find("STOPPING=1"), std::string::npos) << *stopping;
  EXPECT_EQ(serve.Wait(), 0);
}

}  // namespace
}  // namespace govesb::apps
