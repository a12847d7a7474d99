#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "base/status.h"

namespace govesb::http {

// Bridges a callback API to a coroutine: runs `start(complete)` and resumes the awaiting
// coroutine, on its own executor, with the Status passed to `complete` (which may be called
// once, from any thread: a writer thread, say). Under GCC 12, name the awaitable before
// awaiting it: `auto op = AwaitStatus(...); Status s = co_await std::move(op);`.
template <typename Start>
boost::asio::awaitable<Status> AwaitStatus(Start start) {
  namespace asio = boost::asio;
  auto initiation = [start = std::move(start)](auto handler) mutable {
    auto executor = asio::get_associated_executor(handler);
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    start([shared, executor](Status s) {
      asio::post(executor, [shared, s = std::move(s)]() mutable { (*shared)(std::move(s)); });
    });
  };
  auto op = asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      std::move(initiation), asio::use_awaitable);
  co_return co_await std::move(op);
}

}  // namespace govesb::http
