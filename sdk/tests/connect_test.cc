#include "connect.h"

#include <gtest/gtest.h>

#include <boost/beast/core/error.hpp>

#include "http/test_addresses.h"

namespace govesb::sdk::internal {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Where a test says "at once": far from a stagger this long, whatever the machine's hiccups.
constexpr milliseconds kLongStagger(3000);

using http::testing::ListeningAddress;
using http::testing::RefusingAddress;
using http::testing::SilentAddress;

struct Outcome {
  boost::system::error_code ec;
  tcp::endpoint connected_to;
  Clock::duration took{};
};

Outcome Connect(const std::vector<tcp::endpoint>& addresses,
                milliseconds timeout = milliseconds(5000),
                milliseconds stagger = milliseconds(250)) {
  asio::io_context ioc(1);
  tcp::socket socket(ioc);
  Outcome o;
  const auto started = Clock::now();
  o.ec = ConnectToAny(ioc, addresses, started + timeout, socket, stagger);
  o.took = Clock::now() - started;
  if (!o.ec) o.connected_to = socket.remote_endpoint();
  return o;
}

TEST(SdkConnectTest, TheFirstAddressIsUsedWhenItAnswers) {
  ListeningAddress first;
  SilentAddress second;
  auto o = Connect({first.at(), second.at()}, milliseconds(5000), kLongStagger);
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.connected_to, first.at());
  EXPECT_LT(o.took, milliseconds(1000));
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
  auto o = Connect({RefusingAddress(), second.at(), third.at()}, milliseconds(5000), kLongStagger);
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.connected_to, second.at());
  EXPECT_LT(o.took, milliseconds(1000));
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
  auto o = Connect({RefusingAddress(), RefusingAddress()}, milliseconds(5000), kLongStagger);
  EXPECT_EQ(o.ec, asio::error::connection_refused) << o.ec.message();
  EXPECT_LT(o.took, milliseconds(1000));
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
