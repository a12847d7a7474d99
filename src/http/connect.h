#pragma once

// A TCP connection to the first of a name's addresses that answers.
//
// A provider's name may have several addresses (servers behind round-robin DNS, IPv6 and IPv4),
// and one of them may not answer at all: a server that is down behind a firewall that drops
// rather than refuses, or a broken IPv6 route. Tried one after the other under one deadline,
// the first such address took the whole of it, and the exchange timed out with a working
// address never tried. Here (RFC 8305 5, "Happy Eyeballs"), the next address is tried when the
// one before it failed, or 250 ms after it started if it has not connected by then, while it
// goes on trying; the first connection made wins and the others are abandoned.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <string_view>

#include "base/result.h"
#include "http/resolver.h"

namespace govesb::http {

struct Connected {
  boost::asio::ip::tcp::socket socket;
  size_t index = 0;  // of the address in the list it was made to
};

// Connects, from a coroutine whose executor runs on one thread, to one of `addresses` (in
// their order, each `stagger` after the one before or at once when it failed), by `deadline`.
// kDeadlineExceeded when none connected in time; kUnavailable with the last attempt's error
// when every one failed (refused, unreachable). `name` is what messages call the peer.
boost::asio::awaitable<Result<Connected>> ConnectToAny(
    const Endpoints& addresses, std::chrono::steady_clock::time_point deadline,
    std::string_view name, std::chrono::milliseconds stagger = std::chrono::milliseconds(250));

}  // namespace govesb::http
