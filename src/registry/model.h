#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "schema/schema.h"

namespace govesb::registry {

// Rows of the registry, as plain values. Times are milliseconds since the Unix epoch (UTC).

// A government institution (ministry, agency) that owns systems.
struct Institution {
  int64_t id = 0;
  std::string code;  // 2-32 of [A-Za-z0-9_-], unique, case-sensitive
  std::string name;  // the display name; renaming changes nothing else
  int64_t created_at = 0;
  // A suspended institution's systems are all refused on the bus (tokens, calls, pushes,
  // deliveries to them) until it is resumed; its registry rows stay as they are.
  bool suspended = false;
  int64_t updated_at = 0;  // 0 before migration 6 for rows never changed since
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
// System::serialisation values.
inline constexpr std::string_view kSerialisationAuto = "auto";
inline constexpr std::string_view kSerialisationJackson = "jackson";
inline constexpr std::string_view kSerialisationNode = "node";

// The form the bus writes for a system: its setting, else what it was seen to sign, else
// "jackson".
inline std::string_view EffectiveSerialisation(std::string_view setting, std::string_view learned) {
  if (setting != kSerialisationAuto && !setting.empty()) return setting;
  return learned.empty() ? kSerialisationJackson : learned;
}

struct System {
  int64_t id = 0;
  std::string client_id;  // UUID, issued by the bus
  int64_t institution_id = 0;
  std::string institution_code;
  std::string institution_name;
  // The owning institution is suspended. In a Snapshot such a system also has enabled = false
  // (the request path refuses it like a disabled one); Registry's queries report the system's
  // own flag in `enabled`.
  bool institution_suspended = false;
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
  // When its public key and its secret last changed (registration, UpdateSystem with another
  // key, RotateSecret): the compliance rules' key and secret ages (docs/compliance.md).
  int64_t key_changed_at = 0;
  int64_t secret_changed_at = 0;
  // Requests this system may make, per second and in a burst, over all APIs (see kRateDefault).
  double rate_per_second = kRateDefault;
  double rate_burst = kRateDefault;
  // true: a signature may also verify over the fallback texts of data (wire/envelope.h
  // SignatureVariant: compact, compact-ascii-escaped, latin1); false: only over the exact bytes
  // received ("raw"). Registry::ListSignatureUsage shows which variants a system still uses.
  bool signature_fallbacks = true;
  // How the bus writes the data it signs for this system (wire::JsonStyle): "auto" (the form
  // learned from its own signed requests, serialisation_learned, else "jackson"), "jackson" or
  // "node" (docs/serialisation.md).
  std::string serialisation = std::string(kSerialisationAuto);
  // The form its latest telling request was signed in ("jackson" | "node"), "" when none told.
  std::string serialisation_learned;
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
  // A disabled API is refused on the exchange path (its grants stay).
  bool enabled = true;
  // Who provides it (for the catalogue).
  std::string provider_name;
  std::string provider_institution_code;
  std::string provider_institution_name;
  // The catalogue entry (registry.h ApiDescription): free texts and JSON examples, "" when not
  // given. Not loaded into a Snapshot (the request path has no use for them).
  std::string title;
  std::string description;
  std::string request_example;   // JSON text
  std::string response_example;  // JSON text
  bool has_openapi = false;
  // The OpenAPI document (JSON text): filled only by Registry::GetApi, "" in lists.
  std::string openapi;
  // The API's contract (src/schema, Registry::SetApiContract): the JSON Schema (draft 2020-12)
  // texts of the request's and of the response's esbBody, "" when there is none.
  std::string request_schema = std::string();
  std::string response_schema = std::string();
  // Compiled once when a Snapshot is built (null without a schema, and in Registry's admin
  // queries); a rebuild reuses the compiled schema whose text is unchanged. A stored text that
  // no longer compiles (a later bus with stricter limits) sets contract_error instead: that API
  // fails closed (the engine refuses its requests), others work.
  std::shared_ptr<const schema::Schema> request_contract = nullptr;
  std::shared_ptr<const schema::Schema> response_contract = nullptr;
  std::string contract_error = std::string();
};

// An access request's life, shared by grants and subscriptions: requested (pending), then
// approved or refused; an approved one may be revoked. A refused or revoked one may be
// requested again.
inline constexpr std::string_view kAccessPending = "pending";
inline constexpr std::string_view kAccessApproved = "approved";
inline constexpr std::string_view kAccessRefused = "refused";
inline constexpr std::string_view kAccessRevoked = "revoked";

// Who asked for access and why, and who decided and why (grants and subscriptions). Accounts
// are the admin layer's account names (an e-mail, "cli:<user>"); "" when not recorded (rows
// older than migration 6, or access given directly without a request).
struct AccessTrail {
  std::string requested_by = std::string();
  std::string purpose = std::string();
  int64_t requested_at = 0;
  std::string decided_by = std::string();
  std::string reason = std::string();  // required for a refusal or a revocation
  int64_t decided_at = 0;
};

inline constexpr std::string_view kGrantPending = kAccessPending;
inline constexpr std::string_view kGrantApproved = kAccessApproved;
inline constexpr std::string_view kGrantRefused = kAccessRefused;
inline constexpr std::string_view kGrantRevoked = kAccessRevoked;

// Permission for a consumer system to call an API. Only "approved" grants allow calls.
// A purpose (legal basis) a grant allows requests to declare: a short code a request carries
// in its signed data (`purpose`), and what it means.
struct Purpose {
  std::string code;  // 1-32 of [A-Z0-9_], starting with a letter
  std::string text;  // 1-200 characters, one line
  friend bool operator==(const Purpose&, const Purpose&) = default;
};
inline constexpr size_t kMaxPurposesPerGrant = 20;

struct Grant {
  int64_t id = 0;
  int64_t consumer_system_id = 0;
  std::string consumer_client_id;
  int64_t api_id = 0;
  std::string api_code;
  std::string state;  // kGrantPending, kGrantApproved, kGrantRefused or kGrantRevoked
  int64_t created_at = 0;
  int64_t updated_at = 0;
  AccessTrail trail;
  // The purposes a request under this grant may declare; a declared purpose must be one of
  // them. With purpose_required, a request must declare one.
  std::vector<Purpose> purposes = {};
  bool purpose_required = false;
  // The fields of the answers' esbBody the consumer may receive (paths as given: JSON
  // Pointers or dotted, minimise/field_allow_list.h); empty: every field.
  std::vector<std::string> fields = {};
};

// A push topic (pushCode) owned by a publisher system.
struct Topic {
  int64_t id = 0;
  std::string code;  // 5-8 alphanumerics, unique among topics, case-sensitive
  int64_t publisher_system_id = 0;
  std::string publisher_client_id;
  int64_t created_at = 0;
  // The catalogue entry (registry.h TopicDescription), "" when not given.
  std::string title;
  std::string description;
  std::string message_example;  // JSON text: an example of what is pushed
  // A disabled topic is refused on the exchange path: its publisher's pushes are answered
  // success:false. Its subscriptions stay, and deliveries already accepted go on.
  bool enabled = true;
};

inline constexpr std::string_view kSubscriptionPending = kAccessPending;
inline constexpr std::string_view kSubscriptionApproved = kAccessApproved;
inline constexpr std::string_view kSubscriptionRefused = kAccessRefused;
inline constexpr std::string_view kSubscriptionRevoked = kAccessRevoked;

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
  std::string state;              // kSubscriptionPending, ...Approved, ...Refused or ...Revoked
  int64_t created_at = 0;
  int64_t updated_at = 0;
  AccessTrail trail;
};

// A system an applicant institution plans to connect (membership applications).
struct PlannedSystem {
  std::string name = std::string();
  std::string description = std::string();  // what it will offer or use
};

inline constexpr std::string_view kApplicationPending = "pending";
inline constexpr std::string_view kApplicationAccepted = "accepted";
inline constexpr std::string_view kApplicationRefused = "refused";

// An institution not yet on the bus asking to join. Accepting it creates the institution.
struct MembershipApplication {
  int64_t id = 0;
  std::string institution_code;  // the code it asks for (ValidateInstitutionCode)
  std::string institution_name;
  std::string details;  // who it is, its mandate (free text)
  std::string contact_name;
  std::string contact_email;  // becomes its first admin account when accepted
  std::string contact_phone;  // "" when not given
  std::vector<PlannedSystem> planned_systems;
  std::string state;  // kApplicationPending, kApplicationAccepted or kApplicationRefused
  int64_t submitted_at = 0;
  std::string decided_by;  // the operator's account, "" while pending
  std::string reason;      // the refusal's reason ("" otherwise)
  int64_t decided_at = 0;
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
// Usage entries named "serialisation-jackson" / "serialisation-node" count the requests whose
// signed data told which form the system signs in (wire::SignedStyle); recording one also sets
// System::serialisation_learned. They are not signature variants (no fallback was needed).
inline constexpr std::string_view kSerialisationUsagePrefix = "serialisation-";

}  // namespace govesb::registry
