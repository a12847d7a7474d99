#include "connect.h"

#include <gtest/gtest.h>

#include <boost/beast/core/error.hpp>

namespace govesb::sdk::internal {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

// An address that does not answer: a listener whose queue of connections not yet accepted is
// full (a backlog of 0 holds one, taken by `filler`), so the kernel drops every further SYN, as
// a firewall that drops would.
struct SilentAddress {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  tcp::socket filler{io};
  SilentAddress() {
    acceptor.open(tcp::v4());
    acceptor.bind({kLoopback, 0});
    acceptor.listen(0);
    filler.connect(acceptor.local_endpoint());
  }
  tcp::endpoint at() const { return acceptor.local_endpoint(); }
};

// An address that answers (the kernel accepts; nobody needs to).
struct ListeningAddress {
  asio::io_context io;
  tcp::acceptor acceptor{io, {kLoopback, 0}};
  tcp::endpoint at() const { return acceptor.local_endpoint(); }
};

// A port that was just free: refuses.
tcp::endpoint RefusingAddress() {
  asio::io_context io;
  tcp::acceptor a(io, {kLoopback, 0});
  return a.local_endpoint();
}

struct Outcome {
  boost::system::error_code ec;
  tcp::endpoint connected_to;
  Clock::duration took{};
};

Outcome Connect(const std::vector<tcp::endpoint>& addresses,
                milliseconds timeout = milliseconds(5000)) {
  asio::io_context ioc(1);
  tcp::socket socket(ioc);
  Outcome o;
  const auto started = Clock::now();
  o.ec = ConnectToAny(ioc, addresses, started + timeout, socket);
  o.took = Clock::now() - started;
  if (!o.ec) o.connected_to = socket.remote_endpoint();
  return o;
}

TEST(SdkConnectTest, TheFirstAddressIsUsedWhenItAnswers) {
  ListeningAddress first;
  SilentAddress second;
  auto o = Connect({first.at(), second.at()});
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.connected_to, first.at());
  EXPECT_LT(o.took, milliseconds(200));
}

TEST(SdkConnectTest, AnAddressThatDoesNotAnswerIsPassedAfterAQuarterOfASecond) {
  SilentAddress first;
  ListeningAddress second;
  auto o = Connect({first.at(), second.at()});
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.connected_to, second.at());
  EXPECT_GE(o.took, milliseconds(240));
  EXPECT_LT(o.took, milliseconds(1500));
}

TEST(SdkConnectTest, AnAddressThatRefusesIsPassedAtOnce) {
  ListeningAddress second;
  SilentAddress third;  // never reached
  auto o = Connect({RefusingAddress(), second.at(), third.at()});
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.connected_to, second.at());
  EXPECT_LT(o.took, milliseconds(200));
}

TEST(SdkConnectTest, NoAddressAnsweringInTimeIsATimeout) {
  SilentAddress first;
  SilentAddress second;
  auto o = Connect({first.at(), second.at()}, milliseconds(600));
  EXPECT_EQ(o.ec, boost::beast::error::timeout) << o.ec.message();
  EXPECT_GE(o.took, milliseconds(590));
  EXPECT_LT(o.took, milliseconds(2000));
}

TEST(SdkConnectTest, EveryAddressRefusingGivesTheLastError) {
  auto o = Connect({RefusingAddress(), RefusingAddress()});
  EXPECT_EQ(o.ec, asio::error::connection_refused) << o.ec.message();
  EXPECT_LT(o.took, milliseconds(200));
}

TEST(SdkConnectTest, ThreeSilentAddressesThenOneThatAnswers) {
  SilentAddress a, b, c;
  ListeningAddress d;
  auto o = Connect({a.at(), b.at(), c.at(), d.at()});
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.connected_to, d.at());
  EXPECT_GE(o.took, milliseconds(740));
  EXPECT_LT(o.took, milliseconds(2000));
}

}  // namespace
}  // namespace govesb::sdk::internal
