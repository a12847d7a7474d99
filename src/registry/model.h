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

// Rate limits (token buckets, kept in memory by each bus node) set per system and per API.
// A rate is requests per second: kRateDefault (0) means the bus's default, kRateUnlimited (-1)
// turns the limit off, anything else lies in kMinRatePerSecond..kMaxRatePerSecond. A burst (the
// bucket's size, in requests) is kRateDefault or lies in kMinRateBurst..kMaxRateBurst; it has
// no "unlimited" (make the rate unlimited instead). Stored with 15 significant digits.
inline constexpr double kRateDefault = 0;
inline constexpr double kRateUnlimited = -1;
inline constexpr double kMinRatePerSecond = 0.001;
inline constexpr double kMaxRatePerSecond = 1e6;
inline constexpr double kMinRateBurst = 1;
inline constexpr double kMaxRateBurst = 1e6;

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
  // Requests this system may make, per second and in a burst, over all APIs (see kRateDefault).
  double rate_per_second = kRateDefault;
  double rate_burst = kRateDefault;
  // true: a signature may also verify over the fallback texts of data (wire/envelope.h
  // SignatureVariant: compact, compact-ascii-escaped, latin1); false: only over the exact bytes
  // received ("raw"). Registry::ListSignatureUsage shows which variants a system still uses.
  bool signature_fallbacks = true;
  // Parsed once when a Snapshot is loaded (nullopt if the stored key no longer parses, which
  // makes the system unable to pass signature checks: fail closed). Not filled by Registry's
  // admin queries.
  std::optional<crypto::PublicKey> public_key;
};

// What the bus does with a synchronous pull that repeats an earlier signed request of the same
// consumer (same signature or same signed bytes, within the replay window). A deterministic
// signer (RFC 6979) legitimately repeats a signature when it asks the same question twice, so
// pulls are only recorded and counted unless the API says otherwise.
enum class ReplayPolicy {
  kRecord,  // "record": delivered, recorded and counted
  kRefuse,  // "refuse": refused
};
// "record" or "refuse" (the stored text).
inline std::string_view ReplayPolicyName(ReplayPolicy policy) {
  return policy == ReplayPolicy::kRefuse ? "refuse" : "record";
}
// nullopt for anything but "record" or "refuse".
inline std::optional<ReplayPolicy> ParseReplayPolicy(std::string_view text) {
  if (text == "record") return ReplayPolicy::kRecord;
  if (text == "refuse") return ReplayPolicy::kRefuse;
  return std::nullopt;
}

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
  // Requests EACH consumer may make to this API, per second and in a burst (see kRateDefault;
  // the same encoding as System::rate_per_second).
  double rate_per_second = kRateDefault;
  double rate_burst = kRateDefault;
  // Repeated signed pulls to this API (asynchronous answers and pushes are refused anyway).
  ReplayPolicy replay_policy = ReplayPolicy::kRecord;
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

// How often a system's signatures verified with one variant (wire/envelope.h
// SignatureVariantName: "raw", "compact", "compact-ascii-escaped", "latin1"). One row per
// (system, variant); the bus adds its in-memory counts with Registry::RecordSignatureUsage.
struct SignatureUsage {
  int64_t system_id = 0;
  // Filled by Registry::ListSignatureUsage; ignored when recording.
  std::string client_id = std::string();
  std::string variant = std::string();  // 1-32 of [a-z0-9-]
  int64_t count = 0;
  // First and last verification with this variant. When recording, 0 means "now".
  int64_t first_at = 0;
  int64_t last_at = 0;
};

inline constexpr std::string_view kSignatureVariantRaw = "raw";

}  // namespace govesb::registry
