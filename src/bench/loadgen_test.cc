#include "bench/loadgen.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <mutex>
#include <set>

#include "http/io_threads.h"
#include "http/server.h"

namespace govesb::bench {
namespace {

constexpr std::string_view kSuccess =
    R"({"data":{"success":true,"requestId":"0123456789abcdef0123456789abcdef","message":"Success","esbBody":{}},"signature":"c2ln"})";
constexpr std::string_view kRefusal =
    R"({"data":{"success":false,"requestId":"0123456789abcdef0123456789abcdef","message":"no access","esbBody":{}},"signature":"c2ln"})";

// An in-process bus stand-in: answers every request with a fixed status and body, and keeps
// what a test wants to check about the requests it received.
class FixedServer {
 public:
  FixedServer(int status, std::string_view body) : status_(status), body_(body) {
    server_ = std::make_unique<http::HttpServer>(
        io_, http::ServerOptions{},
        [this](http::HttpRequest& req) -> boost::asio::awaitable<http::HttpResponse> {
          {
            std::lock_guard lock(mu_);
            ++received_;
            bodies_.insert(req.body);
            if (req.authorization != "Bearer test-token") ++bad_auth_;
            if (req.target != "/engine/esb/request" && req.target != "/engine/esb/push-request") {
              ++bad_target_;
            }
          }
          co_return http::HttpResponse::Json(status_, body_);
        });
    GOVESB_CHECK(server_->Listen().ok());
    server_->Start();
    io_.Start();
  }
  ~FixedServer() {
    server_->Shutdown();
    io_.Stop();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  uint64_t received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  size_t distinct_bodies() {
    std::lock_guard lock(mu_);
    return bodies_.size();
  }
  uint64_t bad_auth() {
    std::lock_guard lock(mu_);
    return bad_auth_;
  }
  uint64_t bad_target() {
    std::lock_guard lock(mu_);
    return bad_target_;
  }

 private:
  int status_;
  std::string body_;
  http::IoThreads io_{1};
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  uint64_t received_ = 0;
  uint64_t bad_auth_ = 0;
  uint64_t bad_target_ = 0;
  std::set<std::string> bodies_;
};

// A bus stand-in that answers its n-th request (from 0) with a success after delay(n).
class DelayingServer {
 public:
  explicit DelayingServer(std::function<std::chrono::milliseconds(uint64_t)> delay,
                          http::ServerOptions options = {})
      : delay_(std::move(delay)),
        server_(io_, std::move(options),
                [this](http::HttpRequest&) -> boost::asio::awaitable<http::HttpResponse> {
                  auto pause = delay_(received_.fetch_add(1));
                  if (pause.count() > 0) {
                    auto executor = co_await boost::asio::this_coro::executor;
                    boost::asio::steady_timer service(executor, pause);
                    auto wait =
                        service.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                    co_await std::move(wait);
                  }
                  co_return http::HttpResponse::Json(200, std::string(kSuccess));
                }) {
    GOVESB_CHECK(server_.Listen().ok());
    server_.Start();
    io_.Start();
  }
  ~DelayingServer() {
    server_.Shutdown();
    io_.Stop();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  uint64_t received() const { return received_.load(); }

 private:
  http::IoThreads io_{1};
  std::function<std::chrono::milliseconds(uint64_t)> delay_;
  std::atomic<uint64_t> received_{0};
  http::HttpServer server_;
};

class LoadgenTest : public ::testing::Test {
 protected:
  // Shared by the tests: signing is the slow part.
  static const RequestSet& Requests() {
    static const RequestSet set = [] {
      auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
      GOVESB_CHECK(key.ok());
      WorkloadOptions w;
      w.body_size = 256;
      return RequestSet::Presign(*key, w, 20'000);
    }();
    return set;
  }

  LoadOptions Options(const FixedServer& server) {
    LoadOptions o;
    o.url = server.url();
    o.access_token = "test-token";
    o.connections = 8;
    o.duration = std::chrono::duration<double>(0.5);
    o.warmup = std::chrono::duration<double>(0.2);
    o.timeout = std::chrono::milliseconds(5000);
    return o;
  }
};

TEST_F(LoadgenTest, ClosedLoopCountsEveryAnswerAndNoErrors) {
  FixedServer server(200, kSuccess);
  LoadOptions options = Options(server);
  int progress_calls = 0;
  options.progress_interval = std::chrono::milliseconds(100);
  options.on_progress = [&](const Progress&) { ++progress_calls; };
  auto report = RunLoad(Requests(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->requests, 0u);
  EXPECT_EQ(report->ok, report->requests);
  EXPECT_EQ(report->error_total(), 0u);
  EXPECT_EQ(report->requests + report->warmup_requests, server.received());
  EXPECT_EQ(report->latency_ns.count(), report->ok);
  EXPECT_GT(report->latency_ns.ValueAtPercentile(50), 0u);
  EXPECT_GT(report->throughput_rps, 0.0);
  EXPECT_GE(report->elapsed_s, 0.5);
  EXPECT_EQ(report->connects, 8u);  // keep-alive: no reconnection
  EXPECT_EQ(report->closed_while_idle, 0u);
  EXPECT_EQ(server.distinct_bodies(), std::min<uint64_t>(server.received(), Requests().size()));
  EXPECT_EQ(server.bad_auth(), 0u);
  EXPECT_EQ(server.bad_target(), 0u);
  EXPECT_GE(progress_calls, 4);
  std::string json = LoadReportJson(*report);
  EXPECT_NE(json.find("\"mode\":\"request\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"latency_ms\":{\"p50\":"), std::string::npos) << json;
}

TEST_F(LoadgenTest, ServerErrorsAreCountedAsHttp5xx) {
  FixedServer server(500, R"({"error":"boom"})");
  LoadOptions options = Options(server);
  options.duration = std::chrono::duration<double>(0.3);
  options.warmup = std::chrono::duration<double>(0);
  auto report = RunLoad(Requests(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->requests, 0u);
  EXPECT_EQ(report->ok, 0u);
  EXPECT_EQ(report->errors[static_cast<size_t>(ErrorKind::kHttp5xx)], report->requests);
  EXPECT_EQ(report->error_total(), report->requests);
  EXPECT_EQ(report->latency_ns.count(), 0u);
  EXPECT_NE(report->first_error[static_cast<size_t>(ErrorKind::kHttp5xx)].find("HTTP 500"),
            std::string::npos);
}

TEST_F(LoadgenTest, SuccessFalseIsARefusal) {
  FixedServer server(200, kRefusal);
  LoadOptions options = Options(server);
  options.duration = std::chrono::duration<double>(0.2);
  options.warmup = std::chrono::duration<double>(0);
  auto report = RunLoad(Requests(), options);
  ASSERT_TRUE(report.ok());
  EXPECT_GT(report->requests, 0u);
  EXPECT_EQ(report->errors[static_cast<size_t>(ErrorKind::kRefused)], report->requests);
}

TEST_F(LoadgenTest, OpenLoopKeepsTheRate) {
  FixedServer server(200, kSuccess);
  LoadOptions options = Options(server);
  options.rate = 500;
  options.duration = std::chrono::duration<double>(1.0);
  options.warmup = std::chrono::duration<double>(0);
  auto report = RunLoad(Requests(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GE(report->requests, 450u);
  EXPECT_LE(report->requests, 550u);
  EXPECT_EQ(report->ok, report->requests);
  EXPECT_EQ(server.received(), report->requests);
  EXPECT_EQ(report->reused_envelopes, 0u);
  EXPECT_EQ(server.distinct_bodies(), report->requests);
}

TEST_F(LoadgenTest, OpenLoopMeasuresFromTheScheduledTime) {
  // One connection, a server that takes 10 ms per answer, requests every 2.5 ms: the queue
  // grows, and latency measured from the schedule must show it (coordinated omission).
  DelayingServer slow([](uint64_t) { return std::chrono::milliseconds(10); });
  LoadOptions options;
  options.url = slow.url();
  options.access_token = "test-token";
  options.connections = 1;
  options.rate = 400;
  options.duration = std::chrono::duration<double>(0.2);
  options.warmup = std::chrono::duration<double>(0);
  auto report = RunLoad(Requests(), options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->ok, 80u);
  // The last of 80 requests waits for ~79 answers of 10 ms: about 0.6 s after its schedule,
  // far above the 10 ms of service a closed-loop measurement would report.
  EXPECT_GT(report->latency_ns.max(), 400'000'000u);
  EXPECT_GT(report->latency_ns.ValueAtPercentile(50), 100'000'000u);
}

TEST_F(LoadgenTest, OpenLoopReconnectsWhereTheServerClosedAnIdleConnection) {
  // The bus ends a connection on which no request arrives within its read timeout (30 s by
  // default; 150 ms here). At a low rate the generator keeps reusing the connection that
  // answered last, so the others idle from the start, and the server closes them. Then four
  // answers take 600 ms, the requests scheduled meanwhile go to those idle connections, and
  // they must be sent on new ones, not on a connection the server closed long before (that
  // was "read: end of stream", no answer).
  http::ServerOptions server_options;
  server_options.read_timeout = std::chrono::milliseconds(150);
  DelayingServer server(
      [](uint64_t n) { return std::chrono::milliseconds(n >= 8 && n < 12 ? 600 : 0); },
      server_options);
  LoadOptions options;
  options.url = server.url();
  options.access_token = "test-token";
  options.connections = 8;
  options.rate = 20;  // one request every 50 ms; the slow ones from 400 ms on
  options.duration = std::chrono::duration<double>(1.0);
  options.warmup = std::chrono::duration<double>(0);
  auto report = RunLoad(Requests(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->requests, 20u);
  EXPECT_EQ(report->ok, 20u) << report->first_error[static_cast<size_t>(ErrorKind::kTransport)];
  EXPECT_EQ(server.received(), 20u);
  // The slow answers kept four connections busy at once: at least three requests went to
  // connections the server had closed, and were sent on new ones.
  EXPECT_GE(report->closed_while_idle, 3u);
  EXPECT_EQ(report->connects, 8u + report->closed_while_idle);
}

TEST_F(LoadgenTest, NothingListeningIsAnError) {
  LoadOptions options;
  {
    FixedServer gone(200, kSuccess);
    options = Options(gone);
  }
  auto report = RunLoad(Requests(), options);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace govesb::bench
