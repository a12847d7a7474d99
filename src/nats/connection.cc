#include "nats/connection.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstring>

namespace govesb::nats {
namespace {

constexpr int kMaxUrls = 32;
constexpr int kMaxBatch = 1000;
constexpr size_t kMaxNameLength = 200;

int64_t ToNanos(milliseconds d) { return static_cast<int64_t>(d.count()) * 1'000'000; }

// Stream and consumer names become subject tokens of the JetStream API.
bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool ValidSubject(std::string_view subject) {
  if (subject.empty() || subject.size() > 1024) return false;
  return std::none_of(subject.begin(), subject.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '\0';
  });
}

struct StreamInfoFree {
  void operator()(jsStreamInfo* si) const { jsStreamInfo_Destroy(si); }
};
struct ConsumerInfoFree {
  void operator()(jsConsumerInfo* ci) const { jsConsumerInfo_Destroy(ci); }
};
struct PubAckFree {
  void operator()(jsPubAck* pa) const { jsPubAck_Destroy(pa); }
};
struct OptionsFree {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
struct MetaFree {
  void operator()(jsMsgMetaData* m) const { jsMsgMetaData_Destroy(m); }
};

std::string HeaderOf(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return {};
  return value;
}

}  // namespace

Status StatusFromNats(int nats_status, int js_error_code, std::string_view what) {
  auto s = static_cast<natsStatus>(nats_status);
  std::string message(what);
  message += ": ";
  message += natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  // The calling thread's last error, if it is this one (a successful call does not clear it).
  if (last == s && detail != nullptr && *detail != '\0' &&
      std::strcmp(detail, natsStatus_GetText(s)) != 0) {
    message += " (";
    message += detail;
    message += ")";
  }
  if (js_error_code != 0) message += " [JetStream error " + std::to_string(js_error_code) + "]";

  switch (js_error_code) {
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr:
    case JSNoMessageFoundErr:
    case JSSequenceNotFoundErr:
      return NotFound(std::move(message));
    case JSStreamNameExistErr:
    case JSConsumerNameExistErr:
    case JSConsumerExistingActiveErr:
      return AlreadyExists(std::move(message));
    case JSStreamWrongLastMsgIDErr:
    case JSStreamWrongLastSequenceErr:
    case JSStreamSealedErr:
    case JSStreamReplicasNotUpdatableErr:
    case JSStreamReplicasNotSupportedErr:
      return FailedPrecondition(std::move(message));
    case JSClusterNotAvailErr:
    case JSClusterNotLeaderErr:
    case JSClusterNoPeersErr:
    case JSClusterNotActiveErr:
    case JSStreamOfflineErr:
    case JSConsumerOfflineErr:
    case JSNotEnabledErr:
    case JSNotEnabledForAccountErr:
      return Unavailable(std::move(message));
    case JSInsufficientResourcesErr:
    case JSStorageResourcesExceededErr:
    case JSMemoryResourcesExceededErr:
    case JSStreamMessageExceedsMaximumErr:
    case JSStreamStoreFailedErr:
    case JSMaximumStreamsLimitErr:
    case JSMaximumConsumersLimitErr:
    case JSStreamLimitsErr:
      return ResourceExhausted(std::move(message));
    case JSStreamInvalidConfig:
    case JSBadRequestErr:
    case JSStreamSubjectOverlapErr:
    case JSConsumerMaxDeliverBackoffErr:
    case JSConsumerBadDurableNameErr:
    case JSConsumerWQConsumerNotUniqueErr:
    case JSConsumerWQMultipleUnfilteredErr:
    case JSStreamUpdateErr:
      return InvalidArgument(std::move(message));
    default:
      break;
  }
  switch (s) {
    case NATS_TIMEOUT:
      return DeadlineExceeded(std::move(message));
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_NO_RESPONDERS:
    case NATS_NOT_YET_CONNECTED:
    case NATS_DRAINING:
      return Unavailable(std::move(message));
    case NATS_NOT_FOUND:
      return NotFound(std::move(message));
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_TIMEOUT:
    case NATS_ADDRESS_MISSING:
      return InvalidArgument(std::move(message));
    case NATS_MAX_PAYLOAD:
    case NATS_SLOW_CONSUMER:
    case NATS_NO_MEMORY:
      return ResourceExhausted(std::move(message));
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED:
      return PermissionDenied(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

namespace internal {
void SubscriptionFree::operator()(__natsSubscription* sub) const { natsSubscription_Destroy(sub); }
void MsgFree::operator()(__natsMsg* msg) const { natsMsg_Destroy(msg); }
}  // namespace internal

// ---- Connection -------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::Open(std::vector<std::string> urls,
                                                     ConnectionOptions options) {
  if (urls.empty() || urls.size() > kMaxUrls) {
    return InvalidArgument("between 1 and 32 NATS server URLs");
  }
  for (const std::string& url : urls) {
    if (url.empty() || url.size() > 512 || url.find(',') != std::string::npos) {
      return InvalidArgument("a NATS server URL is empty, too long or holds a comma");
    }
  }
  if (options.connect_timeout.count() <= 0 || options.reconnect_wait.count() <= 0 ||
      options.request_timeout.count() <= 0) {
    return InvalidArgument("NATS connection timeouts must be positive");
  }
  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  if (s != NATS_OK) return StatusFromNats(s, 0, "creating NATS options");
  std::unique_ptr<natsOptions, OptionsFree> opts(raw);
  std::vector<const char*> servers;
  for (const std::string& url : urls) servers.push_back(url.c_str());
  s = natsOptions_SetServers(opts.get(), servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts.get(), options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), options.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts.get(), true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), options.reconnect_wait.count());
  // A request (publish ack, API call) in flight when the connection drops fails at once: the
  // caller retries (with the same Nats-Msg-Id) instead of waiting out its timeout.
  if (s == NATS_OK) s = natsOptions_SetFailRequestsOnDisconnect(opts.get(), true);
  if (s != NATS_OK) return StatusFromNats(s, 0, "setting NATS options");

  std::unique_ptr<Connection> c(new Connection());
  c->wait_ms_ = options.request_timeout.count();
  s = natsConnection_Connect(&c->conn_, opts.get());
  if (s != NATS_OK) return StatusFromNats(s, 0, "connecting to NATS");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = c->wait_ms_;
  s = natsConnection_JetStream(&c->js_, c->conn_, &jo);
  if (s != NATS_OK) return StatusFromNats(s, 0, "opening a JetStream context");
  return c;
}

Connection::~Connection() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (conn_ != nullptr) natsConnection_Destroy(conn_);
}

bool Connection::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

std::string Connection::connected_url() const {
  char buffer[256] = {0};
  if (natsConnection_GetConnectedUrl(conn_, buffer, sizeof buffer) != NATS_OK) {
    return {};
  }
  return buffer;
}

Status Connection::EnsureStream(const StreamConfig& config) {
  if (!ValidName(config.name)) {
    return InvalidArgument("a stream name of letters, digits, - and _ (up to 200)");
  }
  if (config.subjects.empty() || config.subjects.size() > 100) {
    return InvalidArgument("a stream needs 1 to 100 subjects");
  }
  for (const std::string& subject : config.subjects) {
    if (!ValidSubject(subject)) return InvalidArgument("a stream subject is empty or has spaces");
  }
  if (config.replicas < 1 || config.replicas > 5) {
    return InvalidArgument("stream replicas between 1 and 5");
  }
  if (config.max_age.count() < 0 || config.duplicate_window.count() < 0 ||
      config.max_msg_size <= 0) {
    return InvalidArgument("stream max_age and duplicate_window >= 0, max_msg_size > 0");
  }
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  std::vector<const char*> subjects;
  for (const std::string& subject : config.subjects) subjects.push_back(subject.c_str());
  cfg.Name = config.name.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Retention = config.retention == Retention::kWorkQueue ? js_WorkQueuePolicy : js_LimitsPolicy;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = config.replicas;
  cfg.MaxAge = ToNanos(config.max_age);
  cfg.Duplicates = ToNanos(config.duplicate_window);
  cfg.MaxBytes = config.max_bytes;
  cfg.MaxMsgSize = config.max_msg_size;

  jsErrCode code = static_cast<jsErrCode>(0);
  jsStreamInfo* info = nullptr;
  natsStatus s = js_AddStream(&info, js_, &cfg, nullptr, &code);
  jsStreamInfo_Destroy(info);
  if (s == NATS_OK) return Status::Ok();
  // Created before with another configuration: bring it to this one.
  if (code != JSStreamNameExistErr)
    return StatusFromNats(s, code, "creating stream " + config.name);
  info = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_UpdateStream(&info, js_, &cfg, nullptr, &code);
  jsStreamInfo_Destroy(info);
  if (s != NATS_OK) return StatusFromNats(s, code, "updating stream " + config.name);
  return Status::Ok();
}

Status Connection::DeleteStream(std::string_view stream) {
  if (!ValidName(stream)) return InvalidArgument("not a stream name");
  std::string name(stream);
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(js_, name.c_str(), nullptr, &code);
  if (s != NATS_OK) return StatusFromNats(s, code, "deleting stream " + name);
  return Status::Ok();
}

Result<StreamInfo> Connection::GetStreamInfo(std::string_view stream) {
  if (!ValidName(stream)) return InvalidArgument("not a stream name");
  std::string name(stream);
  jsStreamInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw, js_, name.c_str(), nullptr, &code);
  if (s != NATS_OK) return StatusFromNats(s, code, "reading stream " + name);
  std::unique_ptr<jsStreamInfo, StreamInfoFree> si(raw);
  StreamInfo out;
  out.messages = si->State.Msgs;
  out.first_sequence = si->State.FirstSeq;
  out.last_sequence = si->State.LastSeq;
  if (si->Config != nullptr) {
    out.replicas = static_cast<int>(si->Config->Replicas);
    out.max_age_ms = si->Config->MaxAge / 1'000'000;
  }
  if (si->Cluster != nullptr && si->Cluster->Leader != nullptr) out.leader = si->Cluster->Leader;
  return out;
}

Result<PubAck> Connection::Publish(std::string_view subject, std::string_view payload,
                                   std::string_view msg_id, milliseconds timeout) {
  if (!ValidSubject(subject) || subject.find_first_of("*>") != std::string_view::npos) {
    return InvalidArgument("publish to a subject without spaces or wildcards");
  }
  if (msg_id.size() > 256) return InvalidArgument("a message id of at most 256 bytes");
  if (timeout.count() < 0) return InvalidArgument("a publish timeout >= 0");
  if (payload.size() > (64u << 20)) return InvalidArgument("a payload of at most 64 MiB");
  std::string subj(subject);
  std::string id(msg_id);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout.count() > 0 ? timeout.count() : wait_ms_;
  if (!id.empty()) po.MsgId = id.c_str();
  jsPubAck* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_Publish(&raw, js_, subj.c_str(), payload.data(),
                            static_cast<int>(payload.size()), &po, &code);
  if (s != NATS_OK) return StatusFromNats(s, code, "publishing to " + subj);
  std::unique_ptr<jsPubAck, PubAckFree> ack(raw);
  PubAck out;
  out.stream = ack->Stream != nullptr ? ack->Stream : "";
  out.sequence = ack->Sequence;
  out.duplicate = ack->Duplicate;
  return out;
}

Status Connection::EnsureConsumer(std::string_view stream, const ConsumerConfig& config) {
  if (!ValidName(stream)) return InvalidArgument("not a stream name");
  if (!ValidName(config.durable)) {
    return InvalidArgument("a durable consumer name of letters, digits, - and _ (up to 200)");
  }
  if (!config.filter_subject.empty() && !ValidSubject(config.filter_subject)) {
    return InvalidArgument("a filter subject without spaces");
  }
  if (config.ack_wait.count() <= 0 || config.max_ack_pending <= 0 || config.backoff.size() > 50 ||
      config.max_deliver == 0 || config.max_deliver < -1) {
    return InvalidArgument(
        "consumer ack_wait > 0, max_ack_pending > 0, max_deliver -1 or > 0, up to 50 backoffs");
  }
  std::vector<int64_t> backoff;
  for (milliseconds d : config.backoff) {
    if (d.count() <= 0) return InvalidArgument("consumer backoff delays must be positive");
    backoff.push_back(ToNanos(d));
  }
  std::string name(stream);
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = config.durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.DeliverPolicy = js_DeliverAll;
  cfg.AckWait = ToNanos(config.ack_wait);
  cfg.MaxDeliver = config.max_deliver;
  cfg.MaxAckPending = config.max_ack_pending;
  if (!backoff.empty()) {
    cfg.BackOff = backoff.data();
    cfg.BackOffLen = static_cast<int>(backoff.size());
  }
  if (!config.filter_subject.empty()) cfg.FilterSubject = config.filter_subject.c_str();

  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&info, js_, name.c_str(), &cfg, nullptr, &code);
  jsConsumerInfo_Destroy(info);
  if (s == NATS_OK) return Status::Ok();
  if (code != JSConsumerNameExistErr) {
    return StatusFromNats(s, code, "creating consumer " + config.durable + " on " + name);
  }
  info = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_UpdateConsumer(&info, js_, name.c_str(), &cfg, nullptr, &code);
  jsConsumerInfo_Destroy(info);
  if (s != NATS_OK) {
    return StatusFromNats(s, code, "updating consumer " + config.durable + " on " + name);
  }
  return Status::Ok();
}

Status Connection::DeleteConsumer(std::string_view stream, std::string_view durable) {
  if (!ValidName(stream) || !ValidName(durable)) return InvalidArgument("not a consumer name");
  std::string s_name(stream), c_name(durable);
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer(js_, s_name.c_str(), c_name.c_str(), nullptr, &code);
  if (s != NATS_OK) return StatusFromNats(s, code, "deleting consumer " + c_name);
  return Status::Ok();
}

Result<ConsumerInfo> Connection::GetConsumerInfo(std::string_view stream,
                                                 std::string_view durable) {
  if (!ValidName(stream) || !ValidName(durable)) return InvalidArgument("not a consumer name");
  std::string s_name(stream), c_name(durable);
  jsConsumerInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&raw, js_, s_name.c_str(), c_name.c_str(), nullptr, &code);
  if (s != NATS_OK) return StatusFromNats(s, code, "reading consumer " + c_name);
  std::unique_ptr<jsConsumerInfo, ConsumerInfoFree> ci(raw);
  ConsumerInfo out;
  out.num_pending = ci->NumPending;
  out.num_ack_pending = ci->NumAckPending;
  out.num_redelivered = ci->NumRedelivered;
  out.num_waiting = ci->NumWaiting;
  out.ack_floor_stream_sequence = ci->AckFloor.Stream;
  if (ci->Config != nullptr) {
    out.ack_wait_ms = ci->Config->AckWait / 1'000'000;
    out.max_deliver = ci->Config->MaxDeliver;
  }
  return out;
}

Result<std::unique_ptr<PullConsumer>> Connection::Pull(std::string_view stream,
                                                       std::string_view durable) {
  if (!ValidName(stream) || !ValidName(durable)) return InvalidArgument("not a consumer name");
  std::string s_name(stream), c_name(durable);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = s_name.c_str();
  so.Consumer = c_name.c_str();  // bind to it; never create one here
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&raw, js_, nullptr, c_name.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) {
    return StatusFromNats(s, code, "binding to consumer " + c_name + " on " + s_name);
  }
  internal::SharedSubscription sub(raw, internal::SubscriptionFree());
  return std::unique_ptr<PullConsumer>(
      new PullConsumer(std::move(sub), std::move(s_name), std::move(c_name), wait_ms_));
}

Result<StoredMessage> Connection::GetMessage(std::string_view stream, uint64_t sequence) {
  if (!ValidName(stream)) return InvalidArgument("not a stream name");
  std::string name(stream);
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&raw, js_, name.c_str(), sequence, nullptr, &code);
  if (s != NATS_OK) {
    return StatusFromNats(s, code, "reading message " + std::to_string(sequence) + " of " + name);
  }
  std::unique_ptr<natsMsg, internal::MsgFree> msg(raw);
  StoredMessage out;
  out.subject = natsMsg_GetSubject(msg.get());
  out.data.assign(natsMsg_GetData(msg.get()), natsMsg_GetDataLength(msg.get()));
  out.msg_id = HeaderOf(msg.get(), "Nats-Msg-Id");
  out.sequence = natsMsg_GetSequence(msg.get());
  return out;
}

Status Connection::DeleteMessage(std::string_view stream, uint64_t sequence) {
  if (!ValidName(stream)) return InvalidArgument("not a stream name");
  std::string name(stream);
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteMsg(js_, name.c_str(), sequence, nullptr, &code);
  if (s != NATS_OK) {
    return StatusFromNats(s, code, "deleting message " + std::to_string(sequence) + " of " + name);
  }
  return Status::Ok();
}

Status Connection::CorePublish(std::string_view subject, std::string_view payload) {
  if (!ValidSubject(subject) || subject.find_first_of("*>") != std::string_view::npos) {
    return InvalidArgument("publish to a subject without spaces or wildcards");
  }
  std::string subj(subject);
  natsStatus s =
      natsConnection_Publish(conn_, subj.c_str(), payload.data(), static_cast<int>(payload.size()));
  if (s == NATS_OK) s = natsConnection_FlushTimeout(conn_, wait_ms_);
  if (s != NATS_OK) return StatusFromNats(s, 0, "publishing to " + subj);
  return Status::Ok();
}

Result<std::unique_ptr<Subscription>> Connection::CoreSubscribe(std::string_view subject) {
  if (!ValidSubject(subject)) return InvalidArgument("a subject without spaces");
  std::string subj(subject);
  natsSubscription* raw = nullptr;
  natsStatus s = natsConnection_SubscribeSync(&raw, conn_, subj.c_str());
  // The server knows of the subscription once this returns: nothing published after is missed.
  if (s == NATS_OK) s = natsConnection_FlushTimeout(conn_, wait_ms_);
  if (s != NATS_OK) {
    natsSubscription_Destroy(raw);
    return StatusFromNats(s, 0, "subscribing to " + subj);
  }
  return std::unique_ptr<Subscription>(new Subscription(raw));
}

// ---- Subscription -----------------------------------------------------------------------------

Subscription::~Subscription() = default;

Result<Subscription::Received> Subscription::Next(milliseconds timeout) {
  if (timeout.count() <= 0) return InvalidArgument("a positive timeout");
  natsMsg* raw = nullptr;
  natsStatus s = natsSubscription_NextMsg(&raw, sub_.get(), timeout.count());
  if (s != NATS_OK) return StatusFromNats(s, 0, "waiting for a message");
  std::unique_ptr<natsMsg, internal::MsgFree> msg(raw);
  Received out;
  out.subject = natsMsg_GetSubject(msg.get());
  out.data.assign(natsMsg_GetData(msg.get()), natsMsg_GetDataLength(msg.get()));
  return out;
}

// ---- PullConsumer and Message -----------------------------------------------------------------

PullConsumer::~PullConsumer() = default;

Result<std::vector<Message>> PullConsumer::Fetch(int batch, milliseconds timeout) {
  if (batch < 1 || batch > kMaxBatch) return InvalidArgument("a fetch batch of 1 to 1000");
  if (timeout.count() <= 0) return InvalidArgument("a positive fetch timeout");
  natsMsgList list{nullptr, 0};
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_.get(), batch, timeout.count(), &code);
  std::vector<Message> out;
  if (s == NATS_TIMEOUT) {
    return out;
  }
  if (s != NATS_OK) {
    return StatusFromNats(s, code, "fetching from consumer " + durable_ + " on " + stream_);
  }
  out.reserve(list.Count);
  for (int i = 0; i < list.Count; ++i) {
    out.push_back(Message(sub_, list.Msgs[i], wait_ms_));
    list.Msgs[i] = nullptr;  // owned by the Message now
  }
  natsMsgList_Destroy(&list);
  return out;
}

Message::Message(internal::SharedSubscription sub, __natsMsg* msg, int64_t wait_ms)
    : sub_(std::move(sub)), msg_(msg), wait_ms_(wait_ms) {
  jsMsgMetaData* raw = nullptr;
  if (natsMsg_GetMetaData(&raw, msg) == NATS_OK) {
    std::unique_ptr<jsMsgMetaData, MetaFree> meta(raw);
    delivery_count_ = meta->NumDelivered;
    stream_sequence_ = meta->Sequence.Stream;
    pending_ = meta->NumPending;
    timestamp_ns_ = meta->Timestamp;
  }
  // Without metadata (not a JetStream delivery, which a pull subscription never hands out) the
  // counters stay 0.
}

Message::~Message() {
  // The message must go before the subscription it points into.
  msg_.reset();
  sub_.reset();
}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    msg_.reset();  // before the subscription it points into
    msg_ = std::move(other.msg_);
    sub_ = std::move(other.sub_);
    wait_ms_ = other.wait_ms_;
    delivery_count_ = other.delivery_count_;
    stream_sequence_ = other.stream_sequence_;
    pending_ = other.pending_;
    timestamp_ns_ = other.timestamp_ns_;
  }
  return *this;
}

std::string_view Message::subject() const {
  const char* s = natsMsg_GetSubject(msg_.get());
  return s == nullptr ? std::string_view() : std::string_view(s);
}

std::string_view Message::data() const {
  const char* d = natsMsg_GetData(msg_.get());
  return d == nullptr ? std::string_view() : std::string_view(d, natsMsg_GetDataLength(msg_.get()));
}

std::optional<std::string> Message::Header(const char* key) const {
  const char* value = nullptr;
  natsStatus s = natsMsgHeader_Get(msg_.get(), key, &value);
  if (s != NATS_OK || value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

std::string Message::msg_id() const { return HeaderOf(msg_.get(), "Nats-Msg-Id"); }

namespace {
enum AckKind { kAck, kNak, kTerm, kInProgress };
}  // namespace

Status Message::Acknowledge(int kind, milliseconds delay) {
  if (msg_ == nullptr) return FailedPrecondition("the message was moved away");
  // A positive Wait makes cnats send every kind of acknowledgement as a request: the call
  // returns once the server applied it (or failed/timed out).
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = wait_ms_;
  natsStatus s = NATS_OK;
  jsErrCode code = static_cast<jsErrCode>(0);
  const char* what = "acknowledging";
  switch (kind) {
    case kAck:
      s = natsMsg_AckSync(msg_.get(), &jo, &code);
      break;
    case kNak:
      what = "negatively acknowledging";
      s = delay.count() > 0 ? natsMsg_NakWithDelay(msg_.get(), delay.count(), &jo)
                            : natsMsg_Nak(msg_.get(), &jo);
      break;
    case kTerm:
      what = "terminating";
      s = natsMsg_Term(msg_.get(), &jo);
      break;
    default:
      what = "marking in progress";
      s = natsMsg_InProgress(msg_.get(), &jo);
      break;
  }
  if (s != NATS_OK) {
    return StatusFromNats(s, code,
                          std::string(what) + " message " + std::to_string(stream_sequence_));
  }
  return Status::Ok();
}

Status Message::Ack() { return Acknowledge(kAck, milliseconds{0}); }
Status Message::Nak(milliseconds delay) {
  if (delay.count() < 0) return InvalidArgument("a nak delay >= 0");
  return Acknowledge(kNak, delay);
}
Status Message::Term() { return Acknowledge(kTerm, milliseconds{0}); }
Status Message::InProgress() { return Acknowledge(kInProgress, milliseconds{0}); }

}  // namespace govesb::nats
