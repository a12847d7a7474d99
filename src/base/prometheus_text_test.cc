#include "base/prometheus_text.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>

#include "base/process_stats.h"

namespace govesb {
namespace {

TEST(PrometheusText, WritesFamiliesSamplesAndEscapedLabels) {
  std::string out;
  prometheus::Family(out, "govesb_x_total", "counter", "Things.\nWith a \\ in it.");
  prometheus::Sample(out, "govesb_x_total", {{"api", "A\"B"}, {"who", "a\\b\nc"}}, uint64_t{3});
  prometheus::Sample(out, "govesb_y", int64_t{-2});
  prometheus::Sample(out, "govesb_z", 0.25);
  EXPECT_EQ(out,
            "# HELP govesb_x_total Things.\\nWith a \\\\ in it.\n"
            "# TYPE govesb_x_total counter\n"
            "govesb_x_total{api=\"A\\\"B\",who=\"a\\\\b\\nc\"} 3\n"
            "govesb_y -2\n"
            "govesb_z 0.25\n");
}

TEST(PrometheusText, HistogramsAreCumulativeWithInfSumAndCount) {
  std::string out;
  const std::array<double, 2> bounds = {0.001, 0.5};
  const std::array<uint64_t, 3> counts = {2, 0, 5};
  const std::array<prometheus::Label, 1> labels = {{{"api", "X"}}};
  prometheus::Histogram(out, "h_seconds", labels, bounds, counts, 7.5);
  EXPECT_EQ(out,
            "h_seconds_bucket{api=\"X\",le=\"0.001\"} 2\n"
            "h_seconds_bucket{api=\"X\",le=\"0.5\"} 2\n"
            "h_seconds_bucket{api=\"X\",le=\"+Inf\"} 7\n"
            "h_seconds_sum{api=\"X\"} 7.5\n"
            "h_seconds_count{api=\"X\"} 7\n");
}

TEST(ProcessStats, ReadsThisProcess) {
  auto before = ReadProcessStats();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_GT(before->resident_bytes, 0u);
  EXPECT_GE(before->virtual_bytes, before->resident_bytes);
  EXPECT_GE(before->open_fds, 3) << "stdin, stdout, stderr at least";
  EXPECT_GT(before->max_fds, 0);
  EXPECT_GT(before->start_time_seconds, 1.6e9);
  std::thread other([] {
    auto during = ReadProcessStats();
    ASSERT_TRUE(during.ok());
    EXPECT_GE(during->threads, 2) << "this thread and the test's";
  });
  other.join();
  std::string out;
  AppendProcessMetrics(*before, out);
  EXPECT_NE(out.find("\nprocess_open_fds "), std::string::npos) << out;
  EXPECT_NE(out.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace govesb
