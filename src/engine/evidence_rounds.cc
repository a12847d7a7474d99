#include "engine/evidence_rounds.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

namespace govesb::engine {

namespace asio = boost::asio;

asio::awaitable<Status> EvidenceRounds::Append(evidence::PreparedRecords records) {
  if (records.empty()) co_return Status::Ok();
  auto initiation = [this, records = std::move(records)](auto handler) mutable {
    asio::any_io_executor ex = asio::get_associated_executor(handler);
    asio::execution_context* context = &asio::query(ex, asio::execution::context);
    auto waiter = std::make_unique<WaiterFor<decltype(handler)>>(std::move(handler));
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      auto [it, inserted] = open_.try_emplace(context);
      first = inserted;
      it->second.records.Append(std::move(records));
      it->second.waiters.push_back(std::move(waiter));
    }
    // The flush goes to the end of the event loop's queue: the exchanges already ready to run
    // reach their appends first and join this round.
    if (first) asio::post(ex, [this, context, ex] { Flush(context, ex); });
  };
  auto op = asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      std::move(initiation), asio::use_awaitable);
  co_return co_await std::move(op);
}

void EvidenceRounds::Flush(asio::execution_context* context, const asio::any_io_executor& ex) {
  Round round;
  {
    std::lock_guard lock(mutex_);
    auto it = open_.find(context);
    if (it == open_.end()) return;
    round = std::move(it->second);
    open_.erase(it);
  }
  auto waiters = std::make_shared<std::vector<std::unique_ptr<Waiter>>>(std::move(round.waiters));
  // `done` may run on the sink's thread: one post back resumes the whole round on its loop.
  sink_.Append(std::move(round.records), [waiters, ex](Status s) {
    asio::post(ex, [waiters, s = std::move(s)] {
      for (std::unique_ptr<Waiter>& waiter : *waiters) waiter->Resume(s);
    });
  });
}

}  // namespace govesb::engine
