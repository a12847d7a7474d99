#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "base/result.h"

namespace govesb::bench {

// `govesb bench idle`: opens `connections` keep-alive connections to a plain-HTTP bus, makes
// one small request on each (GET /health) so that each is a served, kept-alive connection,
// then holds them all open and idle for `hold`. For measuring the bus's memory per idle
// connection. `on_held` runs once all are open (with the count), before the hold.
// With `tcp_only` nothing is sent: each connection is a bare TCP connection (to a TLS bus, one
// that never sends its ClientHello), the URL may be https, and the connections are closed with
// a reset (SO_LINGER 0) so that bursts of them leave no TIME_WAIT ports behind.
struct IdleOptions {
  std::string url;  // http://HOST:PORT (https://HOST:PORT with tcp_only)
  size_t connections = 10'000;
  bool tcp_only = false;
  std::chrono::seconds hold{10};
  // Spread the connections over this many source addresses, 127.0.1.1 onwards (for a loopback
  // IPv4 bus), as clients of many machines would come; 1: the system's choice.
  size_t source_addresses = 1;
  std::function<void(size_t held)> on_held;
};

// The number of connections held.
Result<size_t> HoldIdleConnections(const IdleOptions& options);

}  // namespace govesb::bench
