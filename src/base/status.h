#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace govesb {

// Canonical error codes. Every expected failure in the bus is one of these; the mapping to
// HTTP statuses and GovESB envelopes lives in exactly one place (engine/error_mapping).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // malformed input from a caller
  kNotFound,            // unknown apiCode, system, institution ...
  kAlreadyExists,       // duplicate code or name
  kPermissionDenied,    // authenticated but not allowed (no grant, disabled)
  kUnauthenticated,     // missing/expired/forged token or credentials
  kFailedPrecondition,  // state does not allow the operation
  kResourceExhausted,   // limits
  kDeadlineExceeded,    // timeouts
  kUnavailable,         // a peer cannot be reached
  kBadSignature,        // a signature does not verify
  kBadGateway,          // a peer answered with garbage
  kInternal,            // a bug or an environment failure
};

std::string_view StatusCodeName(StatusCode code);

// The result of an operation that can fail in an expected way. Cheap to copy when ok.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "CODE_NAME: message", for logs and CLI errors.
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status BadSignature(std::string m) { return {StatusCode::kBadSignature, std::move(m)}; }
inline Status BadGateway(std::string m) { return {StatusCode::kBadGateway, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

}  // namespace govesb
