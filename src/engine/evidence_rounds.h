#pragma once

// The evidence appends one I/O thread makes in one turn of its event loop, as one append.
//
// Every exchange waits for its evidence to be durable before its answer leaves. Appended one
// by one, each exchange would cost a hand-over to the writer thread (a lock and a wake-up), and
// each completion a post back from the writer (a wake-up of the event loop); and the writer,
// woken by the first append, would commit it alone while the next ones were still being made.
// Here the first append of a turn posts a flush to the end of the event loop's queue, so that
// every exchange that reaches its append in the same turn (the work that was already ready)
// joins it: one append to the sink for all of them, and one post back that resumes them all.
// Nothing waits for a timer: when the event loop has nothing else to do, the flush runs at once.
// Under load, a turn holds many exchanges and the writer's commits hold many turns (those made
// while it syncs the previous one): batching that grows with the load, without a fixed delay.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution_context.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "evidence/record.h"
#include "evidence/store.h"

namespace govesb::engine {

class EvidenceRounds {
 public:
  explicit EvidenceRounds(evidence::EvidenceSink& sink) : sink_(sink) {}
  EvidenceRounds(const EvidenceRounds&) = delete;
  EvidenceRounds& operator=(const EvidenceRounds&) = delete;

  // Appends `records` (one exchange's, kept together) with the others of this turn of the
  // calling coroutine's event loop, and resumes it, on its executor, with the outcome of the
  // sink's append that held them: Ok once durable, or the error that kept them (and the rest
  // of their turn) from being written. Empty `records`: Ok at once.
  boost::asio::awaitable<Status> Append(evidence::PreparedRecords records);

 private:
  // A waiting exchange: its coroutine's completion handler (move-only), in one allocation.
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void Resume(Status s) = 0;
  };
  template <class Handler>
  struct WaiterFor final : Waiter {
    explicit WaiterFor(Handler&& h) : handler(std::move(h)) {}
    void Resume(Status s) override { std::move(handler)(std::move(s)); }
    Handler handler;
  };
  struct Round {
    evidence::PreparedRecords records;
    std::vector<std::unique_ptr<Waiter>> waiters;
  };
  // Runs on the executor whose round it flushes.
  void Flush(boost::asio::execution_context* context, const boost::asio::any_io_executor& ex);

  evidence::EvidenceSink& sink_;
  std::mutex mutex_;
  // The open round of each event loop (execution context); an entry exists from the first
  // append of a turn until its flush.
  std::unordered_map<boost::asio::execution_context*, Round> open_;
};

}  // namespace govesb::engine
