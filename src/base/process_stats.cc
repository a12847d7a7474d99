#include "base/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "base/prometheus_text.h"

namespace govesb {

namespace {

// The fields of /proc/self/stat after the command name (which may hold spaces and brackets:
// everything up to the last ')'), numbered as proc(5) numbers them from 3 (state) on.
Result<std::vector<std::string>> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return Unavailable("cannot read /proc/self/stat");
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return Unavailable("/proc/self/stat is not as expected");
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields = {"", "", ""};  // 0, 1 (pid), 2 (comm): unused
  for (std::string f; rest >> f;) fields.push_back(std::move(f));
  if (fields.size() < 25) return Unavailable("/proc/self/stat has too few fields");
  return fields;
}

bool Parse(std::string_view text, uint64_t& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

uint64_t BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  uint64_t btime = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("btime ") && Parse(std::string_view(line).substr(6), btime)) break;
  }
  return btime;
}

int64_t CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  int64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;  // the listing's own descriptor
}

}  // namespace

Result<ProcessStats> ReadProcessStats() {
  GOVESB_ASSIGN_OR_RETURN(std::vector<std::string> f, StatFields());
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const long page = ::sysconf(_SC_PAGESIZE);
  uint64_t utime = 0, stime = 0, threads = 0, start = 0, vsize = 0, rss = 0;
  if (!Parse(f[14], utime) || !Parse(f[15], stime) || !Parse(f[20], threads) ||
      !Parse(f[22], start) || !Parse(f[23], vsize) || !Parse(f[24], rss)) {
    return Unavailable("/proc/self/stat has a field that is not a number");
  }
  ProcessStats s;
  s.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  s.threads = static_cast<int64_t>(threads);
  s.start_time_seconds =
      static_cast<double>(BootTimeSeconds()) + static_cast<double>(start) / ticks;
  s.virtual_bytes = vsize;
  s.resident_bytes = rss * static_cast<uint64_t>(page);
  s.open_fds = CountOpenFds();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = static_cast<int64_t>(limit.rlim_cur);
  return s;
}

void AppendProcessMetrics(const ProcessStats& s, std::string& out) {
  using prometheus::Family;
  using prometheus::Sample;
  Family(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent, seconds.");
  Sample(out, "process_cpu_seconds_total", s.cpu_seconds);
  Family(out, "process_resident_memory_bytes", "gauge", "Resident memory size, bytes.");
  Sample(out, "process_resident_memory_bytes", s.resident_bytes);
  Family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size, bytes.");
  Sample(out, "process_virtual_memory_bytes", s.virtual_bytes);
  Family(out, "process_open_fds", "gauge", "Open file descriptors.");
  Sample(out, "process_open_fds", s.open_fds);
  Family(out, "process_max_fds", "gauge", "The open-file limit (soft RLIMIT_NOFILE).");
  Sample(out, "process_max_fds", s.max_fds);
  Family(out, "process_threads", "gauge", "Threads of the process.");
  Sample(out, "process_threads", s.threads);
  Family(out, "process_start_time_seconds", "gauge",
         "When the process started, seconds since the Unix epoch.");
  Sample(out, "process_start_time_seconds", s.start_time_seconds);
}

}  // namespace govesb
