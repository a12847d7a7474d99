#include "accounts/login_guard.h"

#include <algorithm>

namespace govesb::accounts {

LoginGuard::LoginGuard(const Clock& clock, LoginPolicy policy)
    : accounts_(clock, policy.per_account), addresses_(clock, policy.per_address) {}

limits::Decision LoginGuard::Check(std::string_view email, std::string_view address) {
  const limits::Decision account = accounts_.Check(email);
  const limits::Decision from = addresses_.Check(address);
  if (account.allowed && from.allowed) return {};
  throttled_.fetch_add(1, std::memory_order_relaxed);
  return {false, std::max(account.retry_after, from.retry_after)};
}

void LoginGuard::RecordFailure(std::string_view email, std::string_view address) {
  failed_.fetch_add(1, std::memory_order_relaxed);
  accounts_.RecordFailure(email);
  addresses_.RecordFailure(address);
}

void LoginGuard::RecordSuccess(std::string_view email) {
  succeeded_.fetch_add(1, std::memory_order_relaxed);
  accounts_.RecordSuccess(email);
}

LoginStats LoginGuard::Stats() const {
  return {.succeeded = succeeded_.load(std::memory_order_relaxed),
          .failed = failed_.load(std::memory_order_relaxed),
          .throttled = throttled_.load(std::memory_order_relaxed),
          .refused = refused_.load(std::memory_order_relaxed)};
}

}  // namespace govesb::accounts
