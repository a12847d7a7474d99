#pragma once

// The in-memory part of signing in, shared by every accounts::Accounts of a process: lock-outs of
// repeated failures per account and per client address (limits::FailureLockout), and counters.
// Thread-safe; no I/O. A process restart forgets the lock-outs (the bound on guessing is then the
// restart rate, and each guess still costs a scrypt hash).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "limits/failure_lockout.h"
#include "limits/rate.h"

namespace govesb::accounts {

struct LoginPolicy {
  // Per account: 5 failures within 15 minutes are free; then 1 s, doubling up to 15 minutes.
  limits::LockoutPolicy per_account = {.free_failures = 5,
                                       .window = std::chrono::minutes(15),
                                       .base_lock = std::chrono::seconds(1),
                                       .max_lock = std::chrono::minutes(15)};
  // Per address (many people may share one): 20 free.
  limits::LockoutPolicy per_address = {.free_failures = 20,
                                       .window = std::chrono::minutes(15),
                                       .base_lock = std::chrono::seconds(1),
                                       .max_lock = std::chrono::minutes(15)};
};

struct LoginStats {
  uint64_t succeeded = 0;
  uint64_t failed = 0;     // wrong e-mail or password
  uint64_t throttled = 0;  // refused while locked, before any hashing
  uint64_t refused = 0;    // right password, disabled account
};

class LoginGuard {
 public:
  explicit LoginGuard(const Clock& clock, LoginPolicy policy = {});

  // Refused while the account or the address is locked; retry_after is the longer wait.
  limits::Decision Check(std::string_view email, std::string_view address);
  // A wrong password (or an unknown e-mail) for `email` from `address`.
  void RecordFailure(std::string_view email, std::string_view address);
  // Clears the account's failures, not the address's (one person's success behind a shared
  // address must not forgive a guesser behind the same one).
  void RecordSuccess(std::string_view email);
  void CountRefused() { refused_.fetch_add(1, std::memory_order_relaxed); }

  LoginStats Stats() const;

 private:
  limits::FailureLockout accounts_;
  limits::FailureLockout addresses_;
  std::atomic<uint64_t> succeeded_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> throttled_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace govesb::accounts
