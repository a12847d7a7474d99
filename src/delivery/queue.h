#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "evidence/record.h"

namespace govesb::delivery {

// The durable delivery queue: the seam between the bus's delivery machinery (Dispatcher) and
// where deliveries are kept. The embedded implementation (SqliteDeliveryQueue) keeps them in
// the data directory's SQLite file with group commit; the cluster's (PgDeliveryQueue, the same
// code on PostgreSQL, pg_queue.h; NATS JetStream only wakes lanes up) takes its place without
// touching the engine or the dispatcher.
//
// Vocabulary: a *message* is one signed envelope the bus must hand out (a push, or an
// asynchronous answer); a *delivery* is that message for one recipient. Deliveries of one
// *lane* (one subscription, or one consumer's callbacks) are handed out in the order they were
// accepted.

enum class MessageKind { kPush, kAsyncAnswer };
std::string_view MessageKindName(MessageKind kind);  // "push" | "async"

enum class DeliveryState { kPending, kDelivered, kDead };
std::string_view DeliveryStateName(DeliveryState state);  // "pending" | "delivered" | "dead"
std::optional<DeliveryState> ParseDeliveryState(std::string_view name);

struct Recipient {
  std::string lane;              // ordering key, e.g. "sub:12" or "cb:7"
  int64_t subscription_id = 0;   // push: the subscription (0 otherwise)
  int64_t target_system_id = 0;  // the receiving system
};

// Settling an awaited asynchronous answer, checked in the same transaction that stores it.
struct AnswerClaim {
  std::string request_id;          // of the original request
  int64_t provider_system_id = 0;  // who is answering; must be who the request went to
  int64_t now_ms = 0;
  // Once the claim holds, called with the apiCode of the answered request: an error refuses
  // the answer (nothing is stored and the request stays unanswered) and is what the provider is
  // told. Runs on the store's writer, inside its transaction: keep it short (the engine checks
  // the API's response contract here). Empty: no check.
  std::function<Status(std::string_view api_code)> check = {};
};

struct NewMessage {
  MessageKind kind = MessageKind::kPush;
  std::string request_id;             // 32 hex; for an async answer, the original request's
  std::string code;                   // pushCode, or the apiCode of an async answer
  int64_t source_system_id = 0;       // publisher, or answering provider
  std::string envelope;               // the signed bytes every recipient receives
  std::vector<Recipient> recipients;  // push; for an async answer, filled from the claim
  std::optional<AnswerClaim> claim;   // async answer only
  int64_t created_at_ms = 0;
  // The W3C traceparent of the bus's hop of the exchange that made it, sent with every
  // delivery ("" for none).
  std::string traceparent = std::string();
  // Evidence of the acceptance, stored in the same transaction as the message: both or
  // neither.
  evidence::PreparedRecords evidence;
};

// An awaited asynchronous answer: recorded before the request is delivered to its provider.
struct AwaitedAnswer {
  std::string request_id;
  std::string api_code;
  int64_t consumer_system_id = 0;
  int64_t provider_system_id = 0;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// A delivery as the dispatcher schedules it.
struct PendingDelivery {
  int64_t id = 0;
  int64_t message_id = 0;
  MessageKind kind = MessageKind::kPush;
  std::string request_id;
  std::string code;
  std::string lane;
  int64_t subscription_id = 0;
  int64_t target_system_id = 0;
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  int64_t created_at_ms = 0;
  std::string traceparent = std::string();  // of its message ("" for none)
  // The signed envelope when at hand (just accepted); null: LoadEnvelope(message_id).
  std::shared_ptr<const std::string> envelope;
};

// One try to deliver.
struct Attempt {
  int64_t at_ms = 0;
  std::string outcome;  // "ok", "unreachable", "timeout", "bad_gateway", "refused",
                        // "bad_signature", "undeliverable"
  int http_status = 0;  // 0 when no HTTP answer
  int64_t latency_us = 0;
  std::string error;  // "" when ok
  // Evidence of the attempt (the delivery sent, the receipt answered), stored with its outcome.
  std::vector<evidence::Record> evidence;
};

// A delivery as operators see it.
struct DeliveryInfo {
  int64_t id = 0;
  std::string request_id;
  MessageKind kind = MessageKind::kPush;
  std::string code;
  int64_t target_system_id = 0;
  std::string target_client_id;
  int64_t subscription_id = 0;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  std::string last_error;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;

  using EnqueueDone = std::function<void(Status, std::vector<PendingDelivery>)>;
  // The bus's durable unit: the message, one pending delivery per recipient and the message's
  // acceptance evidence (message.evidence) are made durable together, or none of them is.
  // `done` runs (on any thread, quickly) once they are durable, with the deliveries created, or
  // with the reason nothing was stored: kNotFound / kFailedPrecondition for an answer claim
  // that does not hold, kAlreadyExists / kInternal for a request id stored before,
  // kUnavailable when the store could not make it durable. A publisher is answered "accepted"
  // only after done(Ok).
  virtual void Enqueue(NewMessage message, EnqueueDone done) = 0;

  // Durably records that `answer.provider_system_id` owes an answer to the request.
  virtual void Await(AwaitedAnswer answer, std::function<void(Status)> done) = 0;
  // The request failed before the provider took it: no answer is owed any more.
  virtual void CancelAwait(std::string request_id) = 0;

  // Pending deliveries with id > after_id, ascending by id, at most `limit`.
  virtual Result<std::vector<PendingDelivery>> LoadPending(int64_t after_id, size_t limit) = 0;
  virtual Result<std::string> LoadEnvelope(int64_t message_id) = 0;

  // Outcomes, each stored with its attempt and the attempt's evidence (attempt.evidence)
  // together. Not awaited: a lost outcome (crash) means one more delivery, never a lost one.
  // An outcome for a delivery that is no longer pending changes nothing but its evidence,
  // which is kept.
  virtual void Ack(int64_t delivery_id, Attempt attempt) = 0;
  virtual void Nack(int64_t delivery_id, Attempt attempt, int64_t next_attempt_at_ms) = 0;
  virtual void DeadLetter(int64_t delivery_id, Attempt attempt) = 0;

  // Bumped whenever deliveries are put back to pending from outside (redeliver); poll it.
  virtual Result<int64_t> RedeliverGeneration() = 0;

  // Forgets, a bounded batch at a time, what is settled and older than `before_ms`: delivered
  // deliveries with their attempts, messages left without deliveries, and awaited answers that
  // were answered, cancelled or expired. Pending and dead deliveries are never pruned.
  virtual void Prune(int64_t before_ms) = 0;

  // Calls `done` once every write submitted before it (outcomes, cancellations, prunes) has
  // been made durable or has failed (such failures are logged where they happen); `done`'s
  // status is kUnavailable when the store is closing or cannot write. For shutdown and tests.
  virtual void Sync(std::function<void(Status)> done) = 0;
};

}  // namespace govesb::delivery
