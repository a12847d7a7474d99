#include "server/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace govesb::server {

Status SendServiceNotification(std::string_view address, std::string_view state) {
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  const bool abstract = !address.empty() && address.front() == '@';
  if (!abstract && (address.empty() || address.front() != '/')) {
    return InvalidArgument("NOTIFY_SOCKET must be an absolute path or @abstract, not '" +
                           std::string(address) + "'");
  }
  if (address.size() > sizeof(to.sun_path) - (abstract ? 0 : 1)) {
    return InvalidArgument("NOTIFY_SOCKET is too long: " + std::string(address));
  }
  std::memcpy(to.sun_path, address.data(), address.size());
  if (abstract) to.sun_path[0] = '\0';  // Linux abstract namespace: the name is not a file
  auto length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("notify socket: ") + std::strerror(errno));
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                          reinterpret_cast<const sockaddr*>(&to), length);
  int error = errno;
  ::close(fd);
  if (sent < 0) {
    return Unavailable("cannot notify the service manager at " + std::string(address) + ": " +
                       std::strerror(error));
  }
  if (static_cast<size_t>(sent) != state.size()) {
    return Unavailable("the notification to " + std::string(address) + " was cut short");
  }
  return Status::Ok();
}

Status NotifyServiceManager(std::string_view state) {
  const char* address = std::getenv("NOTIFY_SOCKET");
  if (address == nullptr || *address == '\0') return Status::Ok();
  return SendServiceNotification(address, state);
}

}  // namespace govesb::server
