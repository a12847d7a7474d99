#include "http/resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "http/io_threads.h"

namespace govesb::http {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A name service the test controls: each name's lookup answers `address` (or fails, for a name
// in `failing`), and a name in `held` is not answered until the test releases it. Shared with
// the lookup threads, which may outlive a test's resolver.
struct NameService {
  std::mutex mutex;
  std::condition_variable released;
  std::set<std::string> held;
  std::set<std::string> failing;
  std::string address = "10.0.0.1";
  int lookups = 0;
  int running = 0;
  int most_running = 0;

  Result<Endpoints> Lookup(const std::string& host, const std::string& port) {
    std::unique_lock lock(mutex);
    ++lookups;
    ++running;
    most_running = std::max(most_running, running);
    released.wait(lock, [&] { return held.count(host) == 0; });
    --running;
    if (failing.count(host) != 0) return Unavailable("cannot resolve " + host + ": refused");
    return Endpoints{{asio::ip::make_address(address), static_cast<uint16_t>(std::stoi(port))}};
  }
  void Hold(const std::string& host) {
    std::lock_guard lock(mutex);
    held.insert(host);
  }
  void Release(const std::string& host) {
    {
      std::lock_guard lock(mutex);
      held.erase(host);
    }
    released.notify_all();
  }
  void ReleaseAll() {
    {
      std::lock_guard lock(mutex);
      held.clear();
    }
    released.notify_all();
  }
  void Answer(const std::string& address_now) {
    std::lock_guard lock(mutex);
    address = address_now;
  }
  void Fail(const std::string& host) {
    std::lock_guard lock(mutex);
    failing.insert(host);
  }
  int Lookups() {
    std::lock_guard lock(mutex);
    return lookups;
  }
  int Running() {
    std::lock_guard lock(mutex);
    return running;
  }
  int MostRunning() {
    std::lock_guard lock(mutex);
    return most_running;
  }
};

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override { io_.Start(); }
  void TearDown() override {
    resolver_.reset();
    // Lookups still held end now (the resolver is gone: their results are dropped).
    names_->ReleaseAll();
    io_.Stop();
  }
  void MakeResolver(ResolverOptions options = {}) {
    options.lookup = [names = names_](const std::string& host, const std::string& port) {
      return names->Lookup(host, port);
    };
    resolver_ = std::make_unique<HostResolver>(std::move(options));
  }
  using Outcome = Result<std::shared_ptr<const Endpoints>>;
  // Resolve on the I/O thread; the future gets its outcome (optional: futures want a default).
  std::future<std::optional<Outcome>> Start(const std::string& host,
                                            std::chrono::milliseconds timeout = 5s,
                                            const std::string& port = "8080") {
    return asio::co_spawn(
        io_.context(0),
        [this, host, port, timeout]() -> asio::awaitable<std::optional<Outcome>> {
          auto pending = resolver_->Resolve(host, port, Clock::now() + timeout);
          co_return co_await std::move(pending);
        },
        asio::use_future);
  }
  Outcome Resolve(const std::string& host, std::chrono::milliseconds timeout = 5s,
                  const std::string& port = "8080") {
    return *Start(host, timeout, port).get();
  }
  static std::string FirstAddress(const Outcome& r) {
    if (!r.ok() || (*r)->empty()) return "";
    return (*r)->front().address().to_string();
  }
  // Waits (up to 5 s) until `done` holds.
  static bool Eventually(const std::function<bool()>& done) {
    for (auto until = Clock::now() + 5s; Clock::now() < until; std::this_thread::sleep_for(2ms)) {
      if (done()) return true;
    }
    return done();
  }

  IoThreads io_{1};
  std::shared_ptr<NameService> names_ = std::make_shared<NameService>();
  std::unique_ptr<HostResolver> resolver_;
};

TEST_F(ResolverTest, AnAddressNeedsNoLookup) {
  MakeResolver();
  auto v4 = Resolve("192.0.2.7", 5s, "443");
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  ASSERT_EQ((*v4)->size(), 1U);
  EXPECT_EQ((*v4)->front(), asio::ip::tcp::endpoint(asio::ip::make_address("192.0.2.7"), 443));
  auto v6 = Resolve("2001:db8::5", 5s, "8443");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ((*v6)->front(), asio::ip::tcp::endpoint(asio::ip::make_address("2001:db8::5"), 8443));
  EXPECT_EQ(names_->Lookups(), 0);
}

TEST_F(ResolverTest, APortThatIsNotANumberIsRefused) {
  MakeResolver();
  for (const char* port : {"", "http", "65536", "80x", "-1"}) {
    auto r = Resolve("provider.test", 5s, port);
    ASSERT_FALSE(r.ok()) << port;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << port;
  }
  EXPECT_EQ(names_->Lookups(), 0);
}

TEST_F(ResolverTest, ANameIsLookedUpOnceWhileItsAddressesAreFresh) {
  MakeResolver();
  auto first = Resolve("provider.test");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(FirstAddress(first), "10.0.0.1");
  EXPECT_EQ((*first)->front().port(), 8080);
  auto second = Resolve("provider.test");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);  // the same addresses, not looked up again
  EXPECT_EQ(names_->Lookups(), 1);
  // Another port is another name to remember, but the same host: looked up on its own.
  auto other_port = Resolve("provider.test", 5s, "9090");
  ASSERT_TRUE(other_port.ok());
  EXPECT_EQ((*other_port)->front().port(), 9090);
  EXPECT_EQ(names_->Lookups(), 2);
}

TEST_F(ResolverTest, ALookupThatDoesNotEndIsWaitedForUntilTheDeadlineOnly) {
  MakeResolver();
  names_->Hold("silent.test");
  const auto started = Clock::now();
  auto r = Resolve("silent.test", 300ms);
  const auto waited = Clock::now() - started;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("resolving silent.test"), std::string::npos);
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 2s);
  // The lookup went on; once it ends, its addresses are there for the next caller.
  names_->Release("silent.test");
  auto later = Resolve("silent.test");
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(FirstAddress(later), "10.0.0.1");
  EXPECT_EQ(names_->Lookups(), 1);
}

TEST_F(ResolverTest, ANameWhoseLookupHangsDoesNotHoldUpAnother) {
  MakeResolver();
  names_->Hold("silent.test");
  auto stuck = Start("silent.test", 10s);
  ASSERT_TRUE(Eventually([&] { return names_->Running() == 1; }));
  const auto started = Clock::now();
  auto other = Resolve("provider.test");
  EXPECT_LT(Clock::now() - started, 1s);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(stuck.wait_for(0s), std::future_status::timeout);  // still waiting
  names_->Release("silent.test");
  auto r = *stuck.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(ResolverTest, CallersOfANameBeingLookedUpShareTheOneLookup) {
  MakeResolver();
  names_->Hold("provider.test");
  std::vector<std::future<std::optional<Outcome>>> callers;
  for (int i = 0; i < 5; ++i) callers.push_back(Start("provider.test"));
  ASSERT_TRUE(Eventually([&] { return names_->Running() == 1; }));
  std::this_thread::sleep_for(50ms);
  names_->Release("provider.test");
  for (auto& c : callers) {
    auto r = *c.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(FirstAddress(r), "10.0.0.1");
  }
  EXPECT_EQ(names_->Lookups(), 1);
}

TEST_F(ResolverTest, OnlySoManyLookupsRunAtOnceTheRestWaitTheirTurn) {
  ResolverOptions o;
  o.max_lookups_at_once = 2;
  MakeResolver(o);
  for (const char* host : {"a.test", "b.test", "c.test"}) names_->Hold(host);
  auto a = Start("a.test");
  auto b = Start("b.test");
  auto c = Start("c.test");
  ASSERT_TRUE(Eventually([&] { return names_->Running() == 2; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(names_->Lookups(), 2);  // c waits for a thread
  for (const char* host : {"a.test", "b.test", "c.test"}) names_->Release(host);
  for (auto* f : {&a, &b, &c}) {
    auto r = *f->get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  EXPECT_EQ(names_->Lookups(), 3);
  EXPECT_EQ(names_->MostRunning(), 2);
}

TEST_F(ResolverTest, StaleAddressesAreUsedAtOnceWhileANewLookupRuns) {
  ResolverOptions o;
  o.fresh_for = 100ms;
  MakeResolver(o);
  ASSERT_EQ(FirstAddress(Resolve("provider.test")), "10.0.0.1");
  std::this_thread::sleep_for(150ms);
  names_->Answer("10.0.0.2");  // the provider moved
  names_->Hold("provider.test");
  const auto started = Clock::now();
  auto stale = Resolve("provider.test");
  EXPECT_LT(Clock::now() - started, 1s);
  EXPECT_EQ(FirstAddress(stale), "10.0.0.1");
  ASSERT_TRUE(Eventually([&] { return names_->Lookups() == 2; }));
  EXPECT_EQ(resolver_->stats().stale_answers, 1U);
  names_->Release("provider.test");
  // (Stale answers until the new lookup's outcome is recorded.)
  ASSERT_TRUE(Eventually([&] { return FirstAddress(Resolve("provider.test")) == "10.0.0.2"; }));
  EXPECT_EQ(names_->Lookups(), 2);  // one lookup however many stale answers
}

TEST_F(ResolverTest, AddressesAreKeptWhileLookupsFailAndForgottenWhenTooOld) {
  ResolverOptions o;
  o.fresh_for = 100ms;
  o.stale_for = 400ms;
  o.failure_for = 50ms;
  MakeResolver(o);
  ASSERT_EQ(FirstAddress(Resolve("provider.test")), "10.0.0.1");
  names_->Fail("provider.test");  // the name service is down
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(FirstAddress(Resolve("provider.test")), "10.0.0.1");  // stale; a lookup starts
  ASSERT_TRUE(Eventually([&] { return resolver_->stats().failed == 1; }));
  EXPECT_EQ(FirstAddress(Resolve("provider.test")), "10.0.0.1");  // kept
  std::this_thread::sleep_for(450ms);                             // past fresh_for + stale_for
  auto gone = Resolve("provider.test");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable) << gone.status().ToString();
  EXPECT_NE(gone.status().message().find("refused"), std::string::npos);
}

TEST_F(ResolverTest, AFailedLookupIsTheAnswerForAWhile) {
  ResolverOptions o;
  o.failure_for = 300ms;
  MakeResolver(o);
  names_->Fail("broken.test");
  auto first = Resolve("broken.test");
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(first.status().message(), "cannot resolve broken.test: refused");
  for (int i = 0; i < 20; ++i) {
    auto again = Resolve("broken.test");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().message(), first.status().message());
  }
  EXPECT_EQ(names_->Lookups(), 1);
  std::this_thread::sleep_for(350ms);
  EXPECT_FALSE(Resolve("broken.test").ok());
  EXPECT_EQ(names_->Lookups(), 2);
}

TEST_F(ResolverTest, ManyNamesAreForgottenBeyondTheLimitExceptTheOnesWaitedFor) {
  ResolverOptions o;
  o.max_names = 3;
  MakeResolver(o);
  names_->Hold("waited.test");
  auto waited = Start("waited.test");
  ASSERT_TRUE(Eventually([&] { return names_->Running() == 1; }));
  for (const char* host : {"a.test", "b.test", "c.test", "d.test"}) {
    ASSERT_TRUE(Resolve(host).ok()) << host;
  }
  EXPECT_LE(resolver_->stats().names, 3U);
  names_->Release("waited.test");
  ASSERT_TRUE(waited.get()->ok());
}

TEST_F(ResolverTest, AResolverGoneWhileALookupHangsDoesNotWaitForIt) {
  MakeResolver();
  names_->Hold("silent.test");
  auto stuck = Start("silent.test", 300ms);
  ASSERT_TRUE(Eventually([&] { return names_->Running() == 1; }));
  EXPECT_EQ(stuck.get()->status().code(), StatusCode::kDeadlineExceeded);
  const auto started = Clock::now();
  resolver_.reset();
  EXPECT_LT(Clock::now() - started, 1s);
  names_->Release("silent.test");  // the lookup ends after its resolver: its result is dropped
  ASSERT_TRUE(Eventually([&] { return names_->Running() == 0; }));
}

TEST_F(ResolverTest, AClosedResolverLooksNothingUpAndAnswersFromWhatItHas) {
  MakeResolver();
  ASSERT_TRUE(Resolve("provider.test").ok());
  resolver_->Close();
  EXPECT_EQ(FirstAddress(Resolve("provider.test")), "10.0.0.1");  // fresh: no lookup needed
  auto other = Resolve("other.test");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kUnavailable) << other.status().ToString();
  EXPECT_EQ(names_->Lookups(), 1);
  resolver_->Close();  // again: nothing more
}

TEST_F(ResolverTest, AnAddressThatAnsweredWhenAnEarlierOneDidNotIsTriedFirstLater) {
  ResolverOptions o;
  o.lookup = [](const std::string&, const std::string&) {
    return Result<Endpoints>(Endpoints{{asio::ip::make_address("10.0.0.1"), 80},
                                       {asio::ip::make_address("10.0.0.2"), 80},
                                       {asio::ip::make_address("10.0.0.3"), 80}});
  };
  resolver_ = std::make_unique<HostResolver>(o);
  auto order = [&] {
    std::string s;
    auto r = Resolve("provider.test", 5s, "80");
    if (r.ok()) {
      for (const auto& e : **r) s += e.address().to_string() + " ";
    }
    return s;
  };
  EXPECT_EQ(order(), "10.0.0.1 10.0.0.2 10.0.0.3 ");
  resolver_->Prefer("provider.test", "80", {asio::ip::make_address("10.0.0.3"), 80});
  EXPECT_EQ(order(), "10.0.0.3 10.0.0.1 10.0.0.2 ");
  // Not among them, or another port: nothing changes.
  resolver_->Prefer("provider.test", "80", {asio::ip::make_address("10.0.0.9"), 80});
  resolver_->Prefer("provider.test", "443", {asio::ip::make_address("10.0.0.1"), 443});
  EXPECT_EQ(order(), "10.0.0.3 10.0.0.1 10.0.0.2 ");
}

TEST(InterleaveFamiliesTest, TheFamiliesTakeTurnsFromTheFirstsEachInItsOrder) {
  auto a = [](const char* s) { return asio::ip::tcp::endpoint(asio::ip::make_address(s), 443); };
  auto text = [](const Endpoints& list) {
    std::string s;
    for (const auto& e : list) s += e.address().to_string() + " ";
    return s;
  };
  EXPECT_EQ(text(InterleaveFamilies({a("2001:db8::1"), a("2001:db8::2"), a("2001:db8::3"),
                                     a("192.0.2.1"), a("192.0.2.2")})),
            "2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2 2001:db8::3 ");
  EXPECT_EQ(text(InterleaveFamilies({a("192.0.2.1"), a("192.0.2.2"), a("2001:db8::1")})),
            "192.0.2.1 2001:db8::1 192.0.2.2 ");
  EXPECT_EQ(text(InterleaveFamilies({a("192.0.2.1"), a("192.0.2.2"), a("192.0.2.3")})),
            "192.0.2.1 192.0.2.2 192.0.2.3 ");
  EXPECT_EQ(text(InterleaveFamilies({})), "");
}

TEST(SystemLookupTest, ResolvesLocalhostAndSaysWhyANameDoesNot) {
  auto local = SystemLookup("localhost", "8080");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  ASSERT_FALSE(local->empty());
  for (const auto& e : *local) {
    EXPECT_TRUE(e.address().is_loopback()) << e.address().to_string();
    EXPECT_EQ(e.port(), 8080);
  }
  // RFC 6761: names under .invalid never resolve.
  auto none = SystemLookup("provider.invalid", "80");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(none.status().message().rfind("cannot resolve provider.invalid: ", 0), 0U)
      << none.status().message();
}

}  // namespace
}  // namespace govesb::http
