#pragma once

// Small helpers for starting servers on this machine (the private PostgreSQL and NATS servers
// of the cluster-mode tests and of a local cluster to try).

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/result.h"

namespace govesb {

// A TCP port on 127.0.0.1 that nothing listened on a moment ago: a server started right after
// will most likely get it. Picked at random below the kernel's ephemeral range (10000 up to
// it), which outgoing connections never take, so that a server can also start again on it
// later; from the kernel (a bind to port 0) when that range has no room or no free port.
Result<uint16_t> FreeLoopbackPort();

// The last `max_bytes` of a text file ("" when it cannot be read): a server's log for an error.
std::string FileTail(const std::string& path, size_t max_bytes = 2000);

}  // namespace govesb
