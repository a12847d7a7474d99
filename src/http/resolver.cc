#include "http/resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "base/prometheus_text.h"
#include "base/status.h"
#include "spdlog/spdlog.h"

namespace govesb::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// A caller waiting for a name's lookup: woken on its own event loop by cancelling its timer.
struct Waiter {
  asio::any_io_executor executor;
  std::weak_ptr<asio::steady_timer> timer;
};

struct Entry {
  std::string host;
  std::string port;
  std::shared_ptr<const Endpoints> addresses;  // the last lookup that succeeded
  Clock::time_point resolved_at;
  Status failure = Status::Ok();  // the last lookup's outcome when it failed
  Clock::time_point failed_at;
  bool looking_up = false;
  uint64_t lookups_ended = 0;
  std::vector<Waiter> waiters;
};

}  // namespace

struct HostResolver::State {
  explicit State(ResolverOptions o) : options(std::move(o)) {
    if (!options.lookup) options.lookup = SystemLookup;
    options.max_lookups_at_once = std::max<size_t>(1, options.max_lookups_at_once);
  }

  ResolverOptions options;
  mutable std::mutex mutex;
  bool closed = false;  // the resolver is gone: lookups that end drop their results
  std::unordered_map<std::string, Entry> names;
  std::deque<std::string> queued;  // names whose lookup waits for a free thread
  size_t running = 0;              // lookup threads
  Stats stats;
};

namespace {

using State = HostResolver::State;

void RunLookups(const std::shared_ptr<State>& state, std::string key);

// Under the state's lock: wakes every caller waiting for `e`.
void WakeWaiters(Entry& e) {
  for (Waiter& w : e.waiters) {
    asio::post(w.executor, [timer = w.timer] {
      if (auto t = timer.lock()) t->cancel();
    });
  }
  e.waiters.clear();
}

// Under the state's lock: the outcome of a lookup of `e`.
void Record(Entry& e, Result<Endpoints> found, Clock::time_point now, State& state) {
  e.looking_up = false;
  ++e.lookups_ended;
  if (found.ok() && found->empty()) found = Unavailable("no address for " + e.host);
  if (found.ok()) {
    e.addresses = std::make_shared<const Endpoints>(std::move(found).value());
    e.resolved_at = now;
    e.failure = Status::Ok();
  } else {
    ++state.stats.failed;
    e.failure = found.status();
    e.failed_at = now;
  }
  WakeWaiters(e);
}

// Under the state's lock: starts a lookup of `key` (its entry `e`), on a thread of its own,
// or queues it when enough run already.
void StartLookup(const std::shared_ptr<State>& state, const std::string& key, Entry& e) {
  e.looking_up = true;
  ++state->stats.lookups;
  if (state->running >= state->options.max_lookups_at_once) {
    state->queued.push_back(key);
    return;
  }
  try {
    std::thread(RunLookups, state, key).detach();
    ++state->running;
  } catch (const std::system_error& error) {
    Record(e, Unavailable("cannot start a lookup of " + e.host + ": " + error.what()), Clock::now(),
           *state);
  }
}

// A lookup thread: looks `key` up, then the queued names, one after the other.
void RunLookups(const std::shared_ptr<State>& state, std::string key) {
  for (;;) {
    std::string host;
    std::string port;
    {
      std::lock_guard lock(state->mutex);
      if (state->closed) {
        --state->running;
        return;
      }
      const Entry& e = state->names.at(key);  // an entry being looked up is never forgotten
      host = e.host;
      port = e.port;
    }
    Result<Endpoints> found = state->options.lookup(host, port);
    std::optional<std::string> kept;  // a warning, logged outside the lock
    bool more = false;                // a queued name to look up next
    {
      std::lock_guard lock(state->mutex);
      if (state->closed) {
        --state->running;
        return;
      }
      Entry& e = state->names.at(key);
      if (!found.ok() && e.addresses != nullptr) {
        kept = found.status().message() + "; its addresses of " +
               std::to_string(
                   std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - e.resolved_at)
                       .count()) +
               " s ago stay in use";
      }
      Record(e, std::move(found), Clock::now(), *state);
      if (state->queued.empty()) {
        --state->running;
      } else {
        key = std::move(state->queued.front());
        state->queued.pop_front();
        more = true;
      }
    }
    if (kept) spdlog::warn("{}", *kept);
    if (!more) return;
  }
}

}  // namespace

Result<Endpoints> SystemLookup(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    const std::string why = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    return Unavailable("cannot resolve " + host + ": " + why);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, ::freeaddrinfo);
  Endpoints found;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addr == nullptr) continue;
    tcp::endpoint endpoint;
    if (a->ai_addrlen > endpoint.capacity()) continue;
    std::memcpy(endpoint.data(), a->ai_addr, a->ai_addrlen);
    endpoint.resize(a->ai_addrlen);
    if (std::find(found.begin(), found.end(), endpoint) == found.end()) {
      found.push_back(endpoint);
    }
  }
  if (found.empty()) return Unavailable("cannot resolve " + host + ": no address");
  return InterleaveFamilies(std::move(found));
}

Endpoints InterleaveFamilies(Endpoints addresses) {
  if (addresses.size() < 3) return addresses;  // nothing to move
  const bool first_v6 = addresses.front().address().is_v6();
  Endpoints same;
  Endpoints other;
  for (auto& e : addresses) (e.address().is_v6() == first_v6 ? same : other).push_back(e);
  if (other.empty()) return addresses;
  Endpoints out;
  out.reserve(addresses.size());
  for (size_t i = 0; i < std::max(same.size(), other.size()); ++i) {
    if (i < same.size()) out.push_back(same[i]);
    if (i < other.size()) out.push_back(other[i]);
  }
  return out;
}

HostResolver::HostResolver(ResolverOptions options)
    : state_(std::make_shared<State>(std::move(options))) {}

HostResolver::~HostResolver() { Close(); }

void HostResolver::Close() {
  std::lock_guard lock(state_->mutex);
  state_->closed = true;
  state_->queued.clear();
  for (auto& [key, e] : state_->names) e.waiters.clear();
}

void HostResolver::Prefer(const std::string& host, const std::string& port,
                          const tcp::endpoint& address) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->names.find(port + "/" + host);
  if (it == state_->names.end() || it->second.addresses == nullptr) return;
  const Endpoints& now = *it->second.addresses;
  auto at = std::find(now.begin(), now.end(), address);
  if (at == now.end() || at == now.begin()) return;
  Endpoints reordered;
  reordered.reserve(now.size());
  reordered.push_back(*at);
  for (auto e = now.begin(); e != now.end(); ++e) {
    if (e != at) reordered.push_back(*e);
  }
  it->second.addresses = std::make_shared<const Endpoints>(std::move(reordered));
}

HostResolver::Stats HostResolver::stats() const {
  std::lock_guard lock(state_->mutex);
  Stats s = state_->stats;
  s.names = state_->names.size();
  return s;
}

asio::awaitable<Result<std::shared_ptr<const Endpoints>>> HostResolver::Resolve(
    const std::string& host, const std::string& port, Clock::time_point deadline) {
  uint16_t number = 0;
  {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535) {
      co_return InvalidArgument("not a port number: " + port);
    }
    number = static_cast<uint16_t>(value);
  }
  boost::system::error_code not_an_address;
  const auto address = asio::ip::make_address(host, not_an_address);
  if (!not_an_address) {
    co_return std::make_shared<const Endpoints>(Endpoints{tcp::endpoint(address, number)});
  }

  const std::string key = port + "/" + host;
  const ResolverOptions& o = state_->options;
  auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<asio::steady_timer> timer;
  uint64_t ended_before = 0;
  std::optional<Result<std::shared_ptr<const Endpoints>>> answer;
  {
    std::lock_guard lock(state_->mutex);
    auto now = Clock::now();
    auto it = state_->names.find(key);
    if (it == state_->names.end()) {
      if (state_->names.size() >= o.max_names) {
        std::erase_if(state_->names, [](const auto& kv) {
          return !kv.second.looking_up && kv.second.waiters.empty();
        });
      }
      it = state_->names.emplace(key, Entry{}).first;
      it->second.host = host;
      it->second.port = port;
    }
    Entry& e = it->second;
    const bool may_look_up =
        !e.looking_up && (e.failure.ok() || now - e.failed_at >= o.failure_for);
    if (e.addresses != nullptr) {
      const auto age = now - e.resolved_at;
      if (age < o.fresh_for) {
        answer.emplace(e.addresses);
      } else if (age < o.fresh_for + o.stale_for) {
        if (may_look_up) StartLookup(state_, key, e);
        ++state_->stats.stale_answers;
        answer.emplace(e.addresses);
      } else {
        e.addresses.reset();  // too old to use: wait for a lookup
      }
    }
    if (!answer && !e.failure.ok() && !may_look_up && !e.looking_up) answer.emplace(e.failure);
    if (!answer && state_->closed) {
      answer.emplace(Unavailable("cannot resolve " + host + ": the bus is stopping"));
    }
    if (!answer) {
      if (!e.looking_up) StartLookup(state_, key, e);
      if (!e.looking_up) {  // it could not start, and failed at once
        answer.emplace(e.failure);
      } else {
        timer = std::make_shared<asio::steady_timer>(executor, deadline);
        e.waiters.push_back(Waiter{executor, timer});
        ended_before = e.lookups_ended;
      }
    }
  }
  if (answer) co_return std::move(*answer);

  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));

  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->names.find(key);
    if (it != state_->names.end()) {
      Entry& e = it->second;
      if (e.lookups_ended > ended_before) {
        // The last lookup failed and earlier addresses are kept: they are the answer.
        if (e.failure.ok() || e.addresses != nullptr) {
          answer.emplace(e.addresses);
        } else {
          answer.emplace(e.failure);
        }
      } else {
        std::erase_if(e.waiters, [&](const Waiter& w) {
          auto t = w.timer.lock();
          return t == nullptr || t == timer;
        });
      }
    }
  }
  if (answer) co_return std::move(*answer);
  co_return DeadlineExceeded("resolving " + host + " did not end before the deadline");
}

void AppendResolverMetrics(std::string& out, std::span<const NamedResolverStats> clients) {
  using prometheus::Family;
  using prometheus::Sample;
  Family(out, "govesb_upstream_name_lookups_total", "counter",
         "Lookups of provider and subscriber host names started (addresses in URLs need none).");
  for (const auto& c : clients) {
    Sample(out, "govesb_upstream_name_lookups_total", {{"client", c.client}}, c.stats.lookups);
  }
  Family(out, "govesb_upstream_name_lookups_failed_total", "counter",
         "Host name lookups that failed (a name with earlier addresses keeps them meanwhile).");
  for (const auto& c : clients) {
    Sample(out, "govesb_upstream_name_lookups_failed_total", {{"client", c.client}},
           c.stats.failed);
  }
  Family(out, "govesb_upstream_name_stale_answers_total", "counter",
         "Host names answered with addresses past their fresh time (30 s), while a new lookup "
         "ran or after it failed.");
  for (const auto& c : clients) {
    Sample(out, "govesb_upstream_name_stale_answers_total", {{"client", c.client}},
           c.stats.stale_answers);
  }
  Family(out, "govesb_upstream_names", "gauge", "Host names remembered now.");
  for (const auto& c : clients) {
    Sample(out, "govesb_upstream_names", {{"client", c.client}},
           static_cast<uint64_t>(c.stats.names));
  }
}

}  // namespace govesb::http
