#pragma once

// Private to the SDK: the bridges between the public types and the bus's internal modules.

#include <string>
#include <utility>

#include "base/status.h"
#include "crypto/keys.h"
#include "govesb/keys.h"
#include "govesb/result.h"

namespace govesb::sdk {

struct PublicKey::Impl {
  crypto::PublicKey key;
};

struct PrivateKey::Impl {
  crypto::PrivateKey key;
};

namespace internal {

inline Error MakeError(ErrorKind kind, std::string message, int http_status = 0) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.http_status = http_status;
  return e;
}

// A failed Status of the internal modules, as an SDK Error of `kind`.
inline Error FromStatus(ErrorKind kind, const Status& status) {
  return MakeError(kind, status.message());
}

}  // namespace internal
}  // namespace govesb::sdk
