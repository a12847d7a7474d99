#pragma once

// The Client's access token: fetched on first use, kept, and replaced before it expires.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "govesb/result.h"

namespace govesb::sdk::internal {

struct FetchedToken {
  std::string access_token;
  std::chrono::seconds lifetime{0};  // expires_in
};

// Caches one token. Get() returns the cached token while more than the refresh margin of its
// life is left, where the margin is the smaller of `refresh_margin` and half the token's
// lifetime (so that short-lived tokens are not refreshed on every call); otherwise it fetches a
// new one. Expiry is counted from the moment the fetch started, on a monotonic clock. A failed
// refresh while the old token is still valid returns the old token.
//
// Thread-safe: one mutex; at most one fetch at a time, and callers arriving during a fetch wait
// for its result instead of fetching again.
class TokenCache {
 public:
  using Fetch = std::function<Result<FetchedToken>()>;
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  TokenCache(
      Fetch fetch, std::chrono::seconds refresh_margin,
      Now now = [] { return std::chrono::steady_clock::now(); });

  Result<std::string> Get();
  // Forgets `token` if it is the cached one (after the bus refused it with 401), so that the
  // next Get() fetches a new one. A token already replaced by another thread is left alone.
  void Invalidate(std::string_view token);

  int fetches() const { return fetches_.load(); }

 private:
  const Fetch fetch_;
  const std::chrono::seconds refresh_margin_;
  const Now now_;
  std::atomic<int> fetches_{0};

  std::mutex mu_;
  std::string token_;  // guarded by mu_; empty: none
  std::chrono::steady_clock::time_point refresh_at_;
  std::chrono::steady_clock::time_point expires_at_;
};

}  // namespace govesb::sdk::internal
