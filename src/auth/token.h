#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"
#include "base/result.h"
#include "registry/snapshot.h"

namespace govesb::auth {

// Self-contained bearer tokens: "<payload>.<mac>", both base64url, the payload being
// "v1|<client_id>|<credential_version>|<issued_at>|<expires_at>|<nonce>" and the mac
// HMAC-SHA256(bus token secret, payload). Any bus node holding the secret and a registry
// snapshot validates a token without a database hit. A token dies at its expiry, or earlier
// when its system is disabled or its secret rotated (both bump credential_version). Newer
// tokens do not invalidate older ones. Immutable after construction; thread-safe.
class TokenService {
 public:
  TokenService(std::string mac_secret, const Clock& clock, std::chrono::seconds ttl);

  struct Issued {
    std::string access_token;
    int64_t expires_in = 0;  // seconds
  };
  Issued Issue(const registry::System& system) const;

  // kUnauthenticated with a message saying why (malformed, forged, expired, disabled, revoked).
  Result<const registry::System*> Authenticate(std::string_view token,
                                               const registry::Snapshot& snapshot) const;

  std::chrono::seconds ttl() const { return ttl_; }

 private:
  struct Claims {
    std::string client_id;
    int64_t credential_version = 0;
    int64_t expires_at = 0;
  };
  // Checks the MAC and decodes the payload (no expiry or registry checks).
  Result<Claims> Decode(std::string_view token) const;

  std::string mac_secret_;
  const Clock& clock_;
  std::chrono::seconds ttl_;
  // Tokens whose MAC was already checked: a client sends the same token with every call, and
  // the HMAC is a measurable part of an exchange. Only the MAC result is remembered; expiry,
  // the system's state and its credential version are checked on every call.
  mutable std::mutex verified_mu_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::unordered_map<std::string, Claims, StringHash, std::equal_to<>> verified_;
};

// Extracts the token from an Authorization header value: "Bearer <t>", "bearer <t>" or the
// bare token (Java connector's push and NIDA paths). Empty when there is none.
std::string_view TokenFromAuthorization(std::string_view header_value);

}  // namespace govesb::auth
