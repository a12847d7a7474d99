#include "limits/fair_work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace govesb::limits {
namespace {

// Holds the pool's only thread busy until Open is called.
class Gate {
 public:
  void Open() { open_.set_value(); }
  FairWorkPool::Job Job() {
    return [f = open_.get_future().share(), this](bool run) {
      started_.set_value();
      if (run) f.wait();
    };
  }
  void WaitStarted() { started_.get_future().wait(); }

 private:
  std::promise<void> open_;
  std::promise<void> started_;
};

TEST(FairWorkPool, OneKeysLongLineDelaysAnotherKeyByOneJobNotByTheWholeLine) {
  std::vector<std::string> order;
  std::mutex mu;
  auto record = [&](std::string name) {
    return [&, name](bool run) {
      ASSERT_TRUE(run);
      std::lock_guard lock(mu);
      order.push_back(name);
    };
  };
  Gate gate;
  {
    FairWorkPool pool({.threads = 1, .waiting_per_key = 8, .waiting_total = 64});
    ASSERT_TRUE(pool.Submit("gate", gate.Job()));
    gate.WaitStarted();
    for (int i = 1; i <= 4; ++i)
      ASSERT_TRUE(pool.Submit("attacker", record("a" + std::to_string(i))));
    ASSERT_TRUE(pool.Submit("newcomer", record("n1")));
    ASSERT_TRUE(pool.Submit("attacker", record("a5")));
    ASSERT_TRUE(pool.Submit("other", record("o1")));
    EXPECT_EQ(pool.Stats().waiting, 7u);
    EXPECT_EQ(pool.Stats().keys_waiting, 3u);
    gate.Open();
    while (pool.Stats().completed < 8) std::this_thread::yield();
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "n1", "o1", "a2", "a3", "a4", "a5"}));
}

TEST(FairWorkPool, RefusesOverTheBoundsPerKeyAndInAll) {
  Gate gate;
  std::atomic<int> ran{0};
  std::atomic<int> cancelled{0};
  auto count = [&](bool run) { (run ? ran : cancelled).fetch_add(1); };
  {
    FairWorkPool pool({.threads = 1, .waiting_per_key = 2, .waiting_total = 3});
    ASSERT_TRUE(pool.Submit("gate", gate.Job()));
    gate.WaitStarted();
    EXPECT_TRUE(pool.Submit("a", count));
    EXPECT_TRUE(pool.Submit("a", count));
    EXPECT_FALSE(pool.Submit("a", count));  // a's line is full
    EXPECT_TRUE(pool.Submit("b", count));
    EXPECT_FALSE(pool.Submit("c", count));  // all lines are full
    FairWorkPoolStats s = pool.Stats();
    EXPECT_EQ(s.submitted, 4u);  // the gate too
    EXPECT_EQ(s.refused, 2u);
    EXPECT_EQ(s.waiting, 3u);
    EXPECT_EQ(s.running, 1u);
    gate.Open();
    while (pool.Stats().completed < 4) std::this_thread::yield();
    EXPECT_TRUE(pool.Submit("c", count));  // room again once the lines have drained
    while (pool.Stats().completed < 5) std::this_thread::yield();
  }
  EXPECT_EQ(ran.load(), 4);
  EXPECT_EQ(cancelled.load(), 0);
}

TEST(FairWorkPool, JobsStillWaitingAtDestructionAreAnsweredWithRunFalse) {
  Gate gate;
  std::atomic<int> ran{0};
  std::atomic<int> cancelled{0};
  auto count = [&](bool run) { (run ? ran : cancelled).fetch_add(1); };
  std::thread opener;
  {
    FairWorkPool pool({.threads = 1});
    ASSERT_TRUE(pool.Submit("gate", gate.Job()));
    gate.WaitStarted();
    ASSERT_TRUE(pool.Submit("a", count));
    ASSERT_TRUE(pool.Submit("b", count));
    // The destructor waits for the running job; open the gate only once it has begun.
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      gate.Open();
    });
  }
  opener.join();
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(cancelled.load(), 2);
}

TEST(FairWorkPool, ManyThreadsRunEveryJobOnce) {
  std::atomic<int> ran{0};
  {
    FairWorkPool pool({.threads = 4, .waiting_per_key = 1000, .waiting_total = 10'000});
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(pool.Submit("k" + std::to_string(i % 7), [&](bool run) {
        if (run) ran.fetch_add(1);
      }));
    }
    while (pool.Stats().completed < 2000) std::this_thread::yield();
    EXPECT_EQ(pool.Stats().waiting, 0u);
    EXPECT_EQ(pool.Stats().keys_waiting, 0u);
  }
  EXPECT_EQ(ran.load(), 2000);
}

}  // namespace
}  // namespace govesb::limits
