#pragma once

// A thin RAII layer over the NATS C client (cnats, Debian's libnats) for cluster mode: one
// connection to a NATS cluster with JetStream, streams and durable pull consumers ensured
// idempotently, publishes acknowledged by the stream, fetched messages with their JetStream
// metadata and acknowledgements, and core NATS subjects (advisories, change fan-out). Errors are
// Status values mapped from cnats statuses and JetStream error codes. Nothing here knows a subject
// or a message of the bus.
//
// Threading (from cnats' sources and headers, 3.4.1):
// - A Connection is thread-safe: Publish, Ensure*, Get*, Core* may be called from any thread at
//   once (cnats locks the connection; the JetStream context's options are immutable after
//   creation). They block the calling thread for up to their timeout: never call them on an I/O
//   thread.
// - A PullConsumer (one cnats pull subscription, with one reply inbox) belongs to one thread at a
//   time: two Fetch calls on it at once would take each other's messages and status replies.
//   Give each worker thread its own PullConsumer; any number may bind to the same durable.
// - A Message belongs to one thread at a time (cnats headers are not thread-safe); it keeps its
//   subscription alive, so it may outlive the PullConsumer that fetched it and be acknowledged
//   from another thread after being handed over.
// - The Connection must outlive its PullConsumers, Subscriptions and Messages.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __jsCtx;

namespace govesb::nats {

using std::chrono::milliseconds;

struct ConnectionOptions {
  // Shown by the servers (connz) and in their logs.
  std::string name = "govesb";
  // Per attempt to open a TCP connection to one server.
  milliseconds connect_timeout{2'000};
  // Between rounds of reconnect attempts; the connection reconnects forever.
  milliseconds reconnect_wait{250};
  // Default wait for JetStream API calls, publish acknowledgements and synchronous acks.
  milliseconds request_timeout{5'000};
};

enum class Retention { kLimits, kWorkQueue };

struct StreamConfig {
  std::string name;                   // letters, digits, - and _ (no . * > or spaces)
  std::vector<std::string> subjects;  // at least one; wildcards allowed
  int replicas = 3;                   // 1..5; 3 survives the loss of one server
  Retention retention = Retention::kWorkQueue;
  milliseconds max_age{0};                 // 0: unlimited
  milliseconds duplicate_window{120'000};  // Nats-Msg-Id dedup window
  int64_t max_bytes = -1;                  // -1: unlimited
  int32_t max_msg_size = 8 << 20;          // bytes per message
};

struct ConsumerConfig {
  std::string durable;         // the consumer's name: letters, digits, - and _
  std::string filter_subject;  // "" for every subject of the stream
  milliseconds ack_wait{30'000};
  int64_t max_deliver = -1;  // -1: unlimited; must exceed backoff.size() when backoff is set
  // Redelivery delays after an ack wait expiry, by delivery attempt (the last repeats); when set
  // the server uses backoff[0] as the first ack wait instead of ack_wait.
  std::vector<milliseconds> backoff;
  int64_t max_ack_pending = 1'000;
};

struct PubAck {
  std::string stream;
  uint64_t sequence = 0;
  bool duplicate = false;  // the stream already held a message with this Nats-Msg-Id
};

struct StreamInfo {
  uint64_t messages = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  int replicas = 0;
  std::string leader;  // the server leading the stream's group ("" without a cluster)
  int64_t max_age_ms = 0;
};

struct ConsumerInfo {
  uint64_t num_pending = 0;     // not yet delivered
  int64_t num_ack_pending = 0;  // delivered, not yet acknowledged
  int64_t num_redelivered = 0;  // delivered more than once, not yet acknowledged
  int64_t num_waiting = 0;      // outstanding pull requests
  uint64_t ack_floor_stream_sequence = 0;
  int64_t ack_wait_ms = 0;
  int64_t max_deliver = 0;
};

// A message as stored in a stream (read by sequence: dead letters, inspection).
struct StoredMessage {
  std::string subject;
  std::string data;
  std::string msg_id;  // its Nats-Msg-Id header, "" without one
  uint64_t sequence = 0;
};

namespace internal {
struct SubscriptionFree {
  void operator()(__natsSubscription* sub) const;
};
struct MsgFree {
  void operator()(__natsMsg* msg) const;
};
using SharedSubscription = std::shared_ptr<__natsSubscription>;
}  // namespace internal

// One message fetched from a pull consumer, with its JetStream metadata. Move-only. Each
// acknowledgement waits for the server's confirmation (request_timeout of the Connection):
// when it returns ok the server has applied it.
class Message {
 public:
  Message(Message&&) noexcept = default;
  Message& operator=(Message&& other) noexcept;
  ~Message();

  std::string_view subject() const;
  std::string_view data() const;
  // A header's value; nullopt when absent.
  std::optional<std::string> Header(const char* key) const;
  // The publisher's Nats-Msg-Id, "" without one.
  std::string msg_id() const;
  // 1 on the first delivery, 2 on the first redelivery ...
  uint64_t delivery_count() const { return delivery_count_; }
  uint64_t stream_sequence() const { return stream_sequence_; }
  // Messages still pending for the consumer after this one, at delivery.
  uint64_t pending() const { return pending_; }
  // When the stream stored it (nanoseconds since the epoch).
  int64_t timestamp_ns() const { return timestamp_ns_; }

  // Done: a work-queue stream removes the message.
  Status Ack();
  // Deliver again, after `delay` (0: at once). Counts as a delivery attempt.
  Status Nak(milliseconds delay = milliseconds{0});
  // Never deliver again, whatever max_deliver says.
  Status Term();
  // Still working on it: restarts the ack wait. May be repeated.
  Status InProgress();

 private:
  friend class PullConsumer;
  Message(internal::SharedSubscription sub, __natsMsg* msg, int64_t wait_ms);
  Status Acknowledge(int kind, milliseconds delay);

  internal::SharedSubscription sub_;  // the message points into it: keep it alive
  std::unique_ptr<__natsMsg, internal::MsgFree> msg_;
  int64_t wait_ms_ = 0;
  uint64_t delivery_count_ = 0;
  uint64_t stream_sequence_ = 0;
  uint64_t pending_ = 0;
  int64_t timestamp_ns_ = 0;
};

// A subscription bound to a durable pull consumer. One thread at a time (see the top).
class PullConsumer {
 public:
  ~PullConsumer();
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Up to `batch` (1..1000) messages, waiting up to `timeout` (> 0) for the first; fewer when
  // the consumer has no more now. An empty vector when nothing came within the timeout.
  Result<std::vector<Message>> Fetch(int batch, milliseconds timeout);

  const std::string& stream() const { return stream_; }
  const std::string& durable() const { return durable_; }

 private:
  friend class Connection;
  PullConsumer(internal::SharedSubscription sub, std::string stream, std::string durable,
               int64_t wait_ms)
      : sub_(std::move(sub)),
        stream_(std::move(stream)),
        durable_(std::move(durable)),
        wait_ms_(wait_ms) {}

  internal::SharedSubscription sub_;
  std::string stream_;
  std::string durable_;
  int64_t wait_ms_;
};

// A core NATS subscription (no JetStream): advisories, change notifications. At-most-once: a
// message published while nobody listens, or during a reconnect, is gone. One thread at a time.
class Subscription {
 public:
  struct Received {
    std::string subject;
    std::string data;
  };
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next message, waiting up to `timeout`; kDeadlineExceeded when none came.
  Result<Received> Next(milliseconds timeout);

 private:
  friend class Connection;
  explicit Subscription(__natsSubscription* sub) : sub_(sub) {}
  std::unique_ptr<__natsSubscription, internal::SubscriptionFree> sub_;
};

class Connection {
 public:
  // Connects to one of `urls` ("nats://host:port"), 1..32 of them; kUnavailable when none
  // answers. Afterwards the connection reconnects forever (every reconnect_wait) to any server
  // of the cluster, and requests in flight when it drops fail at once with kUnavailable.
  static Result<std::unique_ptr<Connection>> Open(std::vector<std::string> urls,
                                                  ConnectionOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Creates the stream, or updates it to `config` (idempotent). Retention and storage cannot
  // change once created (kInvalidArgument); replicas can.
  Status EnsureStream(const StreamConfig& config);
  Status DeleteStream(std::string_view stream);
  Result<StreamInfo> GetStreamInfo(std::string_view stream);

  // Publishes to a stream's subject and returns once the stream acknowledged it: stored, and for
  // R3 on a quorum of its servers. With `msg_id` (Nats-Msg-Id) a repeat within the stream's
  // duplicate window is acknowledged as a duplicate and stored once: after kDeadlineExceeded or
  // kUnavailable the outcome is unknown, and publishing again with the same id is safe.
  // `timeout` 0: the connection's request_timeout. Payload up to the stream's max_msg_size.
  Result<PubAck> Publish(std::string_view subject, std::string_view payload,
                         std::string_view msg_id = {}, milliseconds timeout = milliseconds{0});

  // Creates the durable pull consumer (explicit acks, deliver all), or updates it (idempotent).
  // The filter subject cannot change once created.
  Status EnsureConsumer(std::string_view stream, const ConsumerConfig& config);
  Status DeleteConsumer(std::string_view stream, std::string_view durable);
  Result<ConsumerInfo> GetConsumerInfo(std::string_view stream, std::string_view durable);
  // A subscription bound to an existing durable pull consumer (kNotFound if it is not there).
  Result<std::unique_ptr<PullConsumer>> Pull(std::string_view stream, std::string_view durable);

  // A stored message by stream sequence (kNotFound when acked away, deleted or never stored).
  Result<StoredMessage> GetMessage(std::string_view stream, uint64_t sequence);
  Status DeleteMessage(std::string_view stream, uint64_t sequence);

  // Core NATS: fire-and-forget publish (flushed), and a subscription to a subject (wildcards
  // allowed). JetStream advisories arrive on "$JS.EVENT.ADVISORY.>", for example
  // "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<durable>" when a message reached
  // max_deliver (its JSON names the stream_seq; the message stays in the stream).
  Status CorePublish(std::string_view subject, std::string_view payload);
  Result<std::unique_ptr<Subscription>> CoreSubscribe(std::string_view subject);

  // Connected now (false while reconnecting).
  bool connected() const;
  // The server currently connected to ("" while reconnecting).
  std::string connected_url() const;

 private:
  Connection() = default;

  __natsConnection* conn_ = nullptr;
  __jsCtx* js_ = nullptr;
  int64_t wait_ms_ = 5'000;
};

// How a cnats status (and JetStream error code, 0 if none) maps to a Status, with `what` and
// cnats' own words in the message. Exposed for the adapters and tests.
Status StatusFromNats(int nats_status, int js_error_code, std::string_view what);

}  // namespace govesb::nats
