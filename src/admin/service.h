#pragma once

// The admin service layer: the one place that changes the registry, redelivers, and reads what
// operators, institutions and auditors may see. The admin CLI, the admin REST API and the
// portal are thin clients of it.
//
// Every call names its Actor. What an actor may do follows from its role:
//   operator           everything
//   institution-admin  its own institution's systems (register, rotate, key, endpoint,
//                      disable/enable), APIs and topics of its systems, approving and revoking
//                      access to its own APIs and topics, revoking its own systems' access;
//                      sees the catalogue of every API and topic, and its own systems'
//                      grants, subscriptions, deliveries and actions
//   auditor            reads everything, changes nothing, never sees a secret
// Refusals are kPermissionDenied naming what the role may not do; bad input is
// kInvalidArgument, an unknown reference kNotFound, a duplicate kAlreadyExists, a state that
// does not allow it kFailedPrecondition — the registry's vocabulary, unchanged. A refused call
// changes nothing.
//
// Every change is recorded with its actor, object, and state before and after (journal.h) in
// the same transaction as the change itself.
//
// Not thread-safe (like the Database it works on): one per thread or per connection.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "admin/actor.h"
#include "admin/bus.h"
#include "admin/compliance.h"
#include "admin/journal.h"
#include "base/clock.h"
#include "base/result.h"
#include "crypto/keys.h"
#include "delivery/sqlite_queue.h"
#include "evidence/store.h"
#include "evidence/subject_report.h"
#include "registry/registry.h"
#include "store/database.h"
#include "traffic/query.h"

namespace govesb::admin {

// Access requests (grants and subscriptions) in one listing (ListAccessRequests).
struct AccessRequests {
  std::vector<registry::Grant> grants;
  std::vector<registry::Subscription> subscriptions;
};

// The reason recorded when a grant or subscription is revoked through the old three-argument
// RevokeGrant / RevokeSubscription (the CLI's `grant revoke`, `subscription revoke`).
inline constexpr std::string_view kCliRevokeReason = "revoked by the operator via the CLI";
inline constexpr std::string_view kNoStatedReason = "revoked without a stated reason";

struct ServiceOptions {
  const Clock* clock = nullptr;                  // nullptr: the system clock
  registry::SecretHasher hash_secret = nullptr;  // empty: scrypt (tests pass a fast one)
  // The evidence log's archive directory ("": none) and the bus's public key (for proofs and
  // verification; without it those are kFailedPrecondition).
  std::string evidence_archive_dir = std::string();
  std::optional<crypto::PublicKey> bus_key = std::nullopt;
  // The running bus's key ring (its keys, their times): when set, proofs and verification use
  // every key in it and DescribeBus lists the published ones; bus_key is then not needed.
  std::function<std::shared_ptr<const crypto::KeyRing>()> bus_key_ring = nullptr;
  BusInfo bus = BusInfo();
  // The evidence store that searches, proofs and verification read (the bus's, shared with its
  // evidence thread). Null: on SQLite the embedded adapter over `db` (the CLI, tests), which
  // reads the archives in evidence_archive_dir; on PostgreSQL a reading store of the cluster's
  // (evidence::PgEvidenceStore::OpenForReading on postgres_conninfo, every node's chain). Must
  // outlive the service.
  evidence::EvidenceStore* evidence = nullptr;
  // On PostgreSQL with no `evidence` given: the conninfo of `db`'s database (Database::path()
  // leaves out the credentials, so it cannot be derived), for the reading evidence store the
  // service opens. Empty, or a store that cannot be opened: evidence searches, proofs and
  // verification are kFailedPrecondition saying why; everything else works.
  std::string postgres_conninfo = std::string();
  // The bus's signer (its current key), for what the service signs: a person's access report.
  // Null: those are kFailedPrecondition. Must outlive the service.
  const crypto::Signer* signer = nullptr;
};

// Creates or upgrades every table the admin layer works on (registry, delivery, evidence,
// traffic, admin), with each module's schema for `db`'s backend (SQLite or PostgreSQL). The
// cluster's own tables (cluster::MigrateClusterStore) are not among them: `govesb cluster init`
// and the nodes make those.
Status MigrateAll(store::Database& db);

class AdminService {
 public:
  explicit AdminService(store::Database& db, ServiceOptions options = {});

  // ---- institutions ----
  Result<registry::Institution> AddInstitution(const Actor& actor, std::string_view code,
                                               std::string_view name);
  Result<std::vector<registry::Institution>> ListInstitutions(const Actor& actor);
  // Operator only. Renaming changes the display name only. Suspending stops every system of
  // the institution on the running bus within a second (tokens, calls, pushes, deliveries);
  // resuming lets them back (with new tokens).
  Result<registry::Institution> RenameInstitution(const Actor& actor, std::string_view code,
                                                  std::string_view name);
  Result<registry::Institution> SuspendInstitution(const Actor& actor, std::string_view code);
  Result<registry::Institution> ResumeInstitution(const Actor& actor, std::string_view code);

  // ---- membership: institutions not yet on the bus ----
  // Anyone may apply, also without an account (Actor::Applicant).
  Result<registry::MembershipApplication> ApplyForMembership(
      const Actor& actor, const registry::NewApplication& application);
  // The operator and the auditor; `state` "" for all.
  Result<std::vector<registry::MembershipApplication>> ListApplications(
      const Actor& actor, std::string_view state = {});
  // Operator only. Accepting creates the institution; the caller then creates its first admin
  // account for the returned application's contact_email. Refusing needs a reason.
  Result<registry::AcceptedApplication> AcceptApplication(const Actor& actor, int64_t id);
  Result<registry::MembershipApplication> RefuseApplication(const Actor& actor, int64_t id,
                                                            std::string_view reason);

  // ---- systems ----
  Result<registry::NewSystem> AddSystem(const Actor& actor, std::string_view institution_code,
                                        std::string_view name, std::string_view public_key_text,
                                        std::string_view endpoint);
  // An institution-admin sees its own institution's systems only.
  Result<std::vector<registry::System>> ListSystems(const Actor& actor);
  Result<registry::System> GetSystem(const Actor& actor, std::string_view client_id);
  Result<registry::System> DisableSystem(const Actor& actor, std::string_view client_id);
  Result<registry::System> EnableSystem(const Actor& actor, std::string_view client_id);
  Result<std::string> RotateSecret(const Actor& actor, std::string_view client_id);
  Result<registry::System> UpdateSystem(const Actor& actor, std::string_view client_id,
                                        const registry::SystemUpdate& update);
  // Operator only.
  Result<registry::System> SetSystemRateLimit(const Actor& actor, std::string_view client_id,
                                              const registry::RateLimitUpdate& update);
  Result<registry::System> SetSignatureFallbacks(const Actor& actor, std::string_view client_id,
                                                 bool allowed);
  // Operator only: "auto" | "jackson" | "node" (registry::System::serialisation).
  Result<registry::System> SetSerialisation(const Actor& actor, std::string_view client_id,
                                            std::string_view setting);
  // Every visible system's, or only `client_id`'s.
  Result<std::vector<registry::SignatureUsage>> ListSignatureUsage(const Actor& actor,
                                                                   std::string_view client_id = {});

  // ---- APIs (the catalogue: every authenticated actor sees every API) ----
  Result<registry::Api> AddApi(const Actor& actor, std::string_view provider_client_id,
                               std::string_view code, const registry::ApiSettings& settings);
  Result<std::vector<registry::Api>> ListApis(const Actor& actor);
  Result<registry::Api> GetApi(const Actor& actor, std::string_view code);
  // Operator only: what the evidence log keeps, and rate limits.
  Result<registry::Api> SetApiStoreBodies(const Actor& actor, std::string_view code, bool on);
  Result<registry::Api> SetApiRateLimit(const Actor& actor, std::string_view code,
                                        const registry::RateLimitUpdate& update);
  // The operator or the provider's institution.
  Result<registry::Api> SetApiReplayPolicy(const Actor& actor, std::string_view code,
                                           registry::ReplayPolicy policy);
  // The operator or the provider's institution: the catalogue entry (title, description, JSON
  // examples, OpenAPI document), and whether the API takes requests.
  Result<registry::Api> UpdateApiDescription(const Actor& actor, std::string_view code,
                                             const registry::ApiDescription& description);
  Result<registry::Api> DisableApi(const Actor& actor, std::string_view code);
  Result<registry::Api> EnableApi(const Actor& actor, std::string_view code);
  // The operator or the provider's institution: the API's contract, the JSON Schemas its
  // request and response bodies are checked against on every exchange (registry::ApiContract:
  // unset members stay, "" removes one). Anyone who may see the catalogue reads it with GetApi.
  Result<registry::Api> SetApiContract(const Actor& actor, std::string_view code,
                                       const registry::ApiContract& contract);

  // ---- grants: approve (the operator or the provider's institution), revoke (also the
  // consumer's institution) ----
  Result<registry::Grant> ApproveGrant(const Actor& actor, std::string_view consumer_client_id,
                                       std::string_view api_code);
  // The purposes requests under a grant may declare, and whether they must (the API's
  // provider institution or the operator decides).
  Result<registry::Grant> SetGrantPurposes(const Actor& actor, std::string_view consumer_client_id,
                                           std::string_view api_code,
                                           const std::vector<registry::Purpose>& purposes,
                                           bool required);
  // The fields of the API's answers the consumer receives (data minimisation; empty: every
  // field). The API's provider institution or the operator decides.
  Result<registry::Grant> SetGrantFields(const Actor& actor, std::string_view consumer_client_id,
                                         std::string_view api_code,
                                         const std::vector<std::string>& fields);
  // Records kCliRevokeReason (via "cli") or kNoStatedReason as the reason.
  Result<registry::Grant> RevokeGrant(const Actor& actor, std::string_view consumer_client_id,
                                      std::string_view api_code);
  // The same, with the reason (required) recorded with the grant.
  Result<registry::Grant> RevokeGrant(const Actor& actor, std::string_view consumer_client_id,
                                      std::string_view api_code, std::string_view reason);
  // The operator or the consumer's institution asks for access, stating the purpose.
  Result<registry::Grant> RequestAccess(const Actor& actor, std::string_view consumer_client_id,
                                        std::string_view api_code, std::string_view purpose);
  // The operator or the provider's institution decides a pending request; refusing needs a
  // reason.
  Result<registry::Grant> ApproveRequest(const Actor& actor, std::string_view consumer_client_id,
                                         std::string_view api_code);
  Result<registry::Grant> RefuseRequest(const Actor& actor, std::string_view consumer_client_id,
                                        std::string_view api_code, std::string_view reason);
  // Grants and subscriptions in `state` ("" for all; default: pending). The operator and the
  // auditor see all; an institution-admin those its systems asked for and those to its APIs
  // and topics.
  Result<AccessRequests> ListAccessRequests(const Actor& actor,
                                            std::string_view state = registry::kAccessPending);
  // An institution-admin sees the grants where its systems consume or provide.
  Result<std::vector<registry::Grant>> ListGrants(const Actor& actor);

  // ---- push topics and subscriptions (as APIs and grants) ----
  Result<registry::Topic> AddTopic(const Actor& actor, std::string_view publisher_client_id,
                                   std::string_view code);
  Result<std::vector<registry::Topic>> ListTopics(const Actor& actor);
  // The operator or the publisher's institution: the catalogue entry, and whether the topic
  // takes pushes (a disabled one's are refused; its subscriptions stay and what was accepted is
  // still delivered).
  Result<registry::Topic> UpdateTopicDescription(const Actor& actor, std::string_view code,
                                                 const registry::TopicDescription& description);
  Result<registry::Topic> DisableTopic(const Actor& actor, std::string_view code);
  Result<registry::Topic> EnableTopic(const Actor& actor, std::string_view code);
  Result<registry::Subscription> ApproveSubscription(const Actor& actor,
                                                     std::string_view subscriber_client_id,
                                                     std::string_view topic_code,
                                                     std::string_view endpoint_override = {});
  Result<registry::Subscription> RevokeSubscription(const Actor& actor,
                                                    std::string_view subscriber_client_id,
                                                    std::string_view topic_code);
  Result<registry::Subscription> RevokeSubscription(const Actor& actor,
                                                    std::string_view subscriber_client_id,
                                                    std::string_view topic_code,
                                                    std::string_view reason);
  // As RequestAccess / ApproveRequest / RefuseRequest, for push topics (the publisher decides).
  Result<registry::Subscription> RequestSubscription(const Actor& actor,
                                                     std::string_view subscriber_client_id,
                                                     std::string_view topic_code,
                                                     std::string_view purpose,
                                                     std::string_view endpoint_override = {});
  Result<registry::Subscription> ApproveSubscriptionRequest(const Actor& actor,
                                                            std::string_view subscriber_client_id,
                                                            std::string_view topic_code);
  Result<registry::Subscription> RefuseSubscriptionRequest(const Actor& actor,
                                                           std::string_view subscriber_client_id,
                                                           std::string_view topic_code,
                                                           std::string_view reason);
  Result<std::vector<registry::Subscription>> ListSubscriptions(const Actor& actor);

  // ---- deliveries (push and asynchronous answers) ----
  // An institution-admin sees deliveries to its own systems.
  Result<std::vector<delivery::DeliveryInfo>> ListDeliveries(const Actor& actor,
                                                             const delivery::DeliveryFilter& f);
  Result<std::vector<delivery::Attempt>> ListAttempts(const Actor& actor, int64_t delivery_id);
  // The operator, or the recipient's institution for one delivery.
  Status Redeliver(const Actor& actor, int64_t delivery_id);
  // Operator only. How many were put back.
  Result<int64_t> RedeliverAllDead(const Actor& actor, std::string_view code);
  // How many deliveries are pending and dead (an institution-admin: to its systems).
  Result<delivery::QueueCounts> CountOpenDeliveries(const Actor& actor);

  // ---- evidence and traffic: an institution-admin sees only exchanges its systems took part
  // in (as sender or receiver) ----
  Result<evidence::SearchPage> SearchEvidence(const Actor& actor, evidence::SearchFilter filter);
  // The offline proof of one exchange (what `govesb audit check-proof` accepts).
  Result<std::string> ExchangeProof(const Actor& actor, std::string_view request_id);
  // The whole log checked (operator and auditor; reads every record: minutes on a big log).
  Result<evidence::VerifyReport> VerifyEvidence(const Actor& actor);
  // A person's access report (operator and auditor: it spans every institution): every exchange
  // that carried `query.user_id` in its range, with the asking and answering institutions and
  // systems and the API named from the registry as it is now, signed by the bus key. The signed
  // document's canonical JSON text (evidence/subject_report.h). kInvalidArgument for a query
  // evidence::CheckSubjectQuery refuses (before anything is read).
  Result<std::string> MakeSubjectReport(const Actor& actor, const evidence::SubjectQuery& query);
  Result<std::vector<traffic::Point>> TrafficSeries(const Actor& actor,
                                                    traffic::SeriesFilter filter);
  Result<std::vector<traffic::TotalsRow>> TrafficTotals(const Actor& actor,
                                                        traffic::SeriesFilter filter,
                                                        traffic::GroupBy by, size_t limit);

  // ---- compliance (docs/compliance.md) ----
  // Every system of the scope rated against the rule set, its institutions rolled up, and the
  // summary figures. Operators and auditors: the whole bus (`institution` empty) or one
  // institution; an institution-admin: its own institution only (empty means its own). kNotFound
  // for an unknown institution. Reads the evidence log of the window (at most max_records
  // records): kFailedPrecondition when there is no evidence log here.
  Result<ComplianceReport> Compliance(const Actor& actor, std::string_view institution = {});
  // The thresholds in force (every role).
  Result<ComplianceThresholds> GetComplianceThresholds(const Actor& actor);
  // Operator only: sets one threshold (`value` a number, or "default" to go back to the
  // default). kInvalidArgument for an unknown name, a value out of range, or a warn threshold
  // above its fail threshold; nothing changes then. Recorded as "compliance.threshold".
  Result<ComplianceThresholds> SetComplianceThreshold(const Actor& actor, std::string_view name,
                                                      std::string_view value);

  // ---- the bus itself ----
  // The bus key, its TLS certificate (subject, names, validity) and the addresses systems use:
  // every role (each institution needs the key, the CA and the URLs to connect); the file
  // paths on the bus's machine for the operator and the auditor only.
  Result<BusDescription> DescribeBus(const Actor& actor);
  // The admin listener's address, known once it listens; set before it serves a request.
  void set_admin_url(std::string url) { bus_.admin_url = std::move(url); }

  // ---- the record of admin actions ----
  // Operators and auditors see all; an institution-admin those of its institution's accounts
  // and on its objects.
  Result<std::vector<ActionRecord>> ListActions(const Actor& actor, ActionFilter filter);

  registry::Registry& registry() { return registry_; }

 private:
  int64_t Now() const;
  // Runs `op` (which returns Result<T>) and records its action, in one transaction.
  template <typename T, typename Op, typename AfterJson>
  Result<T> Mutate(const Actor& actor, std::string_view action, const std::string& object,
                   const std::string& object_institution, boost::json::value before, Op op,
                   AfterJson after);
  // The institution owning a system / API / topic.
  Result<registry::System> OwnedSystem(std::string_view client_id);
  Result<std::string> InstitutionOfApi(std::string_view code);
  Result<std::string> InstitutionOfTopic(std::string_view code);
  Result<std::string> InstitutionOfDelivery(int64_t delivery_id);

  // The systems an actor sees (an institution-admin: its own), by id and by client id.
  struct OwnSystems {
    std::unordered_set<int64_t> ids;
    std::unordered_set<std::string> client_ids;
  };
  Result<OwnSystems> OwnSystemsOf(const Actor& actor);
  // The client ids an institution-admin may see exchanges of, within `asked` (all of them when
  // `asked` is empty); false when the answer is "none".
  Result<bool> RestrictToOwnSystems(const Actor& actor, std::vector<std::string>& systems);
  // The evidence store to read, or why there is none.
  Result<evidence::EvidenceStore*> Evidence();

  store::Database& db_;
  const Clock* clock_;
  registry::Registry registry_;
  std::unique_ptr<evidence::EvidenceStore> own_evidence_;  // when none was given
  evidence::EvidenceStore* evidence_;                      // null: evidence_missing_ says why
  Status evidence_missing_;
  std::optional<crypto::PublicKey> bus_key_;
  std::function<std::shared_ptr<const crypto::KeyRing>()> bus_key_ring_;
  // What verifies the bus's signatures: the ring's keys, or bus_key; nullopt when neither.
  std::optional<crypto::KeySet> BusKeys() const;
  const crypto::Signer* signer_ = nullptr;
  BusInfo bus_;
  // On db_, so that a redelivery and its recorded action commit together.
  delivery::SqliteDeliveryOperations deliveries_;
};

}  // namespace govesb::admin
