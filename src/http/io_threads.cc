#include "http/io_threads.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "base/thread_name.h"

namespace govesb::http {

IoThreads::IoThreads(size_t count) {
  if (count == 0) count = 1;
  for (size_t i = 0; i < count; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

IoThreads::~IoThreads() { Stop(); }

boost::asio::io_context& IoThreads::Next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

void IoThreads::Start() {
  for (auto& ctx : contexts_) {
    threads_.emplace_back([c = ctx.get()] {
      NameThisThread("govesb-io");
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          // Last resort: a handler threw. Log it and keep serving the other connections.
          spdlog::error("unexpected exception on an I/O thread: {}", e.what());
        }
      }
    });
  }
}

void IoThreads::ReleaseAndJoin() {
  guards_.clear();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void IoThreads::Stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace govesb::http
