#include "http/connect.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <optional>

#include "http/io_threads.h"
#include "http/test_addresses.h"

namespace govesb::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Where a test says "at once": far from a stagger this long, whatever the machine's hiccups.
constexpr auto kLongStagger = 3s;

using testing::ListeningAddress;
using testing::RefusingAddress;
using testing::SilentAddress;

class ConnectTest : public ::testing::Test {
 protected:
  void SetUp() override { io_.Start(); }
  void TearDown() override { io_.Stop(); }

  struct Outcome {
    std::optional<size_t> index;  // of the address connected to
    Status status = Status::Ok();
    Clock::duration took{};
  };
  Outcome Connect(const Endpoints& addresses, std::chrono::milliseconds timeout = 5s,
                  std::chrono::milliseconds stagger = 250ms) {
    auto started = Clock::now();
    auto done = asio::co_spawn(
        io_.context(0),
        [&]() -> asio::awaitable<Outcome> {
          auto pending = ConnectToAny(addresses, Clock::now() + timeout, "provider.test", stagger);
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
  auto o = Connect({first.at(), second.at()}, 5s, kLongStagger);
  ASSERT_TRUE(o.index) << o.status.ToString();
  EXPECT_EQ(*o.index, 0U);
  EXPECT_LT(o.took, 1s);
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
  auto o = Connect({RefusingAddress(), second.at(), third.at()}, 5s, kLongStagger);
  ASSERT_TRUE(o.index) << o.status.ToString();
  EXPECT_EQ(*o.index, 1U);
  EXPECT_LT(o.took, 1s);
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
  auto o = Connect({RefusingAddress(), RefusingAddress()}, 5s, kLongStagger);
  ASSERT_FALSE(o.index);
  EXPECT_EQ(o.status.code(), StatusCode::kUnavailable) << o.status.ToString();
  EXPECT_NE(o.status.message().find("cannot connect to provider.test: "), std::string::npos);
  EXPECT_NE(o.status.message().find("refused"), std::string::npos) << o.status.message();
  EXPECT_LT(o.took, 1s);
}

TEST_F(ConnectTest, NoAddressIsUnavailable) {
  auto o = Connect({});
  ASSERT_FALSE(o.index);
  EXPECT_EQ(o.status.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace govesb::http
