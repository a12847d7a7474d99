#include "support/local_prometheus.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "support/test_http_client.h"
#include "support/test_receiver.h"

namespace govesb::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Seconds(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + "ms"; }

}  // namespace

Result<std::unique_ptr<LocalPrometheus>> LocalPrometheus::Start(LocalPrometheusOptions options) {
  if (::access(options.binary.c_str(), X_OK) != 0) {
    return FailedPrecondition("no prometheus at " + options.binary +
                              ": install the package prometheus (scripts/setup does)");
  }
  std::unique_ptr<LocalPrometheus> p(new LocalPrometheus());
  std::string pattern = (fs::temp_directory_path() / "govesb-prometheus-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return Internal("cannot make a temporary directory");
  p->dir_ = pattern;
  p->port_ = TestReceiver::FreePort();
  {
    std::ofstream conf(p->dir_ + "/prometheus.yml");
    conf << "global:\n"
         << "  scrape_interval: " << Seconds(options.scrape_interval) << "\n"
         << "  scrape_timeout: " << Seconds(options.scrape_interval) << "\n"
         << "  evaluation_interval: " << Seconds(options.scrape_interval) << "\n"
         << "scrape_configs:\n"
         << "  - job_name: govesb\n"
         << "    static_configs:\n"
         << "      - targets: [";
    for (size_t i = 0; i < options.targets.size(); ++i) {
      conf << (i ? ", " : "") << "'" << options.targets[i] << "'";
    }
    conf << "]\n";
    if (!conf) return Internal("cannot write " + p->dir_ + "/prometheus.yml");
  }
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  const std::string log = p->dir_ + "/prometheus.log";
  std::vector<std::string> argv = {options.binary, "--config.file=" + p->dir_ + "/prometheus.yml",
                                   "--storage.tsdb.path=" + p->dir_ + "/data",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(p->port_),
                                   "--log.level=warn"};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Internal("fork failed starting prometheus");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::close_range(3, ~0U, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  p->pid_ = pid;
  const auto deadline = Clock::now() + options.ready_timeout;
  while (true) {
    auto ready = HttpCall("GET", p->url() + "/-/ready", "", {});
    if (ready.ok() && ready->status == 200) break;
    int status = 0;
    if (::waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      return Unavailable("prometheus exited while starting:\n" + p->LogTail());
    }
    if (Clock::now() > deadline) {
      return Unavailable("prometheus was not ready in time:\n" + p->LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return p;
}

LocalPrometheus::~LocalPrometheus() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void LocalPrometheus::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
}

std::string LocalPrometheus::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

Result<std::string> LocalPrometheus::Query(std::string_view promql) const {
  GOVESB_ASSIGN_OR_RETURN(
      TestResponse r,
      HttpCall("GET", url() + "/api/v1/query?query=" + PercentEncode(promql), "", {}));
  if (r.status != 200) {
    return Unavailable("prometheus answered " + std::to_string(r.status) + ": " + r.body);
  }
  return r.body;
}

Result<std::optional<double>> LocalPrometheus::QueryValue(std::string_view promql) const {
  GOVESB_ASSIGN_OR_RETURN(std::string body, Query(promql));
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return Internal("not JSON: " + body);
  const boost::json::value* result = v.as_object().if_contains("data");
  if (result == nullptr || !result->is_object()) return Internal("no data: " + body);
  const boost::json::value* list = result->as_object().if_contains("result");
  if (list == nullptr || !list->is_array()) return Internal("no result: " + body);
  if (list->as_array().empty()) return std::optional<double>();
  // [{"metric":{...},"value":[time,"text"]}]
  const boost::json::value& first = list->as_array()[0];
  const boost::json::value* value =
      first.is_object() ? first.as_object().if_contains("value") : nullptr;
  if (value == nullptr || !value->is_array() || value->as_array().size() != 2 ||
      !value->as_array()[1].is_string()) {
    return Internal("not a vector sample: " + body);
  }
  const std::string text(value->as_array()[1].as_string());
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return Internal("not a number: " + text);
  return std::optional<double>(d);
}

std::string LocalPrometheus::LogTail() const {
  std::ifstream in(dir_ + "/prometheus.log");
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

}  // namespace govesb::testing
