#include "engine/evidence_rounds.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace govesb::engine {
namespace {

namespace asio = boost::asio;

// A sink that keeps each append's request ids and holds its `done` for the test to call.
class HeldSink : public evidence::EvidenceSink {
 public:
  struct Held {
    std::vector<std::string> request_ids;
    std::function<void(Status)> done;
  };
  void Append(evidence::PreparedRecords records, std::function<void(Status)> done) override {
    Held held;
    for (const evidence::PreparedRecord& r : records.records()) {
      held.request_ids.emplace_back(r.request_id);
    }
    held.done = std::move(done);
    appends.push_back(std::move(held));
  }
  std::vector<Held> appends;
};

evidence::PreparedRecords OneRecord(const std::string& request_id) {
  evidence::Record r;
  r.at_ms = 1;
  r.request_id = request_id;
  r.kind = "request";
  r.from = "consumer";
  r.to = "bus";
  r.outcome = "ok";
  evidence::PreparedRecords records;
  records.Add(evidence::ViewOf(r));
  return records;
}

// Starts an exchange's append on `io`; its outcome lands in `outcome`.
void StartAppend(asio::io_context& io, EvidenceRounds& rounds, const std::string& request_id,
                 std::optional<Status>& outcome) {
  asio::co_spawn(
      io,
      [&rounds, request_id, &outcome]() -> asio::awaitable<void> {
        outcome = co_await rounds.Append(OneRecord(request_id));
      },
      asio::detached);
}

TEST(EvidenceRoundsTest, TheAppendsOfOneTurnGoToTheSinkAsOneAndResumeWhenItIsDurable) {
  asio::io_context io;
  HeldSink sink;
  EvidenceRounds rounds(sink);
  std::optional<Status> a, b, c;
  // Three exchanges ready in the same turn of the loop: one append, in their order.
  StartAppend(io, rounds, "a", a);
  StartAppend(io, rounds, "b", b);
  StartAppend(io, rounds, "c", c);
  io.poll();
  ASSERT_EQ(sink.appends.size(), 1u);
  EXPECT_EQ(sink.appends[0].request_ids, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(a || b || c);  // nobody resumed before durable

  // The next turn's exchanges, made while that append is in flight: an append of their own.
  std::optional<Status> d, e;
  StartAppend(io, rounds, "d", d);
  StartAppend(io, rounds, "e", e);
  io.restart();
  io.poll();
  ASSERT_EQ(sink.appends.size(), 2u);
  EXPECT_EQ(sink.appends[1].request_ids, (std::vector<std::string>{"d", "e"}));

  // A failed append fails each exchange of it, and only those.
  sink.appends[0].done(Unavailable("disk full"));
  io.restart();
  io.poll();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->code(), StatusCode::kUnavailable);
  EXPECT_EQ(c->code(), StatusCode::kUnavailable);
  EXPECT_FALSE(d || e);
  // The outcome may come on the sink's own thread: the exchanges resume on their loop.
  std::thread writer([&] { sink.appends[1].done(Status::Ok()); });
  writer.join();
  EXPECT_FALSE(d || e);
  io.restart();
  io.poll();
  ASSERT_TRUE(d && e);
  EXPECT_TRUE(d->ok());
  EXPECT_TRUE(e->ok());
}

TEST(EvidenceRoundsTest, NoRecordsNeedNoAppend) {
  asio::io_context io;
  HeldSink sink;
  EvidenceRounds rounds(sink);
  std::optional<Status> outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        outcome = co_await rounds.Append(evidence::PreparedRecords{});
      },
      asio::detached);
  io.poll();
  ASSERT_TRUE(outcome && outcome->ok());
  EXPECT_TRUE(sink.appends.empty());
}

}  // namespace
}  // namespace govesb::engine
