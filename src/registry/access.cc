// Access to APIs (grants) and push topics (subscriptions): requests, decisions and their trail.
// Both tables have the same life and the same trail columns, so one routine applies every
// change to either (ApplyAccessChange).
#include <string>
#include <utility>

#include "minimise/field_allow_list.h"
#include "registry/queries.h"
#include "registry/registry.h"
#include "registry/validation.h"

namespace govesb::registry {
namespace {

using internal::Quoted;

enum class AccessOp {
  kGive,     // approve directly, with or without a request
  kRequest,  // ask: pending
  kApprove,  // decide a pending request: approved
  kRefuse,   // decide a pending request: refused
  kRevoke,   // withdraw: revoked
};

// One grant or subscription, by its two ends, and how to name it in messages.
struct AccessRef {
  std::string_view table;          // "grants" | "subscriptions"
  std::string_view owner_column;   // "consumer_system_id" | "subscriber_system_id"
  std::string_view target_column;  // "api_id" | "topic_id"
  int64_t system_id = 0;
  int64_t target_id = 0;
  std::string what;     // "the grant of API 'X' to system 'Y'"
  std::string missing;  // "system 'Y' has no grant for API 'X'"
  std::string already;  // "system 'Y' already has an approved grant for API 'X'"
};

struct AccessChange {
  AccessOp op = AccessOp::kGive;
  std::string by;    // requested_by or decided_by
  std::string text;  // purpose or reason
  // Subscriptions: the endpoint override to store ("" = the subscriber's endpoint); nullopt
  // keeps the stored one (and grants have none).
  std::optional<std::string> endpoint = std::nullopt;
};

std::string_view NewState(AccessOp op) {
  switch (op) {
    case AccessOp::kGive:
    case AccessOp::kApprove:
      return kAccessApproved;
    case AccessOp::kRequest:
      return kAccessPending;
    case AccessOp::kRefuse:
      return kAccessRefused;
    case AccessOp::kRevoke:
      return kAccessRevoked;
  }
  return kAccessPending;
}

// Whether `op` may happen to an access in `state` ("" = no row yet).
Status CheckTransition(const AccessRef& ref, std::string_view state, AccessOp op) {
  const bool exists = !state.empty();
  switch (op) {
    case AccessOp::kGive:
      if (state == kAccessApproved) return AlreadyExists(ref.already);
      return Status::Ok();
    case AccessOp::kRequest:
      if (state == kAccessApproved) return AlreadyExists(ref.already);
      if (state == kAccessPending) {
        return AlreadyExists(ref.what + " was already requested and awaits a decision");
      }
      return Status::Ok();
    case AccessOp::kApprove:
    case AccessOp::kRefuse:
      if (!exists) return NotFound(ref.missing + " and no request for it");
      if (state != kAccessPending) {
        return FailedPrecondition(ref.what + " is " + std::string(state) +
                                  ": only a pending request can be " +
                                  (op == AccessOp::kApprove ? "approved" : "refused"));
      }
      return Status::Ok();
    case AccessOp::kRevoke:
      if (!exists) return NotFound(ref.missing);
      if (state == kAccessRevoked) return FailedPrecondition(ref.what + " is already revoked");
      if (state == kAccessRefused) {
        return FailedPrecondition(ref.what + " was refused: there is nothing to revoke");
      }
      return Status::Ok();
  }
  return Status::Ok();
}

Status BindEndpoint(store::Statement& stmt, int index, const std::string& endpoint) {
  return endpoint.empty() ? stmt.BindNull(index) : stmt.Bind(index, endpoint);
}

// Applies `change` to the access `ref` names, in the caller's transaction.
Status ApplyAccessChange(store::Database& db, const AccessRef& ref, const AccessChange& change,
                         int64_t now) {
  const std::string table(ref.table);
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement find,
      db.Prepare("SELECT id, state FROM " + table + " WHERE " + std::string(ref.owner_column) +
                 " = ? AND " + std::string(ref.target_column) + " = ?"));
  GOVESB_RETURN_IF_ERROR(find.Bind(1, ref.system_id));
  GOVESB_RETURN_IF_ERROR(find.Bind(2, ref.target_id));
  GOVESB_ASSIGN_OR_RETURN(bool exists, find.Step());
  const int64_t id = exists ? find.ColumnInt64(0) : 0;
  const std::string state = exists ? find.ColumnText(1) : std::string();
  GOVESB_RETURN_IF_ERROR(CheckTransition(ref, state, change.op));

  const bool request = change.op == AccessOp::kRequest;
  const std::string_view new_state = NewState(change.op);
  if (!exists) {
    // Only kGive and kRequest get here.
    const bool with_endpoint = ref.table == "subscriptions";
    std::string sql = "INSERT INTO " + table + "(" + std::string(ref.owner_column) + ", " +
                      std::string(ref.target_column) +
                      ", state, created_at, updated_at, requested_by, purpose, requested_at,"
                      " decided_by, reason, decided_at" +
                      (with_endpoint ? ", endpoint" : "") +
                      ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" + (with_endpoint ? ", ?" : "") +
                      ")";
    GOVESB_ASSIGN_OR_RETURN(store::Statement insert, db.Prepare(sql));
    GOVESB_RETURN_IF_ERROR(insert.Bind(1, ref.system_id));
    GOVESB_RETURN_IF_ERROR(insert.Bind(2, ref.target_id));
    GOVESB_RETURN_IF_ERROR(insert.Bind(3, new_state));
    GOVESB_RETURN_IF_ERROR(insert.Bind(4, now));
    GOVESB_RETURN_IF_ERROR(insert.Bind(5, now));
    GOVESB_RETURN_IF_ERROR(insert.Bind(6, request ? change.by : std::string()));
    GOVESB_RETURN_IF_ERROR(insert.Bind(7, request ? change.text : std::string()));
    GOVESB_RETURN_IF_ERROR(insert.Bind(8, request ? now : int64_t{0}));
    GOVESB_RETURN_IF_ERROR(insert.Bind(9, request ? std::string() : change.by));
    GOVESB_RETURN_IF_ERROR(insert.Bind(10, request ? std::string() : change.text));
    GOVESB_RETURN_IF_ERROR(insert.Bind(11, request ? int64_t{0} : now));
    if (with_endpoint)
      GOVESB_RETURN_IF_ERROR(BindEndpoint(insert, 12, change.endpoint.value_or("")));
    return insert.Run();
  }
  // A request starts a new round: the previous decision is cleared. A decision keeps the
  // request it answers.
  std::string sql = "UPDATE " + table + " SET state = ?, updated_at = ?, " +
                    (request ? "requested_by = ?, purpose = ?, requested_at = ?, decided_by = '',"
                               " reason = '', decided_at = 0"
                             : "decided_by = ?, reason = ?, decided_at = ?") +
                    (change.endpoint ? ", endpoint = ?" : "") + " WHERE id = ?";
  GOVESB_ASSIGN_OR_RETURN(store::Statement update, db.Prepare(sql));
  GOVESB_RETURN_IF_ERROR(update.Bind(1, new_state));
  GOVESB_RETURN_IF_ERROR(update.Bind(2, now));
  GOVESB_RETURN_IF_ERROR(update.Bind(3, change.by));
  GOVESB_RETURN_IF_ERROR(update.Bind(4, change.text));
  GOVESB_RETURN_IF_ERROR(update.Bind(5, now));
  int next = 6;
  if (change.endpoint) GOVESB_RETURN_IF_ERROR(BindEndpoint(update, next++, *change.endpoint));
  GOVESB_RETURN_IF_ERROR(update.Bind(next, id));
  return update.Run();
}

// The change an operation asks for, validated: requests need a requester and a purpose,
// refusals a reason; every text is bounded.
Result<AccessChange> MakeChange(AccessOp op, std::string_view by, std::string_view text) {
  AccessChange change;
  change.op = op;
  if (op == AccessOp::kRequest) {
    if (by.empty()) return InvalidArgument("a request must name the account asking");
    GOVESB_ASSIGN_OR_RETURN(change.text,
                            NormalizeText(text, "the purpose of the request", kMaxReasonBytes,
                                          /*required=*/true));
  } else {
    GOVESB_ASSIGN_OR_RETURN(change.text, NormalizeText(text, "the reason", kMaxReasonBytes,
                                                       /*required=*/op == AccessOp::kRefuse));
  }
  if (by.size() > 320) return InvalidArgument("the account name is longer than 320 bytes");
  change.by = std::string(by);
  return change;
}

}  // namespace

// ---- grants ----

namespace {

struct GrantEnds {
  System consumer;
  Api api;
  AccessRef ref;
};

Result<GrantEnds> FindGrantEnds(store::Database& db, std::string_view consumer_client_id,
                                std::string_view api_code) {
  GOVESB_ASSIGN_OR_RETURN(System consumer,
                          internal::MustFindSystem(db, consumer_client_id, "consumer system"));
  GOVESB_ASSIGN_OR_RETURN(Api api, internal::MustFindApi(db, api_code));
  AccessRef ref{
      .table = "grants",
      .owner_column = "consumer_system_id",
      .target_column = "api_id",
      .system_id = consumer.id,
      .target_id = api.id,
      .what = "the grant of API " + Quoted(api_code) + " to system " + Quoted(consumer_client_id),
      .missing =
          "system " + Quoted(consumer_client_id) + " has no grant for API " + Quoted(api_code),
      .already = "system " + Quoted(consumer_client_id) +
                 " already has an approved grant for API " + Quoted(api_code)};
  return GrantEnds{std::move(consumer), std::move(api), std::move(ref)};
}

Result<Grant> ChangeGrant(store::Database& db, int64_t now, std::string_view consumer_client_id,
                          std::string_view api_code, Result<AccessChange> change) {
  if (!change.ok()) return change.status();
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  GOVESB_ASSIGN_OR_RETURN(GrantEnds ends, FindGrantEnds(db, consumer_client_id, api_code));
  GOVESB_RETURN_IF_ERROR(ApplyAccessChange(db, ends.ref, *change, now));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Grant> grant,
                          internal::FindGrant(db, ends.consumer.id, ends.api.id));
  if (!grant.has_value()) return Internal("grant vanished inside its own transaction");
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return std::move(*grant);
}

}  // namespace

Result<Grant> Registry::AddGrant(std::string_view consumer_client_id, std::string_view api_code,
                                 const AccessDecision& decision) {
  return ChangeGrant(db_, Now(), consumer_client_id, api_code,
                     MakeChange(AccessOp::kGive, decision.decided_by, decision.reason));
}

Result<Grant> Registry::RevokeGrant(std::string_view consumer_client_id, std::string_view api_code,
                                    const AccessDecision& decision) {
  return ChangeGrant(db_, Now(), consumer_client_id, api_code,
                     MakeChange(AccessOp::kRevoke, decision.decided_by, decision.reason));
}

Result<Grant> Registry::RequestGrant(std::string_view consumer_client_id, std::string_view api_code,
                                     const AccessRequest& request) {
  return ChangeGrant(db_, Now(), consumer_client_id, api_code,
                     MakeChange(AccessOp::kRequest, request.requested_by, request.purpose));
}

Result<Grant> Registry::ApproveGrantRequest(std::string_view consumer_client_id,
                                            std::string_view api_code,
                                            const AccessDecision& decision) {
  return ChangeGrant(db_, Now(), consumer_client_id, api_code,
                     MakeChange(AccessOp::kApprove, decision.decided_by, decision.reason));
}

Result<Grant> Registry::RefuseGrantRequest(std::string_view consumer_client_id,
                                           std::string_view api_code,
                                           const AccessDecision& decision) {
  return ChangeGrant(db_, Now(), consumer_client_id, api_code,
                     MakeChange(AccessOp::kRefuse, decision.decided_by, decision.reason));
}

Status ValidatePurposes(const std::vector<Purpose>& purposes) {
  if (purposes.size() > kMaxPurposesPerGrant) {
    return InvalidArgument("a grant allows at most " + std::to_string(kMaxPurposesPerGrant) +
                           " purposes, not " + std::to_string(purposes.size()));
  }
  for (size_t i = 0; i < purposes.size(); ++i) {
    const Purpose& p = purposes[i];
    GOVESB_RETURN_IF_ERROR(ValidatePurposeCode(p.code));
    if (p.text.empty() || p.text.size() > 200 ||
        p.text.find_first_of("\t\r\n") != std::string::npos) {
      return InvalidArgument("the text of purpose " + p.code +
                             " must be one line of 1 to 200 characters");
    }
    for (size_t j = 0; j < i; ++j) {
      if (purposes[j].code == p.code) {
        return InvalidArgument("purpose " + p.code + " is given twice");
      }
    }
  }
  return Status::Ok();
}

Result<Grant> Registry::SetGrantPurposes(std::string_view consumer_client_id,
                                         std::string_view api_code,
                                         const std::vector<Purpose>& purposes, bool required) {
  GOVESB_RETURN_IF_ERROR(ValidatePurposes(purposes));
  if (required && purposes.empty()) {
    return InvalidArgument("a grant that requires a purpose must allow at least one");
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(GrantEnds ends, FindGrantEnds(db_, consumer_client_id, api_code));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Grant> grant,
                          internal::FindGrant(db_, ends.consumer.id, ends.api.id));
  if (!grant.has_value()) return NotFound(ends.ref.missing);
  GOVESB_ASSIGN_OR_RETURN(
      store::Statement stmt,
      db_.Prepare("UPDATE grants SET purposes = ?, purpose_required = ?, updated_at = ?"
                  " WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, internal::FormatPurposes(purposes)));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, int64_t{required ? 1 : 0}));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(3, Now()));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(4, grant->id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(std::optional<Grant> updated,
                          internal::FindGrant(db_, ends.consumer.id, ends.api.id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return *updated;
}

Result<Grant> Registry::SetGrantFields(std::string_view consumer_client_id,
                                       std::string_view api_code,
                                       const std::vector<std::string>& fields) {
  if (!fields.empty()) {
    GOVESB_RETURN_IF_ERROR(minimise::FieldAllowList::Compile(fields).status());
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db_));
  GOVESB_ASSIGN_OR_RETURN(GrantEnds ends, FindGrantEnds(db_, consumer_client_id, api_code));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Grant> grant,
                          internal::FindGrant(db_, ends.consumer.id, ends.api.id));
  if (!grant.has_value()) return NotFound(ends.ref.missing);
  GOVESB_ASSIGN_OR_RETURN(store::Statement stmt,
                          db_.Prepare("UPDATE grants SET fields = ?, updated_at = ? WHERE id = ?"));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(1, internal::FormatFieldLines(fields)));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(2, Now()));
  GOVESB_RETURN_IF_ERROR(stmt.Bind(3, grant->id));
  GOVESB_RETURN_IF_ERROR(stmt.Run());
  GOVESB_ASSIGN_OR_RETURN(std::optional<Grant> updated,
                          internal::FindGrant(db_, ends.consumer.id, ends.api.id));
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return *updated;
}

Result<Grant> Registry::GetGrant(std::string_view consumer_client_id, std::string_view api_code) {
  GOVESB_ASSIGN_OR_RETURN(GrantEnds ends, FindGrantEnds(db_, consumer_client_id, api_code));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Grant> grant,
                          internal::FindGrant(db_, ends.consumer.id, ends.api.id));
  if (!grant.has_value()) return NotFound(ends.ref.missing);
  return std::move(*grant);
}

Result<std::vector<Grant>> Registry::ListGrants(std::string_view state) {
  GOVESB_RETURN_IF_ERROR(ValidateAccessState(state));
  GOVESB_ASSIGN_OR_RETURN(std::vector<Grant> all, internal::SelectGrants(db_));
  if (state.empty()) return all;
  std::vector<Grant> out;
  for (Grant& g : all) {
    if (g.state == state) out.push_back(std::move(g));
  }
  return out;
}

// ---- subscriptions ----

namespace {

struct SubscriptionEnds {
  System subscriber;
  Topic topic;
  AccessRef ref;
};

Result<SubscriptionEnds> FindSubscriptionEnds(store::Database& db,
                                              std::string_view subscriber_client_id,
                                              std::string_view topic_code) {
  GOVESB_ASSIGN_OR_RETURN(System subscriber,
                          internal::MustFindSystem(db, subscriber_client_id, "subscriber system"));
  GOVESB_ASSIGN_OR_RETURN(Topic topic, internal::MustFindTopic(db, topic_code));
  AccessRef ref{.table = "subscriptions",
                .owner_column = "subscriber_system_id",
                .target_column = "topic_id",
                .system_id = subscriber.id,
                .target_id = topic.id,
                .what = "the subscription of system " + Quoted(subscriber_client_id) +
                        " to topic " + Quoted(topic_code),
                .missing = "system " + Quoted(subscriber_client_id) +
                           " has no subscription to topic " + Quoted(topic_code),
                .already = "system " + Quoted(subscriber_client_id) +
                           " already has an approved subscription to topic " + Quoted(topic_code)};
  return SubscriptionEnds{std::move(subscriber), std::move(topic), std::move(ref)};
}

Result<Subscription> ChangeSubscription(store::Database& db, int64_t now,
                                        std::string_view subscriber_client_id,
                                        std::string_view topic_code, Result<AccessChange> change) {
  if (!change.ok()) return change.status();
  if (change->endpoint && !change->endpoint->empty()) {
    GOVESB_RETURN_IF_ERROR(ValidateEndpoint(*change->endpoint));
  }
  GOVESB_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  GOVESB_ASSIGN_OR_RETURN(SubscriptionEnds ends,
                          FindSubscriptionEnds(db, subscriber_client_id, topic_code));
  GOVESB_RETURN_IF_ERROR(ApplyAccessChange(db, ends.ref, *change, now));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Subscription> subscription,
                          internal::FindSubscription(db, ends.subscriber.id, ends.topic.id));
  if (!subscription.has_value()) {
    return Internal("subscription vanished inside its own transaction");
  }
  GOVESB_RETURN_IF_ERROR(txn.Commit());
  return std::move(*subscription);
}

Result<AccessChange> WithEndpoint(Result<AccessChange> change, std::string_view endpoint) {
  if (change.ok()) change->endpoint = std::string(endpoint);
  return change;
}

}  // namespace

Result<Subscription> Registry::AddSubscription(std::string_view subscriber_client_id,
                                               std::string_view topic_code,
                                               std::string_view endpoint_override,
                                               const AccessDecision& decision) {
  return ChangeSubscription(
      db_, Now(), subscriber_client_id, topic_code,
      WithEndpoint(MakeChange(AccessOp::kGive, decision.decided_by, decision.reason),
                   endpoint_override));
}

Result<Subscription> Registry::RevokeSubscription(std::string_view subscriber_client_id,
                                                  std::string_view topic_code,
                                                  const AccessDecision& decision) {
  return ChangeSubscription(db_, Now(), subscriber_client_id, topic_code,
                            MakeChange(AccessOp::kRevoke, decision.decided_by, decision.reason));
}

Result<Subscription> Registry::RequestSubscription(std::string_view subscriber_client_id,
                                                   std::string_view topic_code,
                                                   const AccessRequest& request,
                                                   std::string_view endpoint_override) {
  return ChangeSubscription(
      db_, Now(), subscriber_client_id, topic_code,
      WithEndpoint(MakeChange(AccessOp::kRequest, request.requested_by, request.purpose),
                   endpoint_override));
}

Result<Subscription> Registry::ApproveSubscriptionRequest(std::string_view subscriber_client_id,
                                                          std::string_view topic_code,
                                                          const AccessDecision& decision) {
  return ChangeSubscription(db_, Now(), subscriber_client_id, topic_code,
                            MakeChange(AccessOp::kApprove, decision.decided_by, decision.reason));
}

Result<Subscription> Registry::RefuseSubscriptionRequest(std::string_view subscriber_client_id,
                                                         std::string_view topic_code,
                                                         const AccessDecision& decision) {
  return ChangeSubscription(db_, Now(), subscriber_client_id, topic_code,
                            MakeChange(AccessOp::kRefuse, decision.decided_by, decision.reason));
}

Result<Subscription> Registry::GetSubscription(std::string_view subscriber_client_id,
                                               std::string_view topic_code) {
  GOVESB_ASSIGN_OR_RETURN(SubscriptionEnds ends,
                          FindSubscriptionEnds(db_, subscriber_client_id, topic_code));
  GOVESB_ASSIGN_OR_RETURN(std::optional<Subscription> subscription,
                          internal::FindSubscription(db_, ends.subscriber.id, ends.topic.id));
  if (!subscription.has_value()) return NotFound(ends.ref.missing);
  return std::move(*subscription);
}

Result<std::vector<Subscription>> Registry::ListSubscriptions(std::string_view state) {
  GOVESB_RETURN_IF_ERROR(ValidateAccessState(state));
  GOVESB_ASSIGN_OR_RETURN(std::vector<Subscription> all, internal::SelectSubscriptions(db_));
  if (state.empty()) return all;
  std::vector<Subscription> out;
  for (Subscription& s : all) {
    if (s.state == state) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace govesb::registry
