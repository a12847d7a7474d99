#pragma once

// The service manager's readiness protocol (systemd's sd_notify, spoken directly: no
// libsystemd). A unit of `Type=notify` starts the bus with NOTIFY_SOCKET naming a Unix
// datagram socket; the bus sends "READY=1" there once its listeners accept connections and
// "STOPPING=1" when it begins to shut down. The address is a file path, or an abstract socket
// written with a leading '@'.
//
// Plain functions; call them from one thread (the serve command's main thread).

#include <string>
#include <string_view>

#include "base/status.h"

namespace govesb::server {

// Sends `state` (newline-separated assignments, e.g. "READY=1\nSTATUS=Listening") as one
// datagram to the socket `address`. InvalidArgument for an address that is neither an absolute
// path nor '@'-abstract or is too long; Unavailable when the datagram cannot be sent.
Status SendServiceNotification(std::string_view address, std::string_view state);

// The same to $NOTIFY_SOCKET; ok without sending anything when it is unset or empty (the bus
// was not started by a service manager that waits for it).
Status NotifyServiceManager(std::string_view state);

}  // namespace govesb::server
