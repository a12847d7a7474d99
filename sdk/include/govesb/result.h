#pragma once

// Results of SDK calls: a value or an Error, never an exception across the API.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace govesb::sdk {

enum class ErrorKind {
  kInvalidArgument,  // the caller passed something unusable (bad key, bad JSON body, bad URL)
  kTransport,        // the bus could not be reached, TLS failed, timeout, unreadable HTTP
  kUnauthorized,     // 401: bad credentials, expired/revoked token, disabled system
  kRefused,          // the bus (or provider) answered success:false; see Error::message
  kVerification,     // a signature did not verify against the expected public key
  kProtocol,         // the peer answered something that is not a GovESB envelope
};

const char* ErrorKindName(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kTransport;
  std::string message;     // human-readable reason (the bus's own message for kRefused)
  int http_status = 0;     // when an HTTP answer was received
  std::string request_id;  // the bus's requestId, when known (kRefused)
};

// A value or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T* operator->() const { return &std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace govesb::sdk
