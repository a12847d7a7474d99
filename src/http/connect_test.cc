#include "http/connect.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <optional>

#include "http/io_threads.h"

namespace govesb::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const auto kLoopback = asio::ip::make_address("127.0.0.1");

// An address that does not answer: a listener whose queue of connections not yet accepted is
// full (a backlog of 0 holds one, taken by `filler`), so the kernel drops every further SYN and
// a connection attempt goes unanswered, as with a server behind a firewall that drops.
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

// An address that answers: connections are accepted by the kernel (never by us: enough).
struct ListeningAddress {
  asio::io_context io;
  tcp::acceptor acceptor{io, {kLoopback, 0}};
  tcp::endpoint at() const { return acceptor.local_endpoint(); }
};

// An address that refuses: a port that was just free.
tcp::endpoint RefusingAddress() {
  asio::io_context io;
  tcp::acceptor a(io, {kLoopback, 0});
  return a.local_endpoint();
}

class ConnectTest : public ::testing::Test {
 protected:
  void SetUp() override { io_.Start(); }
  void TearDown() override { io_.Stop(); }

  struct Outcome {
    std::optional<size_t> index;  // of the address connected to
    Status status = Status::Ok();
    Clock::duration took{};
  };
  Outcome Connect(const Endpoints& addresses, std::chrono::milliseconds timeout = 5s) {
    auto started = Clock::now();
    auto done = asio::co_spawn(
        io_.context(0),
        [&]() -> asio::awaitable<Outcome> {
          auto pending = ConnectToAny(addresses, Clock::now() + timeout, "provider.test");
          auto r = co_await std::move(pending);
          Outcome o;
          if (r.ok()) {
            o.index = r->index;
            EXPECT_TRUE(r->socket.is_open());
          } else {
            o.status = r.status();
          }
          co_return o;
        },
        asio::use_future);
    Outcome o = done.get();
    o.took = Clock::now() - started;
    return o;
  }

  IoThreads io_{1};
};

TEST_F(ConnectTest, TheFirstAddressIsUsedWhenItAnswers) {
  ListeningAddress first;
  SilentAddress second;
  auto o = Connect({first.at(), second.at()});
  ASSERT_TRUE(o.index) << o.status.ToString();
  EXPECT_EQ(*o.index, 0U);
  EXPECT_LT(o.took, 200ms);
}

TEST_F(ConnectTest, AnAddressThatDoesNotAnswerIsPassedAfterAQuarterOfASecond) {
  SilentAddress first;
  ListeningAddress second;
  auto o = Connect({first.at(), second.at()});
  ASSERT_TRUE(o.index) << o.status.ToString();
  EXPECT_EQ(*o.index, 1U);
  EXPECT_GE(o.took, 240ms);
  EXPECT_LT(o.took, 1500ms);
}

TEST_F(ConnectTest, AnAddressThatRefusesIsPassedAtOnce) {
  SilentAddress third;  // never reached
  ListeningAddress second;
  auto o = Connect({RefusingAddress(), second.at(), third.at()});
  ASSERT_TRUE(o.index) << o.status.ToString();
  EXPECT_EQ(*o.index, 1U);
  EXPECT_LT(o.took, 200ms);
}

TEST_F(ConnectTest, NoAddressAnsweringInTimeIsATimeout) {
  SilentAddress first;
  SilentAddress second;
  auto o = Connect({first.at(), second.at()}, 600ms);
  ASSERT_FALSE(o.index);
  EXPECT_EQ(o.status.code(), StatusCode::kDeadlineExceeded) << o.status.ToString();
  EXPECT_EQ(o.status.message(), "connecting to provider.test timed out");
  EXPECT_GE(o.took, 590ms);
  EXPECT_LT(o.took, 2s);
}

TEST_F(ConnectTest, EveryAddressRefusingSaysSoAtOnce) {
  auto o = Connect({RefusingAddress(), RefusingAddress()});
  ASSERT_FALSE(o.index);
  EXPECT_EQ(o.status.code(), StatusCode::kUnavailable) << o.status.ToString();
  EXPECT_NE(o.status.message().find("cannot connect to provider.test: "), std::string::npos);
  EXPECT_NE(o.status.message().find("refused"), std::string::npos) << o.status.message();
  EXPECT_LT(o.took, 200ms);
}

TEST_F(ConnectTest, NoAddressIsUnavailable) {
  auto o = Connect({});
  ASSERT_FALSE(o.index);
  EXPECT_EQ(o.status.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace govesb::http
