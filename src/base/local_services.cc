#include "base/local_services.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

namespace govesb {

namespace {

// Whether a server could listen on 127.0.0.1:`port` now (as servers do, with SO_REUSEADDR).
bool Bindable(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The first port the kernel hands out to outgoing connections (and to a bind to port 0).
int EphemeralFloor() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  int high = 0;
  if (in >> low >> high && low > 0 && low <= high) return low;
  return 32768;
}

}  // namespace

Result<uint16_t> FreeLoopbackPort() {
  // Below the kernel's ephemeral range when there is room: a port from within it can be taken
  // at any moment by some outgoing connection, and a server started again on its old port (a
  // node of a local cluster, killed and restarted by a test) then finds it in use.
  constexpr int kFirst = 10000;
  const int ephemeral = EphemeralFloor();
  if (ephemeral - kFirst >= 1000) {
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(kFirst, ephemeral - 1);
    for (int attempt = 0; attempt < 64; ++attempt) {
      const auto port = static_cast<uint16_t>(pick(rng));
      if (Bindable(port)) return port;
    }
  }
  // Otherwise (or when none of those was free): one the kernel picks.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal("socket() failed looking for a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Internal("could not find a free loopback port");
  }
  uint16_t port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

}  // namespace govesb
