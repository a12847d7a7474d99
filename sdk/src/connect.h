#pragma once

// A TCP connection to the first of a host's addresses that answers (RFC 8305 5, "Happy
// Eyeballs"), for the SDK's synchronous transport. Private to the SDK.
//
// A bus reached by a name with several addresses (nodes behind round-robin DNS, IPv6 and IPv4)
// may have one that does not answer at all: a node down behind a firewall that drops, a broken
// IPv6 route. Tried one after the other under one deadline, that address took the whole call's
// timeout. Here the next address is tried when the one before failed, or 250 ms after it
// started while it goes on trying; the first connection made wins.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <vector>

namespace govesb::sdk::internal {

// Connects to one of `addresses` by `deadline`, running `ioc` (which must have no other work)
// until done, and moves the connection into `socket`. beast::error::timeout when none
// connected in time; the last attempt's error when every one failed.
boost::system::error_code ConnectToAny(
    boost::asio::io_context& ioc, const std::vector<boost::asio::ip::tcp::endpoint>& addresses,
    std::chrono::steady_clock::time_point deadline, boost::asio::ip::tcp::socket& socket,
    std::chrono::milliseconds stagger = std::chrono::milliseconds(250));

}  // namespace govesb::sdk::internal
