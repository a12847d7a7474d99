#include "delivery/dispatcher.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "base/log_safe_fmt.h"
#include "http/await_status.h"
#include "http/client.h"
#include "http/io_threads.h"
#include "minimise/field_allow_list.h"
#include "wire/envelope.h"
#include "wire/messages.h"

namespace govesb::delivery {

namespace asio = boost::asio;

namespace {

// Upper bounds (seconds) of the delivery latency histogram.
constexpr std::array<double, 12> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,   0.25,   0.5,   1,    2.5,   10};

// scheme://host:port of a URL: the unit of concurrency limits and circuit breakers.
std::string Origin(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  size_t path = url.find('/', scheme_end + 3);
  return std::string(url.substr(0, path));
}

}  // namespace

struct Dispatcher::Impl {
  struct Lane {
    std::string key;
    std::map<int64_t, PendingDelivery> queue;  // by delivery id = acceptance order
    bool running = false;
    bool dropped = false;  // cluster mode: the lease was lost
    std::unique_ptr<asio::steady_timer> timer;
  };
  struct Endpoint {
    explicit Endpoint(const DispatcherOptions& o)
        : breaker(o.breaker_threshold, o.breaker_cooldown, o.breaker_cooldown_max) {}
    size_t in_flight = 0;
    std::deque<Lane*> waiting;  // lanes waiting for a free slot
    CircuitBreaker breaker;
  };
  // What a delivery goes to, from the current registry snapshot.
  struct Target {
    std::string url;
    std::string client_id;
    const crypto::PublicKey* key = nullptr;
    std::shared_ptr<const registry::Snapshot> snapshot;  // keeps `key` alive
    wire::JsonStyle style = wire::JsonStyle::kJackson;   // the form the recipient verifies
    // An asynchronous answer's consumer receives only these fields of its esbBody (its grant's
    // allow-list; null: every field), and the delivery's evidence names what was withheld.
    std::shared_ptr<const minimise::FieldAllowList> fields;
    std::string withheld;
  };

  Impl(DispatcherDeps d, const DispatcherOptions& o) : deps(std::move(d)), options(o) {}

  DispatcherDeps deps;
  const DispatcherOptions& options;
  SystemClock system_clock;
  std::unique_ptr<http::IoThreads> io;
  std::unique_ptr<http::PooledUpstreamClient> upstream;
  std::mt19937_64 random{std::random_device{}()};

  // Delivery-thread state.
  std::unordered_map<std::string, std::unique_ptr<Lane>> lanes;
  std::unordered_map<std::string, std::unique_ptr<Endpoint>> endpoints;
  std::unordered_set<int64_t> tracked;  // delivery ids in some lane
  size_t cached_bytes = 0;
  int64_t generation = 0;
  bool stopping = false;
  std::unique_ptr<asio::steady_timer> poll_timer;

  // Metrics, read from other threads.
  std::atomic<int64_t> pending{0};
  std::atomic<int64_t> oldest_pending_ms{0};
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> dead{0};
  std::atomic<int64_t> running_lanes{0};
  std::atomic<int64_t> open_circuits{0};
  mutable std::mutex metrics_mutex;
  std::map<std::string, int64_t> attempts_by_outcome;
  std::array<int64_t, kLatencyBounds.size() + 1> latency_counts{};
  double latency_sum_s = 0;

  const Clock& clock() const { return deps.clock != nullptr ? *deps.clock : system_clock; }
  asio::io_context& context() { return io->context(0); }

  void AddDeliveries(std::vector<PendingDelivery> deliveries);
  void StartLane(Lane* lane);
  asio::awaitable<void> RunLane(Lane* lane);
  asio::awaitable<void> Sleep(Lane* lane, int64_t ms);
  asio::awaitable<void> Poll();
  Status Rescan();
  Result<Target> Resolve(const PendingDelivery& d) const;
  // The envelope with its data's esbBody reduced to target.fields, signed by the bus in the
  // recipient's form; fills target.withheld.
  Result<std::string> Minimise(std::string_view envelope, Target& target) const;
  // `receipt` gets the answer's signed data and signature when it was an envelope.
  Attempt Judge(const Result<http::UpstreamResponse>& answer, const crypto::PublicKey& key,
                std::pair<std::string, std::string>& receipt);
  void Record(const Attempt& attempt);
  std::vector<evidence::Record> AttemptEvidence(const PendingDelivery& d, const Target& target,
                                                const std::pair<std::string, std::string>& sent,
                                                const Attempt& a,
                                                const std::pair<std::string, std::string>& receipt,
                                                const Result<http::UpstreamResponse>& answer);
  void Forget(Lane* lane, std::map<int64_t, PendingDelivery>::iterator it);
  void UpdateOldest();
  void StopOnThread();
};

// ---- accepting ----

Dispatcher::Dispatcher(DispatcherDeps deps, DispatcherOptions options)
    : options_(std::move(options)) {
  impl_ = std::make_unique<Impl>(std::move(deps), options_);
  GOVESB_CHECK(impl_->deps.queue != nullptr && impl_->deps.snapshot);
}

Dispatcher::~Dispatcher() { Stop(std::chrono::milliseconds(0)); }

asio::awaitable<Status> Dispatcher::Accept(NewMessage message, size_t* delivery_count) {
  Impl* impl = impl_.get();
  message.created_at_ms = impl->clock().NowMillis();
  auto count = std::make_shared<size_t>(0);
  auto start = [impl, count, message = std::move(message)](auto complete) mutable {
    impl->deps.queue->Enqueue(
        std::move(message), [impl, count, complete = std::move(complete)](
                                Status s, std::vector<PendingDelivery> created) mutable {
          if (s.ok()) {
            *count = created.size();
            impl->accepted.fetch_add(1, std::memory_order_relaxed);
            if (impl->deps.coordinator != nullptr) {
              // The lanes' holders (any node) deliver them.
              std::vector<std::pair<std::string, int64_t>> lanes;
              for (const PendingDelivery& d : created) {
                bool seen = false;
                for (const auto& lane : lanes) seen = seen || lane.first == d.lane;
                if (!seen) lanes.emplace_back(d.lane, d.id);
              }
              if (!lanes.empty()) impl->deps.coordinator->Wake(std::move(lanes));
              complete(std::move(s));
              return;
            }
            impl->pending.fetch_add(static_cast<int64_t>(created.size()),
                                    std::memory_order_relaxed);
            if (!created.empty()) {
              asio::post(impl->context(), [impl, created = std::move(created)]() mutable {
                impl->AddDeliveries(std::move(created));
              });
            }
          }
          complete(std::move(s));
        });
  };
  auto op = http::AwaitStatus(std::move(start));
  Status s = co_await std::move(op);
  if (delivery_count != nullptr) *delivery_count = *count;
  co_return s;
}

asio::awaitable<Status> Dispatcher::Await(AwaitedAnswer answer) {
  Impl* impl = impl_.get();
  auto start = [impl, answer = std::move(answer)](auto complete) mutable {
    impl->deps.queue->Await(std::move(answer), std::move(complete));
  };
  auto op = http::AwaitStatus(std::move(start));
  co_return co_await std::move(op);
}

void Dispatcher::CancelAwait(std::string request_id) {
  impl_->deps.queue->CancelAwait(std::move(request_id));
}

void Dispatcher::TakeLane(std::string lane, std::vector<PendingDelivery> deliveries) {
  Impl* impl = impl_.get();
  if (!impl->io) return;
  asio::post(impl->context(),
             [impl, lane = std::move(lane), deliveries = std::move(deliveries)]() mutable {
               if (auto it = impl->lanes.find(lane); it != impl->lanes.end())
                 it->second->dropped = false;
               std::vector<PendingDelivery> fresh;
               for (PendingDelivery& d : deliveries) {
                 if (d.lane == lane && !impl->tracked.contains(d.id)) fresh.push_back(std::move(d));
               }
               impl->pending.fetch_add(static_cast<int64_t>(fresh.size()));
               impl->AddDeliveries(std::move(fresh));
               auto it = impl->lanes.find(lane);
               if (it == impl->lanes.end() || (!it->second->running && it->second->queue.empty())) {
                 // Nothing new to deliver on it: it is dry at once.
                 if (!impl->stopping) impl->deps.coordinator->LaneDrained(lane);
               }
             });
}

void Dispatcher::DropLane(std::string lane) {
  Impl* impl = impl_.get();
  if (!impl->io) return;
  asio::post(impl->context(), [impl, lane = std::move(lane)] {
    auto it = impl->lanes.find(lane);
    if (it == impl->lanes.end()) return;
    Impl::Lane* l = it->second.get();
    l->dropped = true;
    // The head may be in flight (its coroutine holds an iterator to it): the rest goes now, the
    // head when its attempt ends.
    while (l->queue.size() > (l->running ? 1u : 0u)) impl->Forget(l, std::prev(l->queue.end()));
    if (l->timer) l->timer->cancel();
  });
}

// ---- lifecycle ----

Status Dispatcher::Start() {
  Impl& s = *impl_;
  GOVESB_ASSIGN_OR_RETURN(s.generation, s.deps.queue->RedeliverGeneration());
  s.io = std::make_unique<http::IoThreads>(1);
  http::PooledClientOptions copts;
  copts.max_response_bytes = options_.max_response_bytes;
  copts.tls = options_.tls;
  s.upstream = std::make_unique<http::PooledUpstreamClient>(*s.io, copts);
  // Cluster mode: the coordinator hands lanes over; none is this node's to begin with.
  if (s.deps.coordinator == nullptr) GOVESB_RETURN_IF_ERROR(s.Rescan());
  s.poll_timer = std::make_unique<asio::steady_timer>(s.context());
  asio::co_spawn(s.context(), s.Poll(), asio::detached);
  s.io->Start();
  if (s.pending.load() > 0) {
    spdlog::info("delivery: resuming {} pending deliveries", s.pending.load());
  }
  return Status::Ok();
}

void Dispatcher::Stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (!s.io) return;
  asio::post(s.context(), [&s] { s.StopOnThread(); });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (s.running_lanes.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.io->Stop();
  s.upstream->Clear();
  // Lanes still running (a delivery in flight past the grace period) are coroutine frames on
  // the stopped context: destroying the context destroys them. Timers go first, the context
  // next, the client (whose connections the frames may hold) last.
  for (auto& [key, lane] : s.lanes) lane->timer.reset();
  s.poll_timer.reset();
  s.io.reset();
  s.upstream.reset();
}

void Dispatcher::Impl::StopOnThread() {
  stopping = true;
  if (poll_timer) poll_timer->cancel();
  for (auto& [key, lane] : lanes) {
    if (lane->timer) lane->timer->cancel();
  }
}

http::HostResolver::Stats Dispatcher::NameStats() const {
  const Impl& s = *impl_;
  return s.upstream ? s.upstream->name_stats() : http::HostResolver::Stats{};
}

DeliveryMetrics Dispatcher::Metrics() const {
  const Impl& s = *impl_;
  DeliveryMetrics m;
  m.pending = s.pending.load();
  int64_t oldest = s.oldest_pending_ms.load();
  m.oldest_pending_age_s =
      oldest > 0 && m.pending > 0
          ? std::max<double>(0, static_cast<double>(s.clock().NowMillis() - oldest) / 1000.0)
          : 0;
  m.accepted_messages = s.accepted.load();
  m.delivered = s.delivered.load();
  m.dead_lettered = s.dead.load();
  m.open_circuits = s.open_circuits.load();
  std::lock_guard lock(s.metrics_mutex);
  m.attempts_by_outcome = s.attempts_by_outcome;
  int64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBounds.size(); ++i) {
    cumulative += s.latency_counts[i];
    m.latency_buckets.emplace_back(kLatencyBounds[i], cumulative);
  }
  m.latency_count = cumulative + s.latency_counts.back();
  m.latency_sum_s = s.latency_sum_s;
  return m;
}

std::string PrometheusText(const DeliveryMetrics& m) {
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  };
  auto sample = [&](std::string_view name, std::string_view labels, double value) {
    out += name;
    out += labels;
    out += ' ';
    out += fmt::format("{}", value);
    out += '\n';
  };
  family("govesb_delivery_queue_depth", "gauge",
         "Deliveries accepted and not yet acknowledged or dead-lettered.");
  sample("govesb_delivery_queue_depth", "", static_cast<double>(m.pending));
  family("govesb_delivery_oldest_pending_age_seconds", "gauge",
         "Age of the oldest pending delivery.");
  sample("govesb_delivery_oldest_pending_age_seconds", "", m.oldest_pending_age_s);
  family("govesb_delivery_messages_accepted_total", "counter",
         "Pushes and asynchronous answers stored durably since start.");
  sample("govesb_delivery_messages_accepted_total", "", static_cast<double>(m.accepted_messages));
  family("govesb_delivery_delivered_total", "counter", "Deliveries acknowledged since start.");
  sample("govesb_delivery_delivered_total", "", static_cast<double>(m.delivered));
  family("govesb_delivery_dead_lettered_total", "counter",
         "Deliveries moved to the dead-letter state since start.");
  sample("govesb_delivery_dead_lettered_total", "", static_cast<double>(m.dead_lettered));
  family("govesb_delivery_open_circuits", "gauge", "Endpoints whose circuit breaker is open.");
  sample("govesb_delivery_open_circuits", "", static_cast<double>(m.open_circuits));
  family("govesb_delivery_attempts_total", "counter", "Delivery attempts by outcome.");
  for (const auto& [outcome, n] : m.attempts_by_outcome) {
    sample("govesb_delivery_attempts_total", "{outcome=\"" + outcome + "\"}",
           static_cast<double>(n));
  }
  family("govesb_delivery_latency_seconds", "histogram",
         "Time from sending a delivery to the recipient's answer.");
  for (const auto& [bound, n] : m.latency_buckets) {
    sample("govesb_delivery_latency_seconds_bucket", fmt::format("{{le=\"{}\"}}", bound),
           static_cast<double>(n));
  }
  sample("govesb_delivery_latency_seconds_bucket", "{le=\"+Inf\"}",
         static_cast<double>(m.latency_count));
  sample("govesb_delivery_latency_seconds_sum", "", m.latency_sum_s);
  sample("govesb_delivery_latency_seconds_count", "", static_cast<double>(m.latency_count));
  return out;
}

// ---- evidence of attempts ----

std::vector<evidence::Record> Dispatcher::Impl::AttemptEvidence(
    const PendingDelivery& d, const Target& target, const std::pair<std::string, std::string>& sent,
    const Attempt& a, const std::pair<std::string, std::string>& receipt,
    const Result<http::UpstreamResponse>& answer) {
  std::vector<evidence::Record> out(2);
  evidence::Record& delivery = out[0];
  delivery.at_ms = a.at_ms - a.latency_us / 1000;
  delivery.request_id = d.request_id;
  delivery.traceparent = d.traceparent;
  delivery.kind = d.kind == MessageKind::kPush ? "push-delivery" : "async-delivery";
  delivery.from = "bus";
  delivery.to = target.client_id;
  delivery.code = d.code;
  delivery.outcome = "ok";
  delivery.size = static_cast<int64_t>(sent.first.size() + sent.second.size());
  evidence::AttachSigned(delivery, sent.first, sent.second);
  delivery.withheld = target.withheld;
  evidence::Record& r = out[1];
  r.at_ms = a.at_ms;
  r.request_id = d.request_id;
  r.traceparent = d.traceparent;
  r.kind = "receipt";
  r.from = target.client_id;
  r.to = "bus";
  r.code = d.code;
  r.outcome = a.outcome;
  r.error = a.error;
  r.latency_us = a.latency_us;
  r.size = answer.ok() ? static_cast<int64_t>(answer->body.size()) : 0;
  evidence::AttachSigned(r, receipt.first, receipt.second);
  return out;
}

// ---- scheduling (delivery thread) ----

void Dispatcher::Impl::AddDeliveries(std::vector<PendingDelivery> deliveries) {
  for (PendingDelivery& d : deliveries) {
    if (!tracked.insert(d.id).second) continue;
    if (d.envelope) {
      if (cached_bytes + d.envelope->size() <= options.envelope_cache_bytes) {
        cached_bytes += d.envelope->size();
      } else {
        d.envelope.reset();  // re-read from the store when its turn comes
      }
    }
    auto& lane = lanes[d.lane];
    if (!lane) {
      lane = std::make_unique<Lane>();
      lane->key = d.lane;
      lane->timer = std::make_unique<asio::steady_timer>(context());
    }
    int64_t id = d.id;
    lane->queue.emplace(id, std::move(d));
    if (lane->running) {
      lane->timer->cancel();  // a redelivered older one may now be first
    } else {
      StartLane(lane.get());
    }
  }
  UpdateOldest();
}

void Dispatcher::Impl::StartLane(Lane* lane) {
  if (stopping || lane->running) return;
  lane->running = true;
  running_lanes.fetch_add(1);
  asio::co_spawn(context(), RunLane(lane), asio::detached);
}

Status Dispatcher::Impl::Rescan() {
  int64_t after = 0;
  size_t added_before = tracked.size();
  for (;;) {
    GOVESB_ASSIGN_OR_RETURN(std::vector<PendingDelivery> page,
                            deps.queue->LoadPending(after, 10'000));
    if (page.empty()) break;
    after = page.back().id;
    std::vector<PendingDelivery> fresh;
    for (PendingDelivery& d : page) {
      if (!tracked.contains(d.id)) fresh.push_back(std::move(d));
    }
    pending.fetch_add(static_cast<int64_t>(fresh.size()));
    AddDeliveries(std::move(fresh));
  }
  if (tracked.size() > added_before) {
    spdlog::info("delivery: {} deliveries (re)scheduled from the store",
                 tracked.size() - added_before);
  }
  return Status::Ok();
}

asio::awaitable<void> Dispatcher::Impl::Poll() {
  auto next_prune = std::chrono::steady_clock::now() + options.prune_interval;
  while (!stopping) {
    poll_timer->expires_after(options.poll_interval);
    boost::system::error_code ec;
    auto wait = poll_timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_await std::move(wait);
    if (stopping) break;
    auto gen = deps.queue->RedeliverGeneration();
    if (gen.ok() && *gen != generation) {
      generation = *gen;
      if (deps.coordinator != nullptr) {
        deps.coordinator->RedeliveriesMade();
      } else if (Status s = Rescan(); !s.ok()) {
        spdlog::error("delivery: could not look for redeliveries: {}", s.message());
      }
    }
    UpdateOldest();
    if (std::chrono::steady_clock::now() >= next_prune) {
      next_prune = std::chrono::steady_clock::now() + options.prune_interval;
      deps.queue->Prune(clock().NowMillis() - options.retention.count());
    }
  }
}

void Dispatcher::Impl::UpdateOldest() {
  int64_t oldest = 0;
  for (auto& [key, lane] : lanes) {
    if (lane->queue.empty()) continue;
    int64_t t = lane->queue.begin()->second.created_at_ms;
    if (oldest == 0 || t < oldest) oldest = t;
  }
  oldest_pending_ms.store(oldest);
  int64_t open = 0;
  for (auto& [origin, ep] : endpoints) open += ep->breaker.open() ? 1 : 0;
  open_circuits.store(open);
}

asio::awaitable<void> Dispatcher::Impl::Sleep(Lane* lane, int64_t ms) {
  lane->timer->expires_after(std::chrono::milliseconds(std::max<int64_t>(ms, 1)));
  boost::system::error_code ec;
  auto wait = lane->timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_await std::move(wait);
}

Result<Dispatcher::Impl::Target> Dispatcher::Impl::Resolve(const PendingDelivery& d) const {
  Target t;
  t.snapshot = deps.snapshot();
  const registry::Snapshot& snap = *t.snapshot;
  const registry::System* system = snap.FindSystemById(d.target_system_id);
  if (d.kind == MessageKind::kPush) {
    const registry::Subscription* sub = snap.FindApprovedSubscription(d.subscription_id);
    if (sub == nullptr) {
      return FailedPrecondition("the subscription to " + d.code +
                                " is no longer approved (revoked or removed)");
    }
    t.url = sub->endpoint;
  } else {
    const registry::Api* api = snap.FindApi(d.code);
    if (api != nullptr && !api->callback_endpoint.empty()) {
      t.url = api->callback_endpoint;
    } else if (system != nullptr) {
      t.url = system->endpoint;
    }
  }
  if (system == nullptr || !system->enabled) {
    return FailedPrecondition("the receiving system is disabled or no longer registered");
  }
  if (!system->public_key.has_value()) {
    return FailedPrecondition("the receiving system " + system->client_id +
                              " has no usable public key to check its acknowledgement");
  }
  if (t.url.empty()) {
    return FailedPrecondition("the receiving system " + system->client_id +
                              " has no delivery endpoint");
  }
  if (d.kind != MessageKind::kPush) {
    const registry::Api* api = snap.FindApi(d.code);
    const registry::Snapshot::GrantTerms* grant =
        api != nullptr ? snap.FindApprovedGrant(system->id, api->id) : nullptr;
    if (grant != nullptr) t.fields = grant->fields;
  }
  t.key = &*system->public_key;
  t.client_id = system->client_id;
  t.style = wire::JsonStyleFromName(
      registry::EffectiveSerialisation(system->serialisation, system->serialisation_learned));
  return t;
}

Result<std::string> Dispatcher::Impl::Minimise(std::string_view envelope, Target& target) const {
  if (deps.signer == nullptr) {
    return FailedPrecondition(
        "the answer must be reduced to the fields the consumer's grant "
        "allows, and this bus has no key to sign the result with");
  }
  auto env = wire::ParseEnvelope(std::string(envelope));
  if (!env.ok()) return Internal("the stored answer is not an envelope: " + env.status().message());
  minimise::Withheld withheld;
  GOVESB_ASSIGN_OR_RETURN(std::string data,
                          minimise::FilterResponseData(env->data_raw, *target.fields, withheld));
  if (target.style != wire::JsonStyle::kJackson) data = wire::RestyleData(data, target.style);
  target.withheld = withheld.ToJson();
  std::string signature = deps.signer->SignBase64(data);
  return wire::SealEnvelope(data, signature);
}

Attempt Dispatcher::Impl::Judge(const Result<http::UpstreamResponse>& answer,
                                const crypto::PublicKey& key,
                                std::pair<std::string, std::string>& receipt) {
  Attempt a;
  if (!answer.ok()) {
    const Status& s = answer.status();
    a.outcome = s.code() == StatusCode::kDeadlineExceeded ? "timeout"
                : s.code() == StatusCode::kBadGateway || s.code() == StatusCode::kResourceExhausted
                    ? "bad_gateway"  // garbage, or an answer over the size limit
                    : "unreachable";
    a.error = s.message();
    return a;
  }
  a.http_status = answer->status;
  std::string body = answer->body;
  bool xml = answer->content_type.find("xml") != std::string::npos;
  auto env = xml ? wire::ParseXmlEnvelope(std::move(body)) : wire::ParseEnvelope(std::move(body));
  if (!env.ok()) {
    a.outcome = "bad_reply";
    a.error = "HTTP " + std::to_string(answer->status) +
              " answer is not a signed GovESB envelope: " + env.status().message();
    return a;
  }
  receipt = {std::string(env->data_raw), std::string(env->signature)};
  if (!wire::VerifyEnvelope(*env, key).ok()) {
    a.outcome = "bad_signature";
    a.error =
        "the acknowledgement's signature does not verify against the receiving system's "
        "registered public key";
    return a;
  }
  auto reply = wire::ReadProviderReply(*env);
  if (!reply.ok()) {
    a.outcome = "bad_reply";
    a.error = reply.status().message();
    return a;
  }
  if (!reply->success) {
    a.outcome = "refused";
    a.error = "the receiver answered success:false" +
              (reply->message.empty() ? std::string() : ": " + reply->message);
    return a;
  }
  a.outcome = "ok";
  return a;
}

void Dispatcher::Impl::Record(const Attempt& attempt) {
  std::lock_guard lock(metrics_mutex);
  ++attempts_by_outcome[attempt.outcome];
  double seconds = static_cast<double>(attempt.latency_us) / 1e6;
  size_t i = 0;
  while (i < kLatencyBounds.size() && seconds > kLatencyBounds[i]) ++i;
  ++latency_counts[i];
  latency_sum_s += seconds;
}

void Dispatcher::Impl::Forget(Lane* lane, std::map<int64_t, PendingDelivery>::iterator it) {
  if (it->second.envelope) cached_bytes -= std::min(cached_bytes, it->second.envelope->size());
  tracked.erase(it->first);
  lane->queue.erase(it);
  pending.fetch_sub(1);
}

asio::awaitable<void> Dispatcher::Impl::RunLane(Lane* lane) {
  while (!stopping && !lane->dropped && !lane->queue.empty()) {
    auto it = lane->queue.begin();
    PendingDelivery& d = it->second;
    int64_t now = clock().NowMillis();
    if (d.next_attempt_at_ms > now) {
      co_await Sleep(lane, d.next_attempt_at_ms - now);
      continue;  // the head may have changed (redelivery) or we are stopping
    }

    auto target = Resolve(d);
    if (!target.ok()) {
      Attempt a;
      a.at_ms = now;
      a.outcome = "undeliverable";
      a.error = target.status().message();
      Record(a);
      spdlog::warn("delivery id={} requestId={} code={} dead-lettered: {}", d.id,
                   Untrusted(d.request_id), Untrusted(d.code), Untrusted(a.error, 512));
      deps.queue->DeadLetter(d.id, std::move(a));
      dead.fetch_add(1);
      Forget(lane, it);
      continue;
    }
    std::string origin = Origin(target->url);
    auto& ep_slot = endpoints[origin];
    if (!ep_slot) ep_slot = std::make_unique<Endpoint>(options);
    Endpoint& ep = *ep_slot;

    CircuitBreaker::Decision decision = ep.breaker.Check(now);
    if (decision == CircuitBreaker::Decision::kWait) {
      co_await Sleep(lane, std::max<int64_t>(ep.breaker.retry_at_ms() - now, 20));
      continue;
    }
    if (ep.in_flight >= options.max_in_flight_per_endpoint) {
      if (decision == CircuitBreaker::Decision::kProbe) ep.breaker.AbandonProbe();
      ep.waiting.push_back(lane);
      co_await Sleep(lane, 1000);  // woken early when a slot frees
      continue;
    }

    std::string body;
    if (d.envelope) {
      body = *d.envelope;
    } else {
      auto loaded = deps.queue->LoadEnvelope(d.message_id);
      if (!loaded.ok()) {
        spdlog::error("delivery id={}: cannot read its message: {}", d.id,
                      loaded.status().message());
        if (decision == CircuitBreaker::Decision::kProbe) ep.breaker.AbandonProbe();
        co_await Sleep(lane, 1000);
        continue;
      }
      body = std::move(*loaded);
    }

    if (target->fields != nullptr) {
      // Data minimisation: only the fields the consumer's grant allows, signed again.
      Result<std::string> minimised = Minimise(body, *target);
      if (!minimised.ok()) {
        if (decision == CircuitBreaker::Decision::kProbe) ep.breaker.AbandonProbe();
        Attempt a;
        a.at_ms = now;
        a.outcome = "undeliverable";
        a.error = minimised.status().message();
        Record(a);
        spdlog::error("delivery id={} requestId={} code={} dead-lettered: {}", d.id,
                      Untrusted(d.request_id), Untrusted(d.code), Untrusted(a.error, 512));
        deps.queue->DeadLetter(d.id, std::move(a));
        dead.fetch_add(1);
        Forget(lane, it);
        continue;
      }
      body = std::move(minimised).value();
    } else if (target->style != wire::JsonStyle::kJackson && deps.signer != nullptr) {
      // The recipient verifies another form of data than the stored one: that form, signed.
      if (auto env = wire::ParseEnvelope(body); env.ok()) {
        std::string data = wire::RestyleData(env->data_raw, target->style);
        if (data != env->data_raw) {
          std::string signature = deps.signer->SignBase64(data);
          body = wire::SealEnvelope(data, signature);
        }
      }
    }

    // What was sent, for the evidence of this attempt.
    std::pair<std::string, std::string> sent;
    if (options.record_evidence) {
      if (auto env = wire::ParseEnvelope(body); env.ok()) {
        sent = {std::string(env->data_raw), std::string(env->signature)};
      }
    }
    ++ep.in_flight;
    http::UpstreamRequest request;
    request.url = target->url;
    request.body = std::move(body);
    request.timeout = options.timeout;
    request.traceparent = d.traceparent;
    auto started = std::chrono::steady_clock::now();
    // (Named awaitable: no temporaries with destructors inside a co_await under GCC 12.)
    auto post = upstream->Post(std::move(request));
    auto answer = co_await std::move(post);
    auto latency = std::chrono::steady_clock::now() - started;
    --ep.in_flight;
    if (!ep.waiting.empty()) {
      Lane* next = ep.waiting.front();
      ep.waiting.pop_front();
      next->timer->cancel();
    }

    // The lane's map is only erased from by this coroutine, so `it` is still valid.
    std::pair<std::string, std::string> receipt;
    Attempt a = Judge(answer, *target->key, receipt);
    a.at_ms = clock().NowMillis();
    a.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
    Record(a);
    if (options.record_evidence) {
      a.evidence = AttemptEvidence(d, *target, sent, a, receipt, answer);
    }
    bool transport_failure =
        a.outcome == "unreachable" || a.outcome == "timeout" || a.outcome == "bad_gateway";
    if (transport_failure) {
      ep.breaker.RecordFailure(a.at_ms);
    } else {
      ep.breaker.RecordSuccess();
    }

    if (a.outcome == "ok") {
      deps.queue->Ack(d.id, std::move(a));
      delivered.fetch_add(1);
      Forget(lane, it);
      continue;
    }
    ++d.attempts;
    if (d.attempts >= options.max_attempts) {
      spdlog::warn("delivery id={} requestId={} code={} dead-lettered after {} attempts: {}: {}",
                   d.id, Untrusted(d.request_id), Untrusted(d.code), d.attempts, a.outcome,
                   Untrusted(a.error, 512));
      deps.queue->DeadLetter(d.id, std::move(a));
      dead.fetch_add(1);
      Forget(lane, it);
      continue;
    }
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    auto delay = RetryDelay(d.attempts, options.retry_base, options.retry_max, uniform(random));
    d.next_attempt_at_ms = a.at_ms + delay.count();
    spdlog::info("delivery id={} requestId={} code={} attempt {} failed ({}: {}); next in {} ms",
                 d.id, Untrusted(d.request_id), Untrusted(d.code), d.attempts, a.outcome,
                 Untrusted(a.error, 512), delay.count());
    deps.queue->Nack(d.id, std::move(a), d.next_attempt_at_ms);
  }
  lane->running = false;
  running_lanes.fetch_sub(1);
  if (lane->dropped) {
    // Another node holds the lane now: what is left of it is that node's to deliver.
    while (!lane->queue.empty()) Forget(lane, lane->queue.begin());
    lane->dropped = false;
    UpdateOldest();
    co_return;
  }
  // Anything added while stopping stays in the store for the next start (or the next holder).
  if (!stopping && deps.coordinator != nullptr) deps.coordinator->LaneDrained(lane->key);
}

}  // namespace govesb::delivery
