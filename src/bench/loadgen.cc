#include "bench/loadgen.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cmath>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "http/client.h"
#include "http/tls.h"

namespace govesb::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTransport:
      return "transport";
    case ErrorKind::kHttp4xx:
      return "http_4xx";
    case ErrorKind::kHttp5xx:
      return "http_5xx";
    case ErrorKind::kRefused:
      return "refused";
    case ErrorKind::kUnsent:
      return "unsent";
  }
  return "?";
}

uint64_t LoadReport::error_total() const {
  uint64_t total = 0;
  for (uint64_t n : errors) total += n;
  return total;
}

namespace {

// The answer the generator looks for: a success envelope, as the bus writes it (contract 4.2:
// data first, success its first member). Anything else with a 2xx status is a refusal.
constexpr std::string_view kSuccessPrefix = "{\"data\":{\"success\":true";

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string host_header;
  std::string path;  // base path prefix, no trailing '/'
};

Result<Target> ParseTarget(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return InvalidArgument("not an absolute URL: " + std::string(url));
  Target t;
  if (parsed->scheme_id() == boost::urls::scheme::https) {
    t.tls = true;
  } else if (parsed->scheme_id() != boost::urls::scheme::http) {
    return InvalidArgument("unsupported URL scheme in " + std::string(url));
  }
  t.host = std::string(parsed->encoded_host());
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  if (t.host.empty()) return InvalidArgument("URL has no host: " + std::string(url));
  t.port = parsed->has_port() ? std::string(parsed->port()) : (t.tls ? "443" : "80");
  t.host_header = std::string(parsed->encoded_host_and_port());
  t.path = std::string(parsed->encoded_path());
  while (!t.path.empty() && t.path.back() == '/') t.path.pop_back();
  return t;
}

struct Job {
  uint64_t index = 0;
  SteadyClock::time_point start;  // latency origin: sent (closed loop) or scheduled (open)
  bool measured = false;
};

struct Outcome {
  bool ok = false;
  ErrorKind kind = ErrorKind::kTransport;
  std::string message;  // for errors
  bool close = false;   // the connection cannot be reused
};

// One keep-alive connection, touched only by the generator's thread.
struct Connection {
  explicit Connection(asio::io_context& ctx) : wake(ctx) {}

  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::string out;  // the HTTP request being sent, rebuilt in place for each request
  asio::steady_timer wake;
  std::optional<Job> assigned;         // open loop: handed over by the scheduler while idle
  SteadyClock::time_point idle_since;  // connected, or its last answer read

  bool connected() const { return plain || secure; }
  tcp::socket& socket() {
    return plain ? plain->socket() : beast::get_lowest_layer(*secure).socket();
  }
  void Close() {
    plain.reset();
    secure.reset();
    buffer.clear();
  }
};

// A connection idle this long is checked before it carries a request: a server ends a
// connection on which no request arrives in time (the bus: its read timeout for a first
// request, its idle timeout for a kept-alive one), and a request sent there is answered by
// nothing ("read: end of stream").
constexpr auto kCheckAfterIdle = std::chrono::milliseconds(20);

bool IsTimeout(const boost::system::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

std::string Describe(std::string_view what, const boost::system::error_code& ec) {
  if (IsTimeout(ec)) return std::string(what) + ": timed out";
  return std::string(what) + ": " + ec.message();
}

class Generator {
 public:
  Generator(const RequestSet& requests, const LoadOptions& options, Target target,
            std::shared_ptr<asio::ssl::context> tls)
      : requests_(requests),
        options_(options),
        target_(std::move(target)),
        tls_(std::move(tls)),
        progress_timer_(ctx_) {
    std::string path = options_.exact_url ? (target_.path.empty() ? std::string("/") : target_.path)
                                          : target_.path + (requests.mode() == Mode::kPush
                                                                ? "/engine/esb/push-request"
                                                                : "/engine/esb/request");
    request_head_ = "POST " + path + " HTTP/1.1\r\nHost: " + target_.host_header +
                    "\r\nUser-Agent: govesb-bench\r\nAccept: application/json\r\n";
    if (!options_.access_token.empty()) {
      request_head_ += "Authorization: Bearer " + options_.access_token + "\r\n";
    }
    request_head_ += "Content-Type: application/json\r\nContent-Length: ";
  }

  Result<LoadReport> Run() {
    boost::system::error_code ec;
    tcp::resolver resolver(ctx_);
    endpoints_ = resolver.resolve(target_.host, target_.port, ec);
    if (ec) return Unavailable("cannot resolve " + target_.host + ": " + ec.message());

    size_t n = std::max<size_t>(options_.connections, 1);
    for (size_t i = 0; i < n; ++i) connections_.push_back(std::make_unique<Connection>(ctx_));

    // Connect everything before the clock starts.
    for (auto& c : connections_) {
      asio::co_spawn(ctx_, InitialConnect(*c), asio::detached);
    }
    ctx_.run();
    ctx_.restart();
    size_t connected = 0;
    for (auto& c : connections_) connected += c->connected() ? 1 : 0;
    if (connected == 0) {
      return Unavailable("cannot connect to " + target_.host + ":" + target_.port + ": " +
                         first_connect_error_);
    }

    t0_ = SteadyClock::now();
    warm_end_ = t0_ + std::chrono::duration_cast<SteadyClock::duration>(options_.warmup);
    end_ = warm_end_ + std::chrono::duration_cast<SteadyClock::duration>(options_.duration);
    drain_deadline_ = end_ + options_.timeout;
    last_done_ = end_;
    last_progress_ = t0_;

    live_ = connections_.size();
    for (auto& c : connections_) asio::co_spawn(ctx_, Drive(*c), asio::detached);
    if (open_loop()) asio::co_spawn(ctx_, Schedule(), asio::detached);
    asio::co_spawn(ctx_, ReportProgress(), asio::detached);
    ctx_.run();
    for (auto& c : connections_) c->Close();
    return MakeReport();
  }

 private:
  bool open_loop() const { return options_.rate > 0; }

  asio::awaitable<void> InitialConnect(Connection& c) {
    auto pending = Connect(c);
    std::string error = co_await std::move(pending);
    if (!error.empty() && first_connect_error_.empty()) first_connect_error_ = error;
  }

  // Opens `c`; returns "" or what went wrong.
  asio::awaitable<std::string> Connect(Connection& c) {
    c.Close();
    auto stream = std::make_unique<beast::tcp_stream>(ctx_);
    stream->expires_after(options_.timeout);
    auto [cec, ep] = co_await stream->async_connect(endpoints_, kNoThrow);
    if (cec) co_return Describe("connect", cec);
    boost::system::error_code nd;
    stream->socket().set_option(tcp::no_delay(true), nd);
    ++connects_;
    c.idle_since = SteadyClock::now();
    if (!target_.tls) {
      c.plain = std::move(stream);
      co_return std::string();
    }
    auto secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *tls_);
    if (SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(target_.host.c_str())) != 1) {
      co_return std::string("cannot set the TLS server name");
    }
    secure->set_verify_callback(asio::ssl::host_name_verification(target_.host));
    auto [hec] = co_await secure->async_handshake(asio::ssl::stream_base::client, kNoThrow);
    if (hec) co_return Describe("TLS handshake", hec);
    c.secure = std::move(secure);
    co_return std::string();
  }

  // The next request for `c`, or nothing when `c` should stop.
  asio::awaitable<std::optional<Job>> NextJob(Connection& c) {
    if (!open_loop()) {
      auto now = SteadyClock::now();
      if (now >= end_) co_return std::nullopt;
      Job job{next_index_++, now, now >= warm_end_};
      co_return job;
    }
    for (;;) {
      if (!backlog_.empty()) {
        if (scheduling_done_ && SteadyClock::now() >= drain_deadline_) {
          for (const Job& j : backlog_) {
            if (j.measured) Count(ErrorKind::kUnsent, "still queued when the drain limit passed");
          }
          backlog_.clear();
          co_return std::nullopt;
        }
        Job job = backlog_.front();
        backlog_.pop_front();
        co_return job;
      }
      if (scheduling_done_) co_return std::nullopt;
      idle_.push_back(&c);
      c.wake.expires_at(SteadyClock::time_point::max());
      auto wait = c.wake.async_wait(kNoThrow);
      co_await std::move(wait);
      if (c.assigned) {
        Job job = *c.assigned;
        c.assigned.reset();
        co_return job;
      }
    }
  }

  asio::awaitable<void> Drive(Connection& c) {
    for (;;) {
      auto next = NextJob(c);
      std::optional<Job> job = co_await std::move(next);
      if (!job) break;
      ++in_flight_;
      auto exchange = Exchange(c, *job);
      Outcome outcome = co_await std::move(exchange);
      --in_flight_;
      Record(*job, outcome);
      if (outcome.close) c.Close();
      c.idle_since = SteadyClock::now();
      // Closed loop against a bus that refuses connections: do not spin.
      if (!outcome.ok && !c.connected() && !open_loop()) {
        asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));
        auto wait = pause.async_wait(kNoThrow);
        co_await std::move(wait);
      }
    }
    if (--live_ == 0) progress_timer_.cancel();
  }

  asio::awaitable<Outcome> Exchange(Connection& c, const Job& job) {
    if (c.connected() && SteadyClock::now() - c.idle_since >= kCheckAfterIdle &&
        http::IdleConnectionUnusable(c.socket().native_handle(), c.secure != nullptr)) {
      c.Close();
      ++closed_while_idle_;
    }
    if (!c.connected()) {
      auto connecting = Connect(c);
      std::string error = co_await std::move(connecting);
      if (!error.empty()) {
        Outcome failed;
        failed.message = std::move(error);
        failed.close = true;
        co_return failed;
      }
    }
    uint64_t index = job.index % requests_.size();
    if (job.index >= requests_.size()) ++reused_;
    c.out.clear();
    c.out += request_head_;
    c.out += std::to_string(requests_.EnvelopeSize(index));
    c.out += "\r\n\r\n";
    requests_.AppendEnvelope(index, c.out);
    // (No co_await inside ?: : GCC 12 miscompiles it.)
    std::optional<Outcome> outcome;
    if (c.plain) {
      auto pending = ExchangeOn(*c.plain, c);
      outcome = co_await std::move(pending);
    } else {
      auto pending = ExchangeOn(*c.secure, c);
      outcome = co_await std::move(pending);
    }
    co_return std::move(*outcome);
  }

  template <class Stream>
  asio::awaitable<Outcome> ExchangeOn(Stream& stream, Connection& c) {
    Outcome o;
    beast::get_lowest_layer(stream).expires_after(options_.timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(c.out), kNoThrow);
    if (wec) {
      o.message = Describe("send", wec);
      o.close = true;
      co_return o;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [rec, rn] = co_await bhttp::async_read(stream, c.buffer, parser, kNoThrow);
    if (rec) {
      o.message = Describe("read", rec);
      o.close = true;
      co_return o;
    }
    const auto& res = parser.get();
    o.close = !res.keep_alive();
    unsigned status = res.result_int();
    if (status >= 500) {
      o.kind = ErrorKind::kHttp5xx;
      o.message = "HTTP " + std::to_string(status);
    } else if (status < 200 || status >= 300) {
      o.kind = ErrorKind::kHttp4xx;
      o.message = "HTTP " + std::to_string(status);
    } else if (!std::string_view(res.body()).starts_with(kSuccessPrefix)) {
      o.kind = ErrorKind::kRefused;
      o.message = res.body().substr(0, 300);
    } else {
      o.ok = true;
    }
    if (!o.ok && status >= 400) o.message += ": " + res.body().substr(0, 300);
    co_return o;
  }

  // Open loop: hands out request i at t0 + i/rate to an idle connection, or queues it.
  asio::awaitable<void> Schedule() {
    asio::steady_timer timer(ctx_);
    const double interval_ns = 1e9 / options_.rate;
    for (uint64_t i = 0;; ++i) {
      auto at = t0_ + std::chrono::nanoseconds(
                          static_cast<int64_t>(std::llround(static_cast<double>(i) * interval_ns)));
      if (at >= end_) break;
      if (at > SteadyClock::now()) {
        timer.expires_at(at);
        auto wait = timer.async_wait(kNoThrow);
        co_await std::move(wait);
      } else if ((i & 255) == 255) {
        // Far behind schedule: let the connections run now and then.
        auto yield = asio::post(ctx_, asio::use_awaitable);
        co_await std::move(yield);
      }
      Job job{i, at, at >= warm_end_};
      if (!idle_.empty()) {
        Connection* c = idle_.back();
        idle_.pop_back();
        c->assigned = job;
        c->wake.cancel();
      } else {
        backlog_.push_back(job);
      }
    }
    scheduling_done_ = true;
    for (Connection* c : idle_) c->wake.cancel();
    idle_.clear();
  }

  void Count(ErrorKind kind, std::string_view message) {
    auto k = static_cast<size_t>(kind);
    ++errors_[k];
    if (first_error_[k].empty()) first_error_[k] = std::string(message);
  }

  void Record(const Job& job, const Outcome& outcome) {
    auto done = SteadyClock::now();
    ++completed_;
    if (outcome.ok) {
      ++ok_total_;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(done - job.start).count();
      recent_.Record(static_cast<uint64_t>(std::max<int64_t>(ns, 0)));
    } else {
      ++errors_total_;
    }
    if (!job.measured) {
      ++warmup_requests_;
      return;
    }
    ++requests_measured_;
    last_done_ = std::max(last_done_, done);
    if (outcome.ok) {
      ++ok_;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(done - job.start).count();
      latency_.Record(static_cast<uint64_t>(std::max<int64_t>(ns, 0)));
    } else {
      Count(outcome.kind, outcome.message);
    }
  }

  asio::awaitable<void> ReportProgress() {
    uint64_t last_completed = 0;
    while (live_ > 0) {
      progress_timer_.expires_after(options_.progress_interval);
      auto wait = progress_timer_.async_wait(kNoThrow);
      co_await std::move(wait);
      if (live_ == 0) break;
      auto now = SteadyClock::now();
      double interval = std::chrono::duration<double>(now - last_progress_).count();
      last_progress_ = now;
      Progress p;
      p.elapsed_s = std::chrono::duration<double>(now - t0_).count();
      p.phase = now < warm_end_ ? "warmup" : now < end_ ? "measure" : "drain";
      p.completed = completed_;
      p.ok = ok_total_;
      p.errors = errors_total_;
      p.recent_rps = interval > 0 ? static_cast<double>(completed_ - last_completed) / interval : 0;
      p.recent_p99_ms = static_cast<double>(recent_.ValueAtPercentile(99)) / 1e6;
      p.in_flight = in_flight_;
      p.backlog = backlog_.size();
      last_completed = completed_;
      recent_.Reset();
      if (options_.on_progress) options_.on_progress(p);
    }
  }

  LoadReport MakeReport() {
    LoadReport r;
    r.mode = requests_.mode();
    r.connections = connections_.size();
    r.duration_s = options_.duration.count();
    r.warmup_s = options_.warmup.count();
    r.rate_target = options_.rate;
    r.requests = requests_measured_ + errors_[static_cast<size_t>(ErrorKind::kUnsent)];
    r.ok = ok_;
    r.errors = errors_;
    r.first_error = first_error_;
    r.elapsed_s = std::chrono::duration<double>(last_done_ - warm_end_).count();
    if (r.elapsed_s > 0) {
      r.throughput_rps = static_cast<double>(requests_measured_) / r.elapsed_s;
      r.ok_rps = static_cast<double>(ok_) / r.elapsed_s;
    }
    r.latency_ns = latency_;
    r.reused_envelopes = reused_;
    r.warmup_requests = warmup_requests_;
    r.connects = connects_;
    r.closed_while_idle = closed_while_idle_;
    r.body_size = requests_.body_size();
    r.presigned = requests_.size();
    return r;
  }

  const RequestSet& requests_;
  const LoadOptions& options_;
  Target target_;
  std::shared_ptr<asio::ssl::context> tls_;
  asio::io_context ctx_{1};
  tcp::resolver::results_type endpoints_;
  std::vector<std::unique_ptr<Connection>> connections_;
  asio::steady_timer progress_timer_;
  std::string request_head_;
  std::string first_connect_error_;

  SteadyClock::time_point t0_, warm_end_, end_, drain_deadline_, last_done_, last_progress_;
  uint64_t next_index_ = 0;  // closed loop
  std::deque<Job> backlog_;  // open loop
  std::vector<Connection*> idle_;
  bool scheduling_done_ = false;
  size_t live_ = 0;
  size_t in_flight_ = 0;

  // Measured window.
  uint64_t requests_measured_ = 0;
  uint64_t ok_ = 0;
  std::array<uint64_t, kErrorKinds> errors_{};
  std::array<std::string, kErrorKinds> first_error_;
  Histogram latency_;
  uint64_t reused_ = 0;
  uint64_t warmup_requests_ = 0;
  // Whole run, for progress.
  uint64_t completed_ = 0;
  uint64_t ok_total_ = 0;
  uint64_t errors_total_ = 0;
  uint64_t connects_ = 0;
  uint64_t closed_while_idle_ = 0;
  Histogram recent_;
};

}  // namespace

Result<LoadReport> RunLoad(const RequestSet& requests, const LoadOptions& options) {
  if (requests.size() == 0) return InvalidArgument("no pre-signed requests");
  if (options.rate < 0) return InvalidArgument("the rate must not be negative");
  if (options.duration.count() <= 0) return InvalidArgument("the duration must be positive");
  GOVESB_ASSIGN_OR_RETURN(Target target, ParseTarget(options.url));
  std::shared_ptr<asio::ssl::context> tls;
  if (target.tls) {
    GOVESB_ASSIGN_OR_RETURN(tls, http::MakeClientTlsContext(options.ca_file));
  }
  auto generator = std::make_unique<Generator>(requests, options, std::move(target), tls);
  return generator->Run();
}

}  // namespace govesb::bench
