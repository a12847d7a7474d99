#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "base/status.h"

namespace govesb {

// Aborts with a message; for invariants that must hold in every build. Never for external
// input: that is a Status.
[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "govesb: invariant failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}
#define GOVESB_CHECK(expr) \
  ((expr) ? static_cast<void>(0) : ::govesb::CheckFailed(#expr, __FILE__, __LINE__))

// Either a value or a non-ok Status (abseil's StatusOr, in small).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    GOVESB_CHECK(!status_.ok());
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    GOVESB_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    GOVESB_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    GOVESB_CHECK(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace govesb

// Propagates a non-ok Status from an expression yielding Status.
#define GOVESB_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::govesb::Status govesb_status_ = (expr);        \
    if (!govesb_status_.ok()) return govesb_status_; \
  } while (0)

#define GOVESB_CONCAT_INNER(a, b) a##b
#define GOVESB_CONCAT(a, b) GOVESB_CONCAT_INNER(a, b)
// GOVESB_ASSIGN_OR_RETURN(auto x, MakeX()); returns the Status when MakeX() fails.
#define GOVESB_ASSIGN_OR_RETURN(lhs, expr) \
  GOVESB_ASSIGN_OR_RETURN_IMPL(GOVESB_CONCAT(govesb_result_, __LINE__), lhs, expr)
#define GOVESB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
