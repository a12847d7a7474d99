#pragma once

// A private Prometheus server on this machine, for tests: Debian's /usr/bin/prometheus
// (package prometheus, installed by scripts/setup) on a free loopback port, with its config,
// its database and its log in a temporary directory, scraping the given targets. Start returns
// once it answers /-/ready. Stopped (SIGTERM, then SIGKILL) and removed on destruction; the
// child also gets SIGKILL if the thread that started it dies (PR_SET_PDEATHSIG), so a crashed
// test leaves no server behind.
//
// Threading: one thread at a time.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace govesb::testing {

struct LocalPrometheusOptions {
  // HOST:PORT of each target scraped at GET /metrics, in one job named "govesb".
  std::vector<std::string> targets;
  std::chrono::milliseconds scrape_interval{1000};
  std::chrono::milliseconds ready_timeout{30'000};
  std::string binary = "/usr/bin/prometheus";
};

class LocalPrometheus {
 public:
  // kFailedPrecondition (naming the package) when the binary is missing.
  static Result<std::unique_ptr<LocalPrometheus>> Start(LocalPrometheusOptions options);
  ~LocalPrometheus();
  LocalPrometheus(const LocalPrometheus&) = delete;
  LocalPrometheus& operator=(const LocalPrometheus&) = delete;

  // http://127.0.0.1:PORT
  std::string url() const;
  // An instant query through the HTTP API (GET /api/v1/query): the answer's JSON text.
  Result<std::string> Query(std::string_view promql) const;
  // The first sample's value of an instant query's vector result; nullopt when the result is
  // empty. Fails when the query fails.
  Result<std::optional<double>> QueryValue(std::string_view promql) const;
  // The end of the server's log (for failure messages).
  std::string LogTail() const;

 private:
  LocalPrometheus() = default;
  void Stop();

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace govesb::testing
