#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/keys.h"

namespace govesb::registry {

// Rows of the registry, as plain values. Times are milliseconds since the Unix epoch (UTC).

// A government institution (ministry, agency) that owns systems.
struct Institution {
  int64_t id = 0;
  std::string code;  // 2-32 of [A-Za-z0-9_-], unique, case-sensitive
  std::string name;
  int64_t created_at = 0;
};

// A connected system: a consumer and/or provider with its own credentials and signing key.
struct System {
  int64_t id = 0;
  std::string client_id;  // UUID, issued by the bus
  int64_t institution_id = 0;
  std::string institution_code;
  std::string institution_name;
  std::string name;
  std::string public_key_b64;  // normalised: base64 of the SubjectPublicKeyInfo DER, one line
  crypto::Curve curve = crypto::Curve::kSecp256k1;
  std::string endpoint;     // absolute http(s) URL where the bus delivers to this system
  std::string secret_hash;  // crypto::HashSecret encoding; never shown to anyone
  bool enabled = true;
  // Bumped by secret rotation, disable and enable: tokens carry the version they were issued
  // under and die when it no longer matches.
  int64_t credential_version = 1;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Parsed once when a Snapshot is loaded (nullopt if the stored key no longer parses, which
  // makes the system unable to pass signature checks: fail closed). Not filled by Registry's
  // admin queries.
  std::optional<crypto::PublicKey> public_key;
};

// An API (apiCode) offered by a provider system.
struct Api {
  int64_t id = 0;
  std::string code;  // 5-8 alphanumerics, unique, case-sensitive
  int64_t provider_system_id = 0;
  std::string provider_client_id;
  // Effective delivery URL: endpoint_override when set, else the provider's endpoint.
  std::string endpoint;
  std::string endpoint_override;  // "" when the provider's endpoint is used
  int timeout_ms = 30000;
  int64_t created_at = 0;
  // Asynchronous API: the provider answers later on /engine/esb/async, and the bus delivers
  // the answer to callback_endpoint, or to the consumer system's endpoint when it is "".
  bool async = false;
  std::string callback_endpoint;
  // The evidence log keeps this API's request and reply bodies, encrypted with the bus's
  // evidence key. Off by default: the log then holds only hashes of the bodies.
  bool store_bodies = false;
};

inline constexpr std::string_view kGrantPending = "pending";
inline constexpr std::string_view kGrantApproved = "approved";
inline constexpr std::string_view kGrantRevoked = "revoked";

// Permission for a consumer system to call an API. Only "approved" grants allow calls.
struct Grant {
  int64_t id = 0;
  int64_t consumer_system_id = 0;
  std::string consumer_client_id;
  int64_t api_id = 0;
  std::string api_code;
  std::string state;  // kGrantPending, kGrantApproved or kGrantRevoked
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// A push topic (pushCode) owned by a publisher system.
struct Topic {
  int64_t id = 0;
  std::string code;  // 5-8 alphanumerics, unique among topics, case-sensitive
  int64_t publisher_system_id = 0;
  std::string publisher_client_id;
  int64_t created_at = 0;
};

inline constexpr std::string_view kSubscriptionPending = "pending";
inline constexpr std::string_view kSubscriptionApproved = "approved";
inline constexpr std::string_view kSubscriptionRevoked = "revoked";

// A subscriber system's subscription to a topic. Only "approved" subscriptions get deliveries.
struct Subscription {
  int64_t id = 0;
  int64_t subscriber_system_id = 0;
  std::string subscriber_client_id;
  int64_t topic_id = 0;
  std::string topic_code;
  // Effective delivery URL: endpoint_override when set, else the subscriber's endpoint.
  std::string endpoint;
  std::string endpoint_override;  // "" when the subscriber's endpoint is used
  std::string state;              // kSubscriptionPending, kSubscriptionApproved or ...Revoked
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

}  // namespace govesb::registry
