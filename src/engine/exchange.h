#pragma once

// The state of one exchange as it passes the stages of the pipeline (stages.h): each stage
// reads what earlier stages found and adds what it finds. One ExchangeContext per request,
// owned by the coroutine serving it; never shared between threads.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/trace_context.h"
#include "crypto/primitives.h"
#include "engine/refusal.h"
#include "evidence/record.h"
#include "http/types.h"
#include "registry/snapshot.h"
#include "traffic/counters.h"
#include "wire/envelope.h"

namespace govesb::engine {

// What an exchange is, decided by the classify stage from the members of `data`.
enum class Kind { kPull, kNida, kPush, kAsyncAnswer };

// "request", "nida-request", "push", "async".
std::string_view KindName(Kind k);

// Everything known about one exchange, for its one log line. Untrusted fields (codes, user
// ids, messages that quote them) are escaped when written, never before.
struct ExchangeLog {
  std::string request_id;
  std::string_view kind = "-";
  std::string consumer = "-";
  std::string api = "-";
  std::string provider = "-";
  std::string user_id;
  // The purpose code the request declared (authorise checked it against its grant), "" none.
  std::string purpose;
  // The answer fields withheld from the consumer under its grant's allow-list, as the JSON
  // array of the evidence member (minimise::Withheld::ToJson); "" none. Set before the last
  // record (the response), so only that record carries it.
  std::string withheld;
  std::string_view signature_variant = "-";
  // Set when the same signed bytes were seen before within the replay window.
  std::string replay_of;
  // What the operator should know and the consumer should not (a provider's address, its
  // HTTP status, the transport's own words).
  std::string detail;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // The time the provider took to answer (from the call to its answer), -1 when not called.
  int64_t provider_us = -1;
  // The bus's hop of the exchange's W3C trace (continued from the consumer's traceparent, or
  // started): passed on to the provider or subscribers, logged, and in every evidence record.
  std::optional<TraceContext> trace;
  // Whether a successful exchange gets a line (serve --access-log); failures always do.
  bool log_success = false;

  std::string_view traceparent() const { return trace ? trace->traceparent() : std::string_view(); }

  void Write(int http_status, const Status& outcome) const;
};

// The evidence of one exchange, collected step by step and written before the answer leaves.
struct ExchangeEvidence {
  // The records' texts, made as each step happens (no copy of its fields is kept).
  evidence::PreparedRecords records;
  // False when the bus runs without an evidence log (`serve --no-evidence`): then no record
  // is made at all, not even the hashes of the bodies and signatures.
  bool enabled = true;
  bool stored = false;  // already written together with the message (push, async answer)
  bool request_recorded = false;
  bool refused = false;  // the answer is a refusal made by the bus (carries nothing else)
  // Set for an API with store_bodies: the bodies the parties send (the request, the reply)
  // are kept, encrypted under this key.
  const std::string* body_key = nullptr;

  // One record: `data` is the signed text (its SHA-256 is made unless given), `signature` its
  // signature, `variant` the signature variant that verified it ("" for the bus's own).
  void Add(std::string_view kind, const ExchangeLog& log, std::string_view from,
           std::string_view to, const Status& outcome, int64_t at_ms, std::string_view data,
           std::string_view signature, int64_t size,
           const crypto::Sha256Digest* data_sha256 = nullptr,
           std::string_view signature_variant = {});
};

struct ExchangeContext {
  explicit ExchangeContext(http::HttpRequest& r) : request(r), format(FormatOf(r.content_type)) {}

  http::HttpRequest& request;
  Format format;  // of the request, and so of the answer
  int64_t started_ms = 0;
  size_t request_size = 0;
  ExchangeLog log;
  ExchangeEvidence evidence;
  // The consumer's tracestate, passed on with the trace when its traceparent was valid and it
  // is passable (base/trace_context.h); a view into the request's headers.
  std::string_view tracestate;

  // parse
  std::optional<wire::IncomingEnvelope> envelope;
  // authenticate: the registry as it was when the exchange began, and the caller in it.
  std::shared_ptr<const registry::Snapshot> snapshot;
  const registry::System* caller = nullptr;
  // classify
  Kind kind = Kind::kPull;
  std::string push_code;
  std::string api_code;
  std::string answered_request_id;  // an asynchronous answer's requestId member
  // admit: when refused for a rate limit, the seconds for Retry-After.
  int64_t retry_after_seconds = 0;
  // verify
  crypto::Sha256Digest data_sha256{};  // of envelope->data_raw
  bool verified = false;
  wire::SignatureVariant variant = wire::SignatureVariant::kRaw;
  // authorise
  const registry::Api* api = nullptr;
  const registry::System* provider = nullptr;
  const registry::Topic* topic = nullptr;
  // A pull's approved grant (kept alive by `snapshot`): purposes and field allow-list.
  const registry::Snapshot::GrantTerms* grant = nullptr;
  // replay: this exchange's signed bytes were recorded in the replay window (so a failed
  // exchange can take them out again).
  bool replay_recorded = false;
  // deliver: an asynchronous API's awaited answer is recorded (a failure cancels it).
  bool awaiting_answer = false;
  // For the traffic counters: where the exchange is (kStoring while a durable write is
  // awaited, kProvider from the call to the provider on), how it ended, and the time spent
  // waiting for the provider.
  traffic::Phase phase = traffic::Phase::kChecks;
  StatusCode outcome = StatusCode::kOk;
  int64_t provider_us = 0;
};

}  // namespace govesb::engine
