#pragma once

// Addresses that answer, refuse or stay silent, on loopback, for tests of connecting (the
// bus's upstream client and the SDK's transport). Test-only; header-only (C++17).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace govesb::http::testing {

// An address that does not answer: a listener whose queue of connections not yet accepted is
// full (a backlog of 0 holds one, taken by `filler`), so the kernel drops every further SYN
// and a connection attempt goes unanswered, as with a server behind a firewall that drops.
struct SilentAddress {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{io};
  boost::asio::ip::tcp::socket filler{io};
  SilentAddress() {
    acceptor.open(boost::asio::ip::tcp::v4());
    acceptor.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen(0);
    filler.connect(acceptor.local_endpoint());
  }
  boost::asio::ip::tcp::endpoint at() const { return acceptor.local_endpoint(); }
};

// An address that answers: the kernel accepts connections (nobody needs to).
struct ListeningAddress {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  boost::asio::ip::tcp::endpoint at() const { return acceptor.local_endpoint(); }
};

// An address that refuses: a loopback port that was just free.
inline boost::asio::ip::tcp::endpoint RefusingAddress() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint();
}

}  // namespace govesb::http::testing
