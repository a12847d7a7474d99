#include "http/admission.h"

#include <sys/resource.h>

#include <algorithm>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace govesb::http {

ConnectionAdmission::Verdict ConnectionAdmission::TryAdmit(const std::string& address) {
  std::lock_guard lock(mu_);
  if (open_ >= max_total_) return Verdict::kOverTotal;
  size_t& from = per_address_[address];
  if (max_per_address_ != 0 && from >= max_per_address_) return Verdict::kOverAddress;
  ++from;
  ++open_;
  return Verdict::kAdmit;
}

void ConnectionAdmission::Release(const std::string& address) {
  std::lock_guard lock(mu_);
  if (open_ > 0) --open_;
  auto it = per_address_.find(address);
  if (it == per_address_.end()) return;
  if (it->second <= 1) {
    per_address_.erase(it);  // the map holds only addresses with open connections
  } else {
    --it->second;
  }
}

size_t ConnectionAdmission::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

size_t ConnectionAdmission::open_from(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

std::string PrometheusText(const HttpServerStats& s) {
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  auto sample = [&](std::string_view name, std::string_view labels, uint64_t value) {
    out.append(name).append(labels).append(" ").append(std::to_string(value)).append("\n");
  };
  family("govesb_http_connections_open", "gauge", "Client connections open now.");
  sample("govesb_http_connections_open", "", s.open_connections);
  family("govesb_http_connections_max", "gauge",
         "The cap on open client connections (kept below the open-file limit).");
  sample("govesb_http_connections_max", "", s.max_connections);
  family("govesb_http_connections_refused_total", "counter",
         "Client connections refused at once because a connection cap was reached.");
  sample("govesb_http_connections_refused_total", "{reason=\"total\"}", s.refused_total);
  sample("govesb_http_connections_refused_total", "{reason=\"per_address\"}",
         s.refused_per_address);
  family("govesb_http_tls_handshake_timeouts_total", "counter",
         "TLS connections closed because the handshake did not finish in time.");
  sample("govesb_http_tls_handshake_timeouts_total", "", s.handshake_timeouts);
  family("govesb_http_accept_errors_total", "counter",
         "Failed accepts (out of file descriptors or buffers); accepting backs off.");
  sample("govesb_http_accept_errors_total", "", s.accept_errors);
  family("govesb_http_memory_trims_total", "counter",
         "Times memory freed after a burst of closed connections was handed back to the OS.");
  sample("govesb_http_memory_trims_total", "", s.memory_trims);
  return out;
}

size_t ReservedFileDescriptors(size_t open_file_limit) {
  return std::max<size_t>(512, open_file_limit / 5);
}

size_t SafeConnectionLimit(size_t requested, size_t open_file_limit) {
  if (open_file_limit == 0) return std::max<size_t>(1, requested);
  size_t reserved = ReservedFileDescriptors(open_file_limit);
  size_t room = open_file_limit > reserved ? open_file_limit - reserved : 1;
  return std::clamp<size_t>(requested, 1, std::max<size_t>(1, room));
}

size_t OpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur == RLIM_INFINITY) return static_cast<size_t>(1) << 20;
  return static_cast<size_t>(limit.rlim_cur);
}

size_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      // Some systems refuse RLIM_INFINITY as a soft limit for files; keep what we have.
    }
  }
  return OpenFileLimit();
}

}  // namespace govesb::http

// tcmalloc's own call, present when the binary links tcmalloc (apps/govesb: GOVESB_TCMALLOC):
// weak, so that everything linked without it (the tests, the sanitizer builds) still links.
extern "C" void MallocExtension_ReleaseFreeMemory(void) __attribute__((weak));

namespace govesb::http {

bool ReleaseFreeMemory() {
  // Where tcmalloc serves malloc, glibc's malloc_trim has nothing to give back.
  if (MallocExtension_ReleaseFreeMemory != nullptr) {
    MallocExtension_ReleaseFreeMemory();
    return true;
  }
#if defined(__GLIBC__)
  ::malloc_trim(0);
  return true;
#else
  return false;
#endif
}

}  // namespace govesb::http
