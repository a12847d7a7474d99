#include "token_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace govesb::sdk::internal {
namespace {

using std::chrono::seconds;

class TokenCacheTest : public ::testing::Test {
 protected:
  TokenCache Make(seconds margin) {
    return TokenCache(
        [this]() -> Result<FetchedToken> {
          if (fail_) {
            Error e;
            e.kind = ErrorKind::kTransport;
            e.message = "bus down";
            return e;
          }
          return FetchedToken{"token-" + std::to_string(++issued_), lifetime_};
        },
        margin, [this] { return now_; });
  }

  std::chrono::steady_clock::time_point now_{};
  seconds lifetime_{3600};
  bool fail_ = false;
  int issued_ = 0;
};

TEST_F(TokenCacheTest, KeepsTheTokenUntilTheMarginBeforeExpiry) {
  TokenCache cache = Make(seconds(60));
  EXPECT_EQ(*cache.Get(), "token-1");
  now_ += seconds(3539);
  EXPECT_EQ(*cache.Get(), "token-1");
  now_ += seconds(2);  // 59 s left: refresh early
  EXPECT_EQ(*cache.Get(), "token-2");
  EXPECT_EQ(cache.fetches(), 2);
}

TEST_F(TokenCacheTest, ShortLivedTokensUseHalfTheirLifeAsMargin) {
  lifetime_ = seconds(100);
  TokenCache cache = Make(seconds(60));
  EXPECT_EQ(*cache.Get(), "token-1");
  now_ += seconds(49);
  EXPECT_EQ(*cache.Get(), "token-1");
  now_ += seconds(2);
  EXPECT_EQ(*cache.Get(), "token-2");
}

TEST_F(TokenCacheTest, FailedEarlyRefreshKeepsTheStillValidToken) {
  TokenCache cache = Make(seconds(60));
  EXPECT_EQ(*cache.Get(), "token-1");
  fail_ = true;
  now_ += seconds(3570);
  EXPECT_EQ(*cache.Get(), "token-1");
  now_ += seconds(60);  // expired
  Result<std::string> r = cache.Get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTransport);
  fail_ = false;
  EXPECT_EQ(*cache.Get(), "token-2");
}

TEST_F(TokenCacheTest, InvalidateForgetsOnlyTheRefusedToken) {
  TokenCache cache = Make(seconds(60));
  EXPECT_EQ(*cache.Get(), "token-1");
  cache.Invalidate("token-0");  // an older token: another thread already replaced it
  EXPECT_EQ(*cache.Get(), "token-1");
  cache.Invalidate("token-1");
  EXPECT_EQ(*cache.Get(), "token-2");
  EXPECT_EQ(cache.fetches(), 2);
}

TEST(TokenCacheConcurrencyTest, OneFetchForManyThreads) {
  std::atomic<int> fetched{0};
  TokenCache cache(
      [&]() -> Result<FetchedToken> {
        ++fetched;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return FetchedToken{"shared", seconds(3600)};
      },
      seconds(60));
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) good += cache.Get().ok() && *cache.Get() == "shared";
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 400);
  EXPECT_EQ(fetched.load(), 1);
}

}  // namespace
}  // namespace govesb::sdk::internal
