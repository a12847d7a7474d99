#include "bench/drain.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cmath>

#include "bench/json_out.h"

namespace govesb::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

std::optional<double> PrometheusValue(std::string_view text, std::string_view name) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
        line[name.size()] != ' ') {
      continue;  // another family, a comment, or a labelled sample
    }
    std::string value(line.substr(name.size() + 1));
    char* parsed_end = nullptr;
    double v = std::strtod(value.c_str(), &parsed_end);  // also "1e+06", "NaN", "+Inf"
    if (parsed_end == value.c_str()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

Result<DeliverySample> ParseDeliverySample(std::string_view metrics, double t_s) {
  auto depth = PrometheusValue(metrics, "govesb_delivery_queue_depth");
  auto delivered = PrometheusValue(metrics, "govesb_delivery_delivered_total");
  if (!depth || !delivered) {
    return FailedPrecondition(
        "the bus's /metrics has no govesb_delivery_queue_depth or "
        "govesb_delivery_delivered_total: push is not enabled on it");
  }
  DeliverySample s;
  s.t_s = t_s;
  s.queue_depth = std::llround(*depth);
  s.delivered = std::llround(*delivered);
  s.dead_lettered =
      std::llround(PrometheusValue(metrics, "govesb_delivery_dead_lettered_total").value_or(0));
  s.accepted =
      std::llround(PrometheusValue(metrics, "govesb_delivery_messages_accepted_total").value_or(0));
  return s;
}

DrainReport SummarizeDrain(const std::vector<DeliverySample>& samples, double interval_s) {
  DrainReport r;
  r.samples = samples.size();
  r.interval_s = interval_s;
  if (samples.empty()) return r;
  const DeliverySample& first = samples.front();
  r.start_depth = first.queue_depth;
  size_t k = 1;
  while (k < samples.size() && samples[k].delivered <= first.delivered) ++k;
  if (k == samples.size()) {  // nothing was acknowledged
    r.end_depth = samples.back().queue_depth;
    r.drained = r.end_depth == 0;
    r.wait_s = samples.back().t_s - first.t_s;
    return r;
  }
  size_t e = k;
  while (e + 1 < samples.size() && samples[e].queue_depth != 0) ++e;
  const DeliverySample& from = samples[k - 1];
  const DeliverySample& to = samples[e];
  r.end_depth = to.queue_depth;
  r.drained = to.queue_depth == 0;
  r.wait_s = from.t_s - first.t_s;
  r.elapsed_s = to.t_s - from.t_s;
  r.delivered = to.delivered - from.delivered;
  r.dead_lettered = to.dead_lettered - from.dead_lettered;
  r.deliveries_per_s = r.elapsed_s > 0 ? static_cast<double>(r.delivered) / r.elapsed_s : 0;
  return r;
}

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kReadTimeout{5};

// The sampling loop: one keep-alive connection, a GET every interval.
class DrainWatcher {
 public:
  DrainWatcher(const DrainOptions& options, std::string host, std::string port, std::string target)
      : options_(options),
        host_(std::move(host)),
        port_(std::move(port)),
        target_(std::move(target)) {}

  Result<std::vector<DeliverySample>> Run() {
    asio::co_spawn(ctx_, Loop(), asio::detached);
    ctx_.run();
    if (!failure_.ok()) return failure_;
    return std::move(samples_);
  }

 private:
  // The body of one GET <target>, or what went wrong.
  asio::awaitable<Result<std::string>> Get() {
    if (!stream_) {
      stream_ = std::make_unique<beast::tcp_stream>(ctx_);
      stream_->expires_after(kReadTimeout);
      auto connecting = stream_->async_connect(endpoints_, kNoThrow);
      auto [cec, ep] = co_await std::move(connecting);
      if (cec) {
        stream_.reset();
        co_return Unavailable("cannot connect to " + host_ + ":" + port_ + ": " + cec.message());
      }
    }
    bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target_, 11};
    request.set(bhttp::field::host, host_);
    request.keep_alive(true);
    stream_->expires_after(kReadTimeout);
    auto writing = bhttp::async_write(*stream_, request, kNoThrow);
    auto [wec, wn] = co_await std::move(writing);
    bhttp::response<bhttp::string_body> response;
    boost::system::error_code rec;
    if (!wec) {
      auto reading = bhttp::async_read(*stream_, buffer_, response, kNoThrow);
      auto [ec, rn] = co_await std::move(reading);
      rec = ec;
    }
    if (wec || rec) {
      stream_.reset();
      buffer_.clear();
      co_return Unavailable("GET " + target_ + ": " + (wec ? wec : rec).message());
    }
    if (!response.keep_alive()) {
      stream_.reset();
      buffer_.clear();
    }
    if (response.result_int() != 200) {
      co_return Unavailable("GET " + target_ + " answered HTTP " +
                            std::to_string(response.result_int()));
    }
    co_return std::move(response.body());
  }

  asio::awaitable<void> Loop() {
    tcp::resolver resolver(ctx_);
    auto resolving = resolver.async_resolve(host_, port_, kNoThrow);
    auto [rec, results] = co_await std::move(resolving);
    if (rec) {
      failure_ = Unavailable("cannot resolve " + host_ + ": " + rec.message());
      co_return;
    }
    endpoints_ = results;
    auto start = SteadyClock::now();
    auto deadline = start + options_.timeout;
    auto next = start;
    double last_progress = 0;
    asio::steady_timer timer(ctx_);
    for (;;) {
      auto getting = Get();
      Result<std::string> body = co_await std::move(getting);
      double t = std::chrono::duration<double>(SteadyClock::now() - start).count();
      if (body.ok()) {
        auto sample = ParseDeliverySample(*body, t);
        if (!sample.ok()) {
          failure_ = sample.status();
          co_return;
        }
        samples_.push_back(*sample);
        if (samples_.size() == 1 && options_.on_first_sample) options_.on_first_sample(*sample);
        if (t - last_progress >= 1.0) {
          last_progress = t;
          if (options_.on_progress) options_.on_progress(*sample);
        }
        if (sample->queue_depth == 0) co_return;
      } else if (samples_.empty()) {
        failure_ = body.status();
        co_return;
      }
      if (SteadyClock::now() >= deadline) co_return;
      next += options_.interval;
      timer.expires_at(next);
      auto waiting = timer.async_wait(kNoThrow);
      co_await std::move(waiting);
    }
  }

  const DrainOptions& options_;
  std::string host_;
  std::string port_;
  std::string target_;
  asio::io_context ctx_;
  tcp::resolver::results_type endpoints_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::vector<DeliverySample> samples_;
  Status failure_ = Status::Ok();
};

}  // namespace

Result<DrainReport> WatchDrain(const DrainOptions& options) {
  auto url = boost::urls::parse_absolute_uri(options.url);
  if (!url || url->scheme() != "http") {
    return InvalidArgument("--url must be a plain http:// bus URL (serve --plain-http)");
  }
  if (options.interval.count() <= 0) return InvalidArgument("the interval must be positive");
  std::string host(url->encoded_host());
  std::string port = url->has_port() ? std::string(url->port()) : "80";
  std::string target(url->encoded_path());
  while (!target.empty() && target.back() == '/') target.pop_back();
  target += "/metrics";
  DrainWatcher watcher(options, host, port, target);
  GOVESB_ASSIGN_OR_RETURN(std::vector<DeliverySample> samples, watcher.Run());
  return SummarizeDrain(samples, std::chrono::duration<double>(options.interval).count());
}

std::string DrainReportJson(const DrainReport& r) {
  JsonObjectWriter w;
  w.Integer("start_depth", static_cast<uint64_t>(std::max<int64_t>(r.start_depth, 0)))
      .Integer("end_depth", static_cast<uint64_t>(std::max<int64_t>(r.end_depth, 0)))
      .Raw("drained", r.drained ? "true" : "false")
      .Number("wait_s", r.wait_s)
      .Number("elapsed_s", r.elapsed_s)
      .Integer("delivered", static_cast<uint64_t>(std::max<int64_t>(r.delivered, 0)))
      .Integer("dead_lettered", static_cast<uint64_t>(std::max<int64_t>(r.dead_lettered, 0)))
      .Number("deliveries_per_s", r.deliveries_per_s, 1)
      .Integer("samples", r.samples)
      .Number("interval_s", r.interval_s);
  return w.Finish();
}

std::string DrainReportTable(const DrainReport& r) {
  std::string out;
  out += "queue at start    " + std::to_string(r.start_depth) + " deliveries\n";
  out += "first ack after   " + FormatDecimal(r.wait_s, 3) + " s\n";
  out += "acknowledged      " + std::to_string(r.delivered) + " in " +
         FormatDecimal(r.elapsed_s, 3) + " s\n";
  out += "throughput        " + FormatDecimal(r.deliveries_per_s, 1) + " deliveries/s\n";
  out += "dead-lettered     " + std::to_string(r.dead_lettered) + "\n";
  out += std::string("queue at end      ") + std::to_string(r.end_depth) +
         (r.drained ? " (drained)" : " (NOT drained: timed out)") + "\n";
  out += "samples           " + std::to_string(r.samples) + " every " +
         FormatDecimal(r.interval_s * 1000, 0) + " ms\n";
  return out;
}

}  // namespace govesb::bench
