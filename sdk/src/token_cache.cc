#include "token_cache.h"

#include <algorithm>
#include <utility>

namespace govesb::sdk::internal {

TokenCache::TokenCache(Fetch fetch, std::chrono::seconds refresh_margin, Now now)
    : fetch_(std::move(fetch)), refresh_margin_(refresh_margin), now_(std::move(now)) {}

Result<std::string> TokenCache::Get() {
  std::lock_guard lock(mu_);
  const auto started = now_();
  if (!token_.empty() && started < refresh_at_) return token_;
  fetches_.fetch_add(1);
  Result<FetchedToken> fetched = fetch_();
  if (!fetched.ok()) {
    // A failed early refresh is not fatal while the current token still works.
    if (!token_.empty() && now_() < expires_at_) return token_;
    token_.clear();
    return fetched.error();
  }
  const std::chrono::seconds lifetime = std::max(fetched->lifetime, std::chrono::seconds(0));
  const std::chrono::seconds margin = std::min(refresh_margin_, lifetime / 2);
  token_ = std::move(fetched.value().access_token);
  expires_at_ = started + lifetime;
  refresh_at_ = expires_at_ - margin;
  return token_;
}

void TokenCache::Invalidate(std::string_view token) {
  std::lock_guard lock(mu_);
  if (token_ == token) token_.clear();
}

}  // namespace govesb::sdk::internal
