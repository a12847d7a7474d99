#include "base/local_services.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <vector>

namespace govesb {
namespace {

// Listens on 127.0.0.1:port; the descriptor, or -1.
int Listen(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(FreeLoopbackPort, IsFreeAndBelowTheEphemeralRangeWhereOutgoingConnectionsNeverGo) {
  int low = 32768;
  int high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  for (int i = 0; i < 20; ++i) {
    Result<uint16_t> port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    if (low - 10000 >= 1000) {
      EXPECT_GE(*port, 10000);
      EXPECT_LT(*port, low);
    }
    const int fd = Listen(*port);
    EXPECT_GE(fd, 0) << "port " << *port << " was not free";
    if (fd >= 0) ::close(fd);
  }
}

TEST(FreeLoopbackPort, NeverAPortSomethingListensOn) {
  // Every port of the range but one taken would take too long; instead, ports that are taken
  // while it looks must never come back.
  std::vector<int> held;
  for (int i = 0; i < 50; ++i) {
    Result<uint16_t> port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok());
    const int fd = Listen(*port);
    ASSERT_GE(fd, 0) << "port " << *port << " was handed out while something listened on it";
    held.push_back(fd);
  }
  for (int fd : held) ::close(fd);
}

}  // namespace
}  // namespace govesb
