#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "registry/model.h"
#include "store/database.h"

namespace govesb::registry {

// Turns a plain client secret into the encoding stored in systems.secret_hash.
using SecretHasher = std::function<std::string(std::string_view secret)>;

struct RegistryOptions {
  // Time source for created_at/updated_at; nullptr means the system clock. Must outlive the
  // Registry.
  const Clock* clock = nullptr;
  // Empty means crypto::HashSecret (scrypt, tens of milliseconds on purpose). Tests pass
  // crypto::HashSecretForTest.
  SecretHasher hash_secret;
};

inline constexpr int kDefaultApiTimeoutMs = 30000;

// An API's catalogue entry (Registry::DescribeApi, ApiSettings); unset members stay as they
// are, "" clears one. The title is a name (NormalizeName), the description a free text of at
// most kMaxDescriptionBytes, the examples JSON texts of at most kMaxExampleBytes, the OpenAPI
// document a JSON object with an "openapi" member, at most kMaxOpenApiBytes (validation.h).
struct ApiDescription {
  std::optional<std::string> title = std::nullopt;
  std::optional<std::string> description = std::nullopt;
  std::optional<std::string> request_example = std::nullopt;
  std::optional<std::string> response_example = std::nullopt;
  std::optional<std::string> openapi = std::nullopt;

  bool empty() const {
    return !title && !description && !request_example && !response_example && !openapi;
  }
};

// A push topic's catalogue entry (Registry::DescribeTopic), as ApiDescription.
struct TopicDescription {
  std::optional<std::string> title = std::nullopt;
  std::optional<std::string> description = std::nullopt;
  std::optional<std::string> message_example = std::nullopt;
};

// Who asks for access (a grant or a subscription) and why: both required.
struct AccessRequest {
  std::string requested_by = std::string();  // the account asking
  std::string purpose = std::string();       // free text, at most kMaxReasonBytes
};

// Who decides about access, and why. The reason is required to refuse (RefuseGrantRequest ...);
// otherwise optional here (the admin service layer requires it to revoke).
struct AccessDecision {
  std::string decided_by = std::string();
  std::string reason = std::string();  // at most kMaxReasonBytes
};

// What an institution applying to join the bus tells about itself (SubmitApplication).
struct NewApplication {
  std::string institution_code = std::string();  // the code it asks for
  std::string institution_name = std::string();
  std::string details = std::string();  // required, at most kMaxDescriptionBytes
  std::string contact_name = std::string();
  std::string contact_email = std::string();
  std::string contact_phone = std::string();        // optional
  std::vector<PlannedSystem> planned_systems = {};  // 1..kMaxPlannedSystems
};
inline constexpr size_t kMaxPlannedSystems = 50;
// Pending applications at any time: an anonymous form must not fill the disk.
inline constexpr int64_t kMaxPendingApplications = 1000;

// An accepted application and the institution it created. The caller creates the
// institution's first admin account for application.contact_email.
struct AcceptedApplication {
  MembershipApplication application;
  Institution institution;
};

// An API's contract (Registry::SetApiContract): JSON Schema (draft 2020-12) texts for the
// request's and for the response's esbBody. Unset members stay as they are; "" removes one.
// Each is compiled before anything is written (src/schema: the keywords and limits), so a
// schema that is refused leaves the API's contract as it was.
struct ApiContract {
  std::optional<std::string> request_schema = std::nullopt;
  std::optional<std::string> response_schema = std::nullopt;

  bool empty() const { return !request_schema && !response_schema; }
};

// How an API is offered (Registry::AddApi).
struct ApiSettings {
  int64_t timeout_ms = kDefaultApiTimeoutMs;
  std::string endpoint_override;  // "": the provider's endpoint
  // Asynchronous: the provider acknowledges each delivery and posts the real answer later to
  // /engine/esb/async; the bus delivers it to callback_endpoint ("": the consumer's endpoint).
  bool async = false;
  std::string callback_endpoint;
  // The evidence log keeps this API's request and reply bodies, encrypted with the bus's
  // evidence key (Api::store_bodies).
  bool store_bodies = false;
  // Requests per second and burst allowed to EACH consumer of the API (Api::rate_per_second:
  // 0 = the bus's default, -1 = unlimited) and what a repeated signed pull gets.
  double rate_per_second = kRateDefault;
  double rate_burst = kRateDefault;
  ReplayPolicy replay_policy = ReplayPolicy::kRecord;
  // Its catalogue entry, set in the same transaction.
  ApiDescription description = {};
};
inline constexpr int kMinApiTimeoutMs = 100;
inline constexpr int kMaxApiTimeoutMs = 300000;

// A freshly registered system and its plain client secret, shown once and never stored.
struct NewSystem {
  System system;
  std::string client_secret;
};

// Fields of a system that UpdateSystem may change; unset members stay as they are.
struct SystemUpdate {
  std::optional<std::string> name = std::nullopt;
  std::optional<std::string> public_key = std::nullopt;  // base64 SPKI or PEM; stored normalised
  std::optional<std::string> endpoint = std::nullopt;
};

// A rate limit to change (SetSystemRateLimit, SetApiRateLimit); unset members stay as they are.
// Values as in System::rate_per_second: 0 = the bus's default, -1 = unlimited (rate only).
struct RateLimitUpdate {
  std::optional<double> rate_per_second = std::nullopt;
  std::optional<double> burst = std::nullopt;
};

// Administration of the registry: institutions, systems, APIs, grants, push topics and
// subscriptions, stored in the
// database it is given (which it does not own). Every mutating operation validates its input,
// then runs in one immediate transaction, so it either applies completely or changes nothing.
// Errors: kInvalidArgument (malformed input), kNotFound (an unknown reference, named in the
// message), kAlreadyExists (a duplicate code), kFailedPrecondition (the state does not allow
// it, e.g. disabling a disabled system).
//
// The request path never uses Registry; it reads a Snapshot. Not thread-safe: one thread at a
// time, like the Database it works on. Secret hashing is slow: keep it off I/O threads.
class Registry {
 public:
  explicit Registry(store::Database& db, RegistryOptions options = {});

  // Creates or upgrades the registry tables. Idempotent; run it before anything else.
  static Status Migrate(store::Database& db);

  Result<Institution> AddInstitution(std::string_view code, std::string_view name);
  Result<std::vector<Institution>> ListInstitutions();
  Result<Institution> GetInstitution(std::string_view code);
  // Changes the display name only (the code, systems and credentials stay).
  Result<Institution> RenameInstitution(std::string_view code, std::string_view name);
  // Suspending refuses every system of the institution on the bus at once (a Snapshot reports
  // them disabled); resuming lets them back. Both bump the credential_version of each of its
  // systems, so tokens issued before either stop working. kFailedPrecondition when it already
  // is suspended / not suspended.
  Result<Institution> SuspendInstitution(std::string_view code);
  Result<Institution> ResumeInstitution(std::string_view code);

  // Registers a system of an existing institution. `public_key_text` is base64 SPKI DER or
  // PEM on one of the supported curves; `endpoint` an absolute http(s) URL. Issues a UUID
  // client_id and a 32-character alphanumeric secret.
  Result<NewSystem> AddSystem(std::string_view institution_code, std::string_view name,
                              std::string_view public_key_text, std::string_view endpoint);
  Result<std::vector<System>> ListSystems();
  Result<System> GetSystem(std::string_view client_id);
  // Both bump credential_version, invalidating tokens issued before.
  Result<System> DisableSystem(std::string_view client_id);
  Result<System> EnableSystem(std::string_view client_id);
  // Issues a new secret (returned in plain, once) and bumps credential_version.
  Result<std::string> RotateSecret(std::string_view client_id);
  // Changes name, public key and/or endpoint. Does not touch credentials.
  Result<System> UpdateSystem(std::string_view client_id, const SystemUpdate& update);
  // Sets the system's request rate limit (over all its calls); at least one member must be
  // set. Out-of-range values: kInvalidArgument, nothing changed.
  Result<System> SetSystemRateLimit(std::string_view client_id, const RateLimitUpdate& update);
  // Allows (true) or forbids (false) signatures that verify only over a fallback text of data
  // (System::signature_fallbacks). Setting the value it already has is not an error.
  Result<System> SetSignatureFallbacks(std::string_view client_id, bool allowed);
  // How the bus writes the data it signs for the system: "auto", "jackson" or "node"
  // (System::serialisation). kInvalidArgument for anything else. Setting the value it already
  // has is not an error.
  Result<System> SetSerialisation(std::string_view client_id, std::string_view setting);

  // Adds `increments` (system_id, variant, count, and optionally first_at/last_at; 0 = now) to
  // the signature usage counts, creating rows as needed, in one transaction: all or nothing.
  // Cheap enough to call every few seconds with the bus's in-memory counts. At most 10000
  // increments per call; counts 1..2^40; an unknown system id is kNotFound.
  Status RecordSignatureUsage(const std::vector<SignatureUsage>& increments);
  // Usage per system and variant (ordered by system id, then variant), or only the system
  // `client_id`'s when it is not empty (kNotFound if there is no such system).
  Result<std::vector<SignatureUsage>> ListSignatureUsage(std::string_view client_id = {});

  // The operator's compliance thresholds (table compliance_settings): name -> value text. The
  // registry keeps them only (names of 1-64 of [a-z0-9_], values of 1-64 printable ASCII); the
  // admin layer knows the names, parses and checks the values (admin/compliance.h). Ordered by
  // name. Removing a setting that is not there is Ok (the default applies either way).
  Result<std::vector<std::pair<std::string, std::string>>> ListComplianceSettings();
  Status SetComplianceSetting(std::string_view name, std::string_view value);
  Status RemoveComplianceSetting(std::string_view name);

  // `code`: 5-8 ASCII alphanumerics, case-sensitive. Deliveries go to the provider's endpoint
  // unless `endpoint_override` is non-empty.
  Result<Api> AddApi(std::string_view provider_client_id, std::string_view code,
                     int64_t timeout_ms = kDefaultApiTimeoutMs,
                     std::string_view endpoint_override = {});
  Result<Api> AddApi(std::string_view provider_client_id, std::string_view code,
                     const ApiSettings& settings);
  // Every API with its catalogue entry, but not the OpenAPI documents (Api::has_openapi).
  Result<std::vector<Api>> ListApis();
  // kNotFound when there is no API `code`. With its OpenAPI document.
  Result<Api> GetApi(std::string_view code);
  // Sets the catalogue entry (at least one member must be set); kInvalidArgument names the
  // field that is wrong, and nothing changes.
  Result<Api> DescribeApi(std::string_view api_code, const ApiDescription& description);
  // Publishes (or removes) the API's contract (at least one member must be set); every
  // exchange is then checked against it. kInvalidArgument names the schema and the place in it
  // ("the request schema: #/properties/age/minimum: must be a number") or the limit it exceeds;
  // nothing changes then. Returns the API with both schema texts.
  Result<Api> SetApiContract(std::string_view api_code, const ApiContract& contract);
  // A disabled API is refused on the exchange path; grants stay. kFailedPrecondition when it
  // already is.
  Result<Api> DisableApi(std::string_view api_code);
  Result<Api> EnableApi(std::string_view api_code);
  // Turns storing `api_code`'s request and reply bodies in the evidence log on or off and
  // returns the API. Changes nothing else; setting the value it already has is not an error.
  Result<Api> SetApiStoreBodies(std::string_view api_code, bool on);
  // Sets the rate limit each consumer of `api_code` gets; at least one member must be set.
  Result<Api> SetApiRateLimit(std::string_view api_code, const RateLimitUpdate& update);
  // Sets what a repeated signed pull of `api_code` gets (Api::replay_policy). Setting the value
  // it already has is not an error.
  Result<Api> SetApiReplayPolicy(std::string_view api_code, ReplayPolicy policy);

  // ---- access: grants (consumer → API) and subscriptions (subscriber → topic) ----
  // States: pending (requested) → approved | refused; approved (or pending) → revoked; a refused
  // or revoked one may be requested or given again. Errors: kNotFound for an unknown system,
  // API or topic, or no such grant; kAlreadyExists to request or give what is already approved
  // (or to request what is already pending); kFailedPrecondition for any other transition the
  // state does not allow (approving what is not pending, revoking a refused grant ...).

  // Approves `consumer_client_id`'s access to `api_code` directly (no request needed): creates
  // the grant or approves a pending/refused/revoked one. Disabled consumers may be granted
  // (they still cannot call).
  Result<Grant> AddGrant(std::string_view consumer_client_id, std::string_view api_code,
                         const AccessDecision& decision = {});
  Result<Grant> RevokeGrant(std::string_view consumer_client_id, std::string_view api_code,
                            const AccessDecision& decision = {});
  // A request for access, pending until the provider or the operator decides. Purpose and
  // requester are required.
  Result<Grant> RequestGrant(std::string_view consumer_client_id, std::string_view api_code,
                             const AccessRequest& request);
  // Decide a pending request; refusing needs a reason.
  Result<Grant> ApproveGrantRequest(std::string_view consumer_client_id, std::string_view api_code,
                                    const AccessDecision& decision);
  Result<Grant> RefuseGrantRequest(std::string_view consumer_client_id, std::string_view api_code,
                                   const AccessDecision& decision);
  Result<Grant> GetGrant(std::string_view consumer_client_id, std::string_view api_code);
  // The purposes requests under the grant may declare (replacing the list), and whether they
  // must declare one. kInvalidArgument for a bad code or text (ValidatePurposeCode; texts: one
  // line of 1-200 characters), a repeated code, more than kMaxPurposesPerGrant, or `required`
  // with no purpose; kNotFound without such a grant (in any state).
  Result<Grant> SetGrantPurposes(std::string_view consumer_client_id, std::string_view api_code,
                                 const std::vector<Purpose>& purposes, bool required);
  // The fields of the API's answers the consumer may receive (replacing the list; empty: every
  // field). kInvalidArgument for a bad path, naming it, or more than minimise::kMaxFieldPaths
  // (nothing changes); kNotFound without such a grant (in any state).
  Result<Grant> SetGrantFields(std::string_view consumer_client_id, std::string_view api_code,
                               const std::vector<std::string>& fields);
  // Ordered by id; only those in `state` (kAccessPending ...) when it is not empty.
  Result<std::vector<Grant>> ListGrants(std::string_view state = {});

  // A push topic owned by `publisher_client_id`. `code` (pushCode): 5-8 ASCII alphanumerics,
  // case-sensitive, unique among topics (topics and APIs are separate namespaces).
  Result<Topic> AddTopic(std::string_view publisher_client_id, std::string_view code);
  Result<std::vector<Topic>> ListTopics();
  // kNotFound when there is no topic `code`.
  Result<Topic> GetTopic(std::string_view code);
  // Sets the topic's catalogue entry (at least one member must be set).
  Result<Topic> DescribeTopic(std::string_view topic_code, const TopicDescription& description);
  // A disabled topic is refused on the exchange path (its publisher's pushes); subscriptions
  // stay, and deliveries already accepted go on. kFailedPrecondition when it already is.
  Result<Topic> DisableTopic(std::string_view topic_code);
  Result<Topic> EnableTopic(std::string_view topic_code);

  // Approves `subscriber_client_id`'s subscription to `topic_code`: creates it or re-approves
  // a pending/revoked one (then its endpoint override is replaced by `endpoint_override`).
  // Deliveries go to the subscriber's endpoint unless `endpoint_override` is non-empty.
  // Disabled subscribers may be subscribed, like grants.
  Result<Subscription> AddSubscription(std::string_view subscriber_client_id,
                                       std::string_view topic_code,
                                       std::string_view endpoint_override = {},
                                       const AccessDecision& decision = {});
  Result<Subscription> RevokeSubscription(std::string_view subscriber_client_id,
                                          std::string_view topic_code,
                                          const AccessDecision& decision = {});
  // As grants. The endpoint override is given with the request and kept on approval.
  Result<Subscription> RequestSubscription(std::string_view subscriber_client_id,
                                           std::string_view topic_code,
                                           const AccessRequest& request,
                                           std::string_view endpoint_override = {});
  Result<Subscription> ApproveSubscriptionRequest(std::string_view subscriber_client_id,
                                                  std::string_view topic_code,
                                                  const AccessDecision& decision);
  Result<Subscription> RefuseSubscriptionRequest(std::string_view subscriber_client_id,
                                                 std::string_view topic_code,
                                                 const AccessDecision& decision);
  Result<Subscription> GetSubscription(std::string_view subscriber_client_id,
                                       std::string_view topic_code);
  Result<std::vector<Subscription>> ListSubscriptions(std::string_view state = {});

  // ---- membership applications ----
  // An institution not yet on the bus applies. kAlreadyExists when the code it asks for is
  // taken by an institution or by another pending application; kResourceExhausted beyond
  // kMaxPendingApplications pending ones.
  Result<MembershipApplication> SubmitApplication(const NewApplication& application);
  // Ordered by id; only those in `state` when it is not empty.
  Result<std::vector<MembershipApplication>> ListApplications(std::string_view state = {});
  Result<MembershipApplication> GetApplication(int64_t id);
  // Accepting creates the institution (kAlreadyExists if its code was taken meanwhile);
  // refusing needs a reason. Only pending applications (kFailedPrecondition).
  Result<AcceptedApplication> AcceptApplication(int64_t id, std::string_view decided_by);
  Result<MembershipApplication> RefuseApplication(int64_t id, const AccessDecision& decision);

 private:
  Result<System> SetEnabled(std::string_view client_id, bool enabled);
  Result<Institution> SetSuspended(std::string_view code, bool suspended);
  Result<Api> SetApiEnabled(std::string_view api_code, bool enabled);
  Result<Topic> SetTopicEnabled(std::string_view topic_code, bool enabled);
  int64_t Now() const { return clock_->NowMillis(); }

  store::Database& db_;
  const Clock* clock_;
  SecretHasher hash_secret_;
};

}  // namespace govesb::registry
