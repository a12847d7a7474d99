#include "bench/drain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "delivery/dispatcher.h"
#include "http/io_threads.h"
#include "http/server.h"

namespace govesb::bench {
namespace {

// What the bus's /metrics says, from the bus's own formatter.
std::string BusMetrics(int64_t depth, int64_t delivered, int64_t dead = 0) {
  delivery::DeliveryMetrics m;
  m.pending = depth;
  m.delivered = delivered;
  m.dead_lettered = dead;
  m.accepted_messages = 1'234'567;
  m.attempts_by_outcome["ok"] = delivered;
  m.latency_buckets = {{0.001, delivered}};
  m.latency_count = delivered;
  return "# HELP govesb_registry_systems Enabled systems in the registry.\n"
         "# TYPE govesb_registry_systems gauge\ngovesb_registry_systems 5\n" +
         delivery::PrometheusText(m);
}

TEST(DrainTest, ReadsTheBusMetricsFormat) {
  auto s = ParseDeliverySample(BusMetrics(250'000, 3'000'001, 2), 1.5);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->queue_depth, 250'000);
  EXPECT_EQ(s->delivered, 3'000'001);
  EXPECT_EQ(s->dead_lettered, 2);
  EXPECT_EQ(s->accepted, 1'234'567);
  EXPECT_EQ(s->t_s, 1.5);
  // Labelled samples and longer names sharing the prefix are not the unlabelled value.
  EXPECT_EQ(PrometheusValue("x_total{a=\"b\"} 3\nx_total_more 4\nx_total 5\n", "x_total"), 5.0);
  EXPECT_EQ(PrometheusValue("x 1e+06\n", "x"), 1e6);
  EXPECT_FALSE(PrometheusValue("# x 1\n", "x").has_value());
  auto none = ParseDeliverySample("govesb_registry_systems 5\n", 0);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
}

TEST(DrainTest, TheSpanRunsFromJustBeforeTheFirstAckToTheEmptyQueue) {
  std::vector<DeliverySample> samples = {
      {0.0, 1000, 50, 0, 0},  // recipients not answering yet
      {0.1, 1000, 50, 0, 0},  // last sample before the first ack: the span starts here
      {0.2, 900, 150, 0, 0}, {0.3, 500, 550, 0, 0},
      {0.6, 0, 1050, 0, 0},  // drained: the span ends here
      {0.7, 0, 1050, 0, 0},
  };
  DrainReport r = SummarizeDrain(samples, 0.1);
  EXPECT_TRUE(r.drained);
  EXPECT_EQ(r.start_depth, 1000);
  EXPECT_EQ(r.end_depth, 0);
  EXPECT_DOUBLE_EQ(r.wait_s, 0.1);
  EXPECT_DOUBLE_EQ(r.elapsed_s, 0.5);
  EXPECT_EQ(r.delivered, 1000);
  EXPECT_DOUBLE_EQ(r.deliveries_per_s, 2000);
  EXPECT_EQ(r.samples, 6u);
  std::string json = DrainReportJson(r);
  EXPECT_NE(json.find("\"drained\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"deliveries_per_s\":2000"), std::string::npos) << json;
}

TEST(DrainTest, NoAcknowledgementAndNoDrainAreReported) {
  DrainReport idle = SummarizeDrain({{0, 10, 0, 0, 0}, {1, 10, 0, 0, 0}}, 1);
  EXPECT_FALSE(idle.drained);
  EXPECT_EQ(idle.delivered, 0);
  EXPECT_EQ(idle.deliveries_per_s, 0);
  EXPECT_EQ(idle.end_depth, 10);
  DrainReport partial = SummarizeDrain({{0, 10, 0, 0, 0}, {1, 6, 4, 0, 0}, {2, 4, 6, 0, 0}}, 1);
  EXPECT_FALSE(partial.drained);
  EXPECT_EQ(partial.delivered, 6);
  EXPECT_DOUBLE_EQ(partial.elapsed_s, 2);
  EXPECT_TRUE(SummarizeDrain({}, 1).samples == 0);
}

// A bus stand-in whose queue drains by 100 deliveries per /metrics read, once released.
class DrainingBus {
 public:
  DrainingBus() {
    server_ = std::make_unique<http::HttpServer>(
        io_, http::ServerOptions{},
        [this](http::HttpRequest& req) -> boost::asio::awaitable<http::HttpResponse> {
          if (req.target != "/metrics") co_return http::HttpResponse::Json(404, "{}");
          int64_t delivered = released_ ? std::min<int64_t>(1000, 100 * ++reads_) : 0;
          http::HttpResponse r;
          r.content_type = "text/plain; version=0.0.4";
          r.body = BusMetrics(1000 - delivered, delivered);
          co_return r;
        });
    GOVESB_CHECK(server_->Listen().ok());
    server_->Start();
    io_.Start();
  }
  ~DrainingBus() {
    server_->Shutdown();
    io_.Stop();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/"; }
  void Release() { released_ = true; }

 private:
  http::IoThreads io_{1};
  std::unique_ptr<http::HttpServer> server_;
  std::atomic<bool> released_{false};
  int64_t reads_ = 0;  // only on the server's one thread
};

TEST(DrainTest, WatchesUntilTheQueueIsEmpty) {
  DrainingBus bus;
  DrainOptions options;
  options.url = bus.url();
  options.interval = std::chrono::milliseconds(1);
  options.timeout = std::chrono::milliseconds(20'000);
  int first_calls = 0;
  options.on_first_sample = [&](const DeliverySample& s) {
    ++first_calls;
    EXPECT_EQ(s.queue_depth, 1000);
    bus.Release();  // as bench/run starts the subscribers once the watch has its baseline
  };
  auto report = WatchDrain(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(first_calls, 1);
  EXPECT_TRUE(report->drained);
  EXPECT_EQ(report->start_depth, 1000);
  EXPECT_EQ(report->delivered, 1000);
  EXPECT_EQ(report->samples, 11u);
  EXPECT_GT(report->deliveries_per_s, 0);
}

TEST(DrainTest, FailsWhenTheBusCannotBeRead) {
  DrainOptions options;
  options.url = "https://127.0.0.1:1/";
  EXPECT_EQ(WatchDrain(options).status().code(), StatusCode::kInvalidArgument);
  options.url = "http://127.0.0.1:1/";  // nothing listens on port 1
  EXPECT_EQ(WatchDrain(options).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace govesb::bench
