#pragma once

// The names of providers and subscribers, resolved to addresses for the upstream client.
//
// Asio's resolver runs the system's lookup (getaddrinfo) on one thread per event loop, and a
// lookup cannot be cut short: a name whose name servers do not answer held every new
// connection of that event loop (to any provider) for as long as the lookup took, seconds per
// try, past the exchanges' own timeouts. Here:
// - a caller waits for a lookup until its own deadline, and no longer (the lookup goes on);
// - lookups of different names run on threads of their own, a few at once, so that one name
//   does not hold up another;
// - callers asking for a name being looked up wait for that one lookup;
// - addresses are remembered for a while (getaddrinfo does not say for how long), and after
//   that still used at once while a new lookup runs, and kept while lookups fail (the name
//   service down does not cut off providers that were reachable);
// - a failed lookup is the answer for a short while, so that a flood of exchanges to a broken
//   name does not become a flood of lookups.
// Addresses (IPv4 and IPv6 literals) need no lookup.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace govesb::http {

using Endpoints = std::vector<boost::asio::ip::tcp::endpoint>;

struct ResolverOptions {
  // Addresses are used without asking again for this long after their lookup.
  std::chrono::milliseconds fresh_for{30'000};
  // After that, for this long more, they are still used at once, while a new lookup runs in
  // the background (and kept while lookups fail).
  std::chrono::milliseconds stale_for{600'000};
  // A failed lookup, for a name with no addresses to fall back on, is the answer this long; a
  // name's lookups start at most this often while they fail.
  std::chrono::milliseconds failure_for{2'000};
  // Lookups running at once (each on a thread of its own); more wait for one to end.
  size_t max_lookups_at_once = 4;
  // Names remembered at most; beyond, the ones no caller waits for are forgotten.
  size_t max_names = 4096;
  // The lookup itself, on a lookup thread: the host's addresses for `port` (numeric), or
  // kUnavailable with why not. Empty: the system's (getaddrinfo, as its configuration says:
  // /etc/hosts, DNS, ...). Tests give one that is slow or fails.
  std::function<Result<Endpoints>(const std::string& host, const std::string& port)> lookup;
};

// The system's lookup: getaddrinfo for a TCP connection to `host` on `port`, only families
// this machine has addresses of, in the order it gives (RFC 6724's) with the families taking
// turns (InterleaveFamilies).
Result<Endpoints> SystemLookup(const std::string& host, const std::string& port);

// `addresses` with IPv6 and IPv4 taking turns, from the family of the first, each family's in
// their order (RFC 8305 4): one family unreachable then costs one attempt, not all of its own.
Endpoints InterleaveFamilies(Endpoints addresses);

class HostResolver {
 public:
  explicit HostResolver(ResolverOptions options = {});
  // Closes. Does not wait for lookups in progress (one may hang for as long as the name
  // service takes): they end on their own and their results are dropped.
  ~HostResolver();
  HostResolver(const HostResolver&) = delete;
  HostResolver& operator=(const HostResolver&) = delete;

  // From now on, lookups that end wake no one (their callers' waits are woken by posts to
  // their event loops): call it once those loops stopped, before they are destroyed, unless
  // the resolver goes first. Later calls of Resolve that would need a lookup are kUnavailable.
  // Idempotent.
  void Close();

  // The addresses of `host` (an IPv6 literal without brackets) for `port`, from a coroutine
  // whose executor runs on one thread (an I/O thread's event loop). kUnavailable when the name
  // cannot be resolved (with the lookup's reason); kDeadlineExceeded when no lookup ended by
  // `deadline`; kInvalidArgument for a port that is not a number up to 65535.
  boost::asio::awaitable<Result<std::shared_ptr<const Endpoints>>> Resolve(
      const std::string& host, const std::string& port,
      std::chrono::steady_clock::time_point deadline);

  // `address` of `host` answered when an address before it in the list did not: later
  // connections try it first. Nothing when the name's addresses no longer hold it.
  void Prefer(const std::string& host, const std::string& port,
              const boost::asio::ip::tcp::endpoint& address);

  struct Stats {
    uint64_t lookups = 0;        // started
    uint64_t failed = 0;         // of them
    uint64_t stale_answers = 0;  // answered with addresses past fresh_for
    size_t names = 0;            // remembered now
  };
  Stats stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// govesb_upstream_name_* families for /metrics, one sample per client (its name in the
// "client" label: the exchanges' or the deliveries').
struct NamedResolverStats {
  std::string_view client;
  HostResolver::Stats stats;
};
void AppendResolverMetrics(std::string& out, std::span<const NamedResolverStats> clients);

}  // namespace govesb::http
