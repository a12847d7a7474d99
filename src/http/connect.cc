#include "http/connect.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace govesb::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The attempts of one ConnectToAny, shared with each attempt's coroutine (they may end after
// it returned: abandoned ones end when cancelled).
struct Race {
  explicit Race(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;  // cancelled whenever an attempt ends
  std::vector<std::unique_ptr<beast::tcp_stream>> attempts;
  std::optional<size_t> winner;
  size_t running = 0;
  boost::system::error_code last_error;
};

asio::awaitable<void> Attempt(std::shared_ptr<Race> race, size_t i, tcp::endpoint to) {
  beast::tcp_stream& stream = *race->attempts[i];
  auto [ec] = co_await stream.async_connect(to, kNoThrow);
  --race->running;
  if (!ec && !race->winner) {
    race->winner = i;
  } else if (!ec) {
    boost::system::error_code ignored;
    stream.socket().close(ignored);  // connected after another won
  } else if (ec != asio::error::operation_aborted) {
    race->last_error = ec;
  }
  race->wake.cancel();
}

}  // namespace

asio::awaitable<Result<Connected>> ConnectToAny(const Endpoints& addresses,
                                                Clock::time_point deadline, std::string_view name,
                                                std::chrono::milliseconds stagger) {
  auto ex = co_await asio::this_coro::executor;
  if (addresses.empty()) co_return Unavailable("no address to connect to " + std::string(name));
  auto race = std::make_shared<Race>(ex);
  size_t next = 0;
  Clock::time_point next_at = Clock::now();
  for (;;) {
    if (race->winner) break;
    const auto now = Clock::now();
    if (now >= deadline) break;
    if (next < addresses.size() && (race->running == 0 || now >= next_at)) {
      auto stream = std::make_unique<beast::tcp_stream>(ex);
      stream->expires_at(deadline);
      race->attempts.push_back(std::move(stream));
      ++race->running;
      asio::co_spawn(ex, Attempt(race, next, addresses[next]), asio::detached);
      ++next;
      next_at = now + stagger;
    }
    if (race->running == 0) break;  // every address failed
    race->wake.expires_at(next < addresses.size() ? std::min(next_at, deadline) : deadline);
    co_await race->wake.async_wait(kNoThrow);
  }
  for (size_t i = 0; i < race->attempts.size(); ++i) {
    if (race->winner != i) race->attempts[i]->cancel();  // their coroutines end with it
  }
  if (race->winner) {
    const size_t i = *race->winner;
    co_return Connected{race->attempts[i]->release_socket(), i};
  }
  if (Clock::now() >= deadline || race->last_error == beast::error::timeout ||
      race->last_error == asio::error::timed_out) {
    co_return DeadlineExceeded("connecting to " + std::string(name) + " timed out");
  }
  co_return Unavailable("cannot connect to " + std::string(name) + ": " +
                        race->last_error.message());
}

}  // namespace govesb::http
