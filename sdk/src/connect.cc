#include "connect.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <functional>
#include <memory>
#include <optional>

namespace govesb::sdk::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

error_code ConnectToAny(asio::io_context& ioc, const std::vector<tcp::endpoint>& addresses,
                        std::chrono::steady_clock::time_point deadline, tcp::socket& socket,
                        std::chrono::milliseconds stagger) {
  if (addresses.empty()) return asio::error::host_not_found;
  std::vector<std::unique_ptr<tcp::socket>> attempts;
  asio::steady_timer next_timer(ioc);
  asio::steady_timer deadline_timer(ioc);
  std::optional<size_t> winner;
  size_t running = 0;
  bool timed_out = false;
  error_code last_error;

  auto finish = [&] {  // no more handlers after those cancelled here
    next_timer.cancel();
    deadline_timer.cancel();
    for (size_t i = 0; i < attempts.size(); ++i) {
      error_code ignored;
      if (winner != i) attempts[i]->close(ignored);
    }
  };
  std::function<void()> start_next = [&] {
    const size_t i = attempts.size();
    attempts.push_back(std::make_unique<tcp::socket>(ioc));
    ++running;
    attempts[i]->async_connect(addresses[i], [&, i](const error_code& ec) {
      --running;
      if (winner || timed_out) return;  // abandoned
      if (!ec) {
        winner = i;
        finish();
        return;
      }
      last_error = ec;
      if (attempts.size() < addresses.size()) {
        start_next();  // at once: this one failed
      } else if (running == 0) {
        finish();  // every address failed
      }
    });
    next_timer.cancel();  // the wait to start this one, if it started sooner
    if (attempts.size() < addresses.size()) {
      next_timer.expires_after(stagger);
      next_timer.async_wait([&](const error_code& ec) {
        if (!ec && !winner && !timed_out && attempts.size() < addresses.size()) start_next();
      });
    }
  };
  deadline_timer.expires_at(deadline);
  deadline_timer.async_wait([&](const error_code& ec) {
    if (ec || winner) return;
    timed_out = true;
    finish();
  });
  start_next();
  ioc.restart();
  ioc.run();
  if (winner) {
    socket = std::move(*attempts[*winner]);
    return {};
  }
  if (timed_out) return boost::beast::error::timeout;
  return last_error;
}

}  // namespace govesb::sdk::internal
