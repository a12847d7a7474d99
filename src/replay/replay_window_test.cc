#include "replay/replay_window.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <deque>
#include <latch>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace govesb::replay {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

crypto::Sha256Digest Digest(uint64_t n) { return crypto::Sha256(std::to_string(n)); }

TEST(ReplayWindow, SameSignedBytesWithinTheWindowIsAReplay) {
  SimulatedClock clock;
  const int64_t t0 = clock.NowMillis();
  ReplayWindow window(clock, {.window = seconds(600)});
  const std::string first = "0190f3c2a1b24c7d8e9f00112233aabb";
  EXPECT_FALSE(window.Record(7, Digest(1), first).has_value());
  clock.Advance(milliseconds(599'999));
  const std::optional<Sighting> replay = window.Record(7, Digest(1), "second");
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(replay->first_request_id, first);
  EXPECT_EQ(replay->first_at_ms, t0);
  EXPECT_EQ(replay->times_seen, 2u);
  EXPECT_EQ(window.Record(7, Digest(1), "third")->times_seen, 3u);
  clock.Advance(milliseconds(1));  // 600 s after the first: forgotten, recorded anew
  EXPECT_FALSE(window.Record(7, Digest(1), "fourth").has_value());
  EXPECT_EQ(window.Record(7, Digest(1), "fifth")->first_request_id, "fourth");
  EXPECT_EQ(window.Stats().replays, 3u);
  EXPECT_EQ(window.Stats().entries, 1u);
}

TEST(ReplayWindow, OtherSystemsAndOtherBytesAreNotReplays) {
  SimulatedClock clock;
  ReplayWindow window(clock);
  EXPECT_FALSE(window.Record(1, Digest(1), "a").has_value());
  EXPECT_FALSE(window.Record(2, Digest(1), "b").has_value());
  EXPECT_FALSE(window.Record(1, Digest(2), "c").has_value());
  // Digests that agree in their first 16 bytes are the same message to the window (a
  // SHA-256 collision in 128 bits is not a practical concern).
  crypto::Sha256Digest near = Digest(1);
  near[31] ^= 1;
  EXPECT_TRUE(window.Record(1, near, "d").has_value());
  EXPECT_EQ(window.Stats().entries, 3u);
}

TEST(ReplayWindow, ForgetRemovesOnlyTheNamedRecording) {
  SimulatedClock clock;
  ReplayWindow window(clock);
  ASSERT_FALSE(window.Record(1, Digest(1), "r1").has_value());
  window.Forget(1, Digest(1), "someone-else");
  window.Forget(2, Digest(1), "r1");
  EXPECT_TRUE(window.Record(1, Digest(1), "r2").has_value());
  window.Forget(1, Digest(1), "r1");
  EXPECT_EQ(window.Stats().forgotten, 1u);
  EXPECT_EQ(window.Stats().entries, 0u);
  EXPECT_FALSE(window.Record(1, Digest(1), "r3").has_value());  // the retry is not a replay
  EXPECT_EQ(window.Record(1, Digest(1), "r4")->first_request_id, "r3");
}

TEST(ReplayWindow, RequestIdsAreKeptCompactly) {
  SimulatedClock clock;
  ReplayWindow window(clock);
  const std::string hex = "00ff0190f3c2a1b24c7d8e9f001122ab";
  const std::string upper = "00FF0190F3C2A1B24C7D8E9F001122AB";
  ASSERT_FALSE(window.Record(1, Digest(1), hex).has_value());
  ASSERT_FALSE(window.Record(1, Digest(2), upper).has_value());
  ASSERT_FALSE(window.Record(1, Digest(3), "short-id").has_value());
  ASSERT_FALSE(window.Record(1, Digest(4), "").has_value());
  EXPECT_EQ(window.Record(1, Digest(1), "x")->first_request_id, hex);
  EXPECT_EQ(window.Record(1, Digest(2), "x")->first_request_id, "00FF0190F3C2A1B2...");
  EXPECT_EQ(window.Record(1, Digest(3), "x")->first_request_id, "short-id");
  EXPECT_EQ(window.Record(1, Digest(4), "x")->first_request_id, "");
}

TEST(ReplayWindow, WhenFullTheOldestIsEvictedAndTheEffectiveWindowShrinks) {
  SimulatedClock clock;
  const int64_t t0 = clock.NowMillis();
  ReplayWindow window(clock, {.window = seconds(600), .max_entries = 1000, .shards = 1});
  EXPECT_EQ(window.EffectiveWindow(), seconds(600));
  for (int i = 0; i < 1500; ++i) {
    ASSERT_FALSE(window.Record(1, Digest(i), std::to_string(i)).has_value()) << i;
    clock.Advance(milliseconds(1));
  }
  EXPECT_EQ(window.Stats().entries, 1000u);
  EXPECT_EQ(window.Stats().evictions, 500u);
  // The newest evicted was recorded at t0 + 499 ms; it is now t0 + 1500 ms.
  EXPECT_EQ(clock.NowMillis(), t0 + 1500);
  EXPECT_EQ(window.EffectiveWindow(), milliseconds(1001));
  EXPECT_EQ(window.Record(1, Digest(500), "again")->first_request_id, "500");
  EXPECT_FALSE(window.Record(1, Digest(499), "again").has_value());
  // Once the evicted ones would have expired anyway, the full window is back.
  clock.Advance(seconds(600));
  EXPECT_EQ(window.EffectiveWindow(), seconds(600));
}

TEST(ReplayWindow, MemoryStaysBoundedUnderAMillionMessages) {
  SimulatedClock clock;
  ReplayWindow window(clock, {.window = seconds(600), .max_entries = 10'000, .shards = 16});
  size_t heap_after_warmup = 0;
  constexpr int kMessages = 1'000'000;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_FALSE(window.Record(i % 100, Digest(i), "r").has_value());
    if (i % 1000 == 0) clock.Advance(milliseconds(1));
    if (i == 100'000) heap_after_warmup = mallinfo2().uordblks;
  }
  EXPECT_LE(window.Stats().entries, 10'000u);
  EXPECT_EQ(window.Stats().evictions, kMessages - window.Stats().entries);
  EXPECT_LT(mallinfo2().uordblks, heap_after_warmup + (1u << 20));
  // The most recent messages are all still caught.
  for (int i = kMessages - 5000; i < kMessages; ++i) {
    ASSERT_TRUE(window.Record(i % 100, Digest(i), "again").has_value()) << i;
  }
}

// The window against a plain model (a map and a queue in recording order), through random
// records, forgets and time steps: exercises the ring's growth, expiry, eviction and the
// index's deletions.
TEST(ReplayWindow, AgreesWithAModel) {
  SimulatedClock clock;
  constexpr size_t kCapacity = 300;
  constexpr int64_t kWindowMs = 1000;
  ReplayWindow window(clock,
                      {.window = milliseconds(kWindowMs), .max_entries = kCapacity, .shards = 1});
  struct Recording {
    uint64_t message;
    std::string request_id;
    int64_t at_ms;
    uint64_t times_seen;
    bool live;
  };
  std::deque<Recording> order;
  std::map<uint64_t, size_t> live;  // message -> position counted from `popped`
  size_t popped = 0;
  uint64_t evictions = 0;
  const auto pop = [&] {
    if (order.front().live) live.erase(order.front().message);
    order.pop_front();
    ++popped;
  };
  std::mt19937_64 rng(13);
  for (int step = 0; step < 200'000; ++step) {
    const int64_t now = clock.NowMillis();
    const uint64_t message = rng() % 1500;
    const std::string request_id = std::to_string(step);
    if (rng() % 8 == 0) {
      auto it = live.find(message);
      const bool forget_real = it != live.end() && rng() % 2 == 0;
      const std::string id = forget_real ? order[it->second - popped].request_id : "nobody";
      window.Forget(1, Digest(message), id);
      if (forget_real) {
        order[it->second - popped].live = false;
        live.erase(it);
      }
    } else {
      while (!order.empty() && (!order.front().live || order.front().at_ms + kWindowMs <= now)) {
        pop();
      }
      const std::optional<Sighting> got = window.Record(1, Digest(message), request_id);
      auto it = live.find(message);
      if (it != live.end()) {
        Recording& first = order[it->second - popped];
        ++first.times_seen;
        ASSERT_TRUE(got.has_value()) << step;
        ASSERT_EQ(got->first_request_id, first.request_id) << step;
        ASSERT_EQ(got->times_seen, first.times_seen) << step;
      } else {
        ASSERT_FALSE(got.has_value()) << step;
        if (order.size() == kCapacity) {
          if (order.front().live) ++evictions;
          pop();
        }
        order.push_back({message, request_id, now, 1, true});
        live[message] = popped + order.size() - 1;
      }
    }
    ASSERT_EQ(window.Stats().entries, live.size()) << step;
    // Busy phases fill the window past its capacity (evictions), quiet ones let it expire.
    clock.Advance(milliseconds(rng() % (step % 20'000 < 10'000 ? 4 : 16)));
  }
  EXPECT_EQ(window.Stats().evictions, evictions);
  EXPECT_GT(evictions, 0u);
  EXPECT_GT(window.Stats().replays, 1000u);
}

TEST(ReplayWindow, ConcurrentRecordersSeeEachMessageFirstExactlyOnce) {
  SimulatedClock clock;
  ReplayWindow window(clock, {.max_entries = 400'000, .shards = 4});
  constexpr int kThreads = 4;
  constexpr int kMessages = 20'000;
  std::vector<int> firsts(kThreads, 0);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kMessages; ++i) {
        if (!window.Record(1, Digest(i), std::to_string(t)).has_value()) ++firsts[t];
        (void)window.Record(100 + t, Digest(i), "own");
        if (i % 10 == 0) window.Forget(100 + t, Digest(i), "own");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int total = 0;
  for (int n : firsts) total += n;
  EXPECT_EQ(total, kMessages);
  const ReplayStats stats = window.Stats();
  EXPECT_EQ(stats.replays, uint64_t{(kThreads - 1) * kMessages});
  EXPECT_EQ(stats.evictions, 0u);
  EXPECT_EQ(stats.forgotten, uint64_t{kThreads * kMessages / 10});
  EXPECT_EQ(stats.entries, uint64_t{kMessages + kThreads * (kMessages - kMessages / 10)});
}

}  // namespace
}  // namespace govesb::replay
