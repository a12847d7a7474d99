#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace govesb::http {

// N single-threaded io_contexts, each run by its own thread ("one io thread per core").
// A connection lives on one context for its whole life, so the code that serves it needs no
// locks or strands. Owned by the server; Start/Stop are called from the main thread.
class IoThreads {
 public:
  explicit IoThreads(size_t count);
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  size_t size() const { return contexts_.size(); }
  boost::asio::io_context& context(size_t i) { return *contexts_[i]; }
  // Round-robin choice for new connections. Thread-safe.
  boost::asio::io_context& Next();

  void Start();
  // Lets the contexts run out of work (Release) or stops them at once (Stop), then joins.
  void ReleaseAndJoin();
  void Stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace govesb::http
