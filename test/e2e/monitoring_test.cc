// End to end: what operators watch. /healthz and /readyz on the exchange port (readiness
// flips while the evidence log cannot be written and once shutdown begins), /metrics on the
// metrics and admin listeners only, with registry codes as the only labels, and a real
// Prometheus scraping the bus and computing a rate through its HTTP API.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "base/file_size_limit.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "evidence/segments.h"
#include "govesb/client.h"
#include "registry/registry.h"
#include "server/bus_server.h"
#include "store/data_dir.h"
#include "support/local_prometheus.h"
#include "support/test_http_client.h"
#include "support/test_receiver.h"

namespace govesb {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::HttpCall;
using testing::TestReceiver;

struct Party {
  std::optional<crypto::PrivateKey> key;
  std::string client_id;
  std::string secret;
};

class MonitoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("govesb-monitoring-" + crypto::NewRequestId());
    store::DataDirOptions dopts;
    dopts.path = dir_.string();
    auto data_dir = store::DataDir::Open(dopts);
    ASSERT_TRUE(data_dir.ok()) << data_dir.status().ToString();
    bus_key_.emplace(data_dir->bus_key().public_key());
    auto db = data_dir->OpenDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());
    registry::RegistryOptions ropts;
    ropts.hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); };
    registry_.emplace(*db_, ropts);
    ASSERT_TRUE(registry_->AddInstitution("RITA", "Registration Agency").ok());
    ASSERT_TRUE(registry_->AddInstitution("MOH", "Ministry of Health").ok());
    consumer_ = Register("RITA", "Birth registry");
    provider_ = Register("MOH", "Health records");
    provider_rx_ = std::make_unique<TestReceiver>(*provider_.key, *bus_key_);
    ASSERT_TRUE(registry_->AddApi(provider_.client_id, "HLTHREC", 2000, provider_rx_->url()).ok());
    ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "HLTHREC").ok());
  }

  void TearDown() override {
    bus_.reset();
    registry_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Party Register(const std::string& institution, const std::string& name) {
    auto key = crypto::PrivateKey::Generate(crypto::Curve::kP256);
    GOVESB_CHECK(key.ok());
    auto added = registry_->AddSystem(institution, name, key->public_key().SpkiBase64(),
                                      "http://127.0.0.1:9/unused");
    GOVESB_CHECK(added.ok());
    return Party{std::move(*key), added->system.client_id, added->client_secret};
  }

  server::ServeOptions Options() {
    server::ServeOptions o;
    o.durability.busy_timeout_ms = 300;
    o.durability.probe_interval = milliseconds(100);
    o.data_dir = dir_.string();
    o.listen = "127.0.0.1:0";
    o.metrics_listen = "127.0.0.1:0";
    o.plain_http = true;
    o.io_threads = 2;
    return o;
  }

  void StartBus(server::ServeOptions o) {
    bus_ = std::make_unique<server::BusServer>(o);
    Status s = bus_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::unique_ptr<sdk::Client> ClientFor(const Party& p) {
    sdk::ClientOptions o;
    o.bus_url = bus_->base_url();
    o.client_id = p.client_id;
    o.client_secret = p.secret;
    o.private_key = p.key->Pkcs8Base64();
    o.bus_public_key = bus_->bus_public_key();
    auto client = sdk::Client::Create(o);
    GOVESB_CHECK(client.ok());
    return std::move(client).value();
  }

  testing::TestResponse Get(const std::string& url) {
    auto r = HttpCall("GET", url, "", {});
    GOVESB_CHECK(r.ok());
    return std::move(r).value();
  }

  template <typename Pred>
  bool Eventually(Pred pred, milliseconds timeout = milliseconds(10'000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  fs::path dir_;
  std::optional<crypto::PublicKey> bus_key_;
  std::unique_ptr<store::Database> db_;
  std::optional<registry::Registry> registry_;
  Party consumer_, provider_;
  std::unique_ptr<TestReceiver> provider_rx_;
  std::unique_ptr<server::BusServer> bus_;
};

bool HasLine(const std::string& text, const std::string& line) {
  return text.starts_with(line + "\n") || text.find("\n" + line + "\n") != std::string::npos;
}

TEST_F(MonitoringTest, HealthOnTheExchangePortMetricsOnlyOnTheMetricsListeners) {
  server::ServeOptions o = Options();
  o.admin_listen = "127.0.0.1:0";
  StartBus(o);
  auto alive = Get(bus_->base_url() + "/healthz");
  EXPECT_EQ(alive.status, 200);
  EXPECT_EQ(alive.body, R"({"status":"alive"})");
  auto ready = Get(bus_->base_url() + "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.body,
            R"({"status":"ready","checks":{"registry":"ok","store":"ok","evidence":"ok",)"
            R"("shutdown":"ok"}})");
  EXPECT_EQ(Get(bus_->base_url() + "/health").status, 200) << "the older check stays";
  auto head = HttpCall("HEAD", bus_->base_url() + "/readyz", "", {});
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 200) << "balancers that check with HEAD";
  EXPECT_EQ(Get(bus_->base_url() + "/metrics").status, 404)
      << "the public port says nothing about the registry";

  auto client = ClientFor(consumer_);
  auto answered = client->Request("HLTHREC", R"({"patient":"P-1"})");
  ASSERT_TRUE(answered.ok()) << answered.error().message;
  auto unknown = client->Request("NOPE7Q", R"({"patient":"P-1"})");
  ASSERT_FALSE(unknown.ok());
  // A token asked for by a client id the registry does not know.
  auto stranger = testing::HttpPost(bus_->base_url() + "/oauth/token",
                                    "grant_type=client_credentials&client_id=INVENTED9&client_"
                                    "secret=x",
                                    {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(stranger->status, 401);

  auto scraped = Get(bus_->metrics_base_url() + "/metrics");
  ASSERT_EQ(scraped.status, 200);
  EXPECT_EQ(scraped.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = scraped.body;
  const std::string key = R"(kind="pull",api="HLTHREC",consumer=")" + consumer_.client_id +
                          R"(",provider=")" + provider_.client_id + R"(")";
  EXPECT_TRUE(HasLine(m, "govesb_requests_total{" + key + R"(,outcome="success"} 1)")) << m;
  EXPECT_TRUE(HasLine(m, R"(govesb_requests_total{kind="pull",api="",consumer=")" +
                             consumer_.client_id + R"(",provider="",outcome="refused_invalid"} 1)"))
      << "an unknown apiCode is counted without becoming a label";
  EXPECT_EQ(m.find("NOPE7Q"), std::string::npos);
  EXPECT_EQ(m.find("INVENTED9"), std::string::npos);
  EXPECT_TRUE(HasLine(m, "govesb_request_provider_seconds_count{" + key + "} 1"));
  EXPECT_TRUE(HasLine(m, "govesb_request_bus_seconds_count{" + key + "} 1"));
  EXPECT_TRUE(HasLine(
      m, R"(govesb_tokens_total{consumer=")" + consumer_.client_id + R"(",outcome="issued"} 1)"));
  EXPECT_TRUE(HasLine(m, R"(govesb_tokens_total{consumer="",outcome="refused_credentials"} 1)"));
  EXPECT_NE(m.find(R"(govesb_signature_verifications_total{system=")" + consumer_.client_id),
            std::string::npos);
  EXPECT_TRUE(HasLine(m, R"(govesb_ready{check="evidence"} 1)"));
  EXPECT_NE(m.find("\ngovesb_evidence_records{state=\"committed\"} "), std::string::npos);
  EXPECT_NE(m.find("\nprocess_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(m.find("\ngovesb_http_connections_open "), std::string::npos);
  EXPECT_NE(m.find("\ngovesb_delivery_queue_depth "), std::string::npos);
  // The admin listener serves the same, without a session.
  auto admin = Get(bus_->admin_base_url() + "/metrics");
  EXPECT_EQ(admin.status, 200);
  EXPECT_NE(admin.body.find("govesb_requests_total{" + key), std::string::npos);
  EXPECT_EQ(Get(bus_->metrics_base_url() + "/api/v1/bus").status, 404)
      << "the metrics listener serves nothing else";
}

// A provider named by a host name: its name is looked up once for its exchanges, and the
// lookups are counted for the operator, for the exchanges' client and the deliveries' apart.
TEST_F(MonitoringTest, AProviderNamedByAHostNameIsLookedUpAndTheLookupsAreCounted) {
  ASSERT_TRUE(registry_
                  ->AddApi(provider_.client_id, "HLTHNAME", 2000,
                           "http://localhost:" + std::to_string(provider_rx_->port()) + "/")
                  .ok());
  ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "HLTHNAME").ok());
  StartBus(Options());
  auto client = ClientFor(consumer_);
  for (int i = 0; i < 3; ++i) {
    auto answered = client->Request("HLTHNAME", R"({"patient":"P-1"})");
    ASSERT_TRUE(answered.ok()) << answered.error().message;
  }
  // By address: no lookup.
  auto by_address = client->Request("HLTHREC", R"({"patient":"P-1"})");
  ASSERT_TRUE(by_address.ok()) << by_address.error().message;
  const std::string m = Get(bus_->metrics_base_url() + "/metrics").body;
  EXPECT_TRUE(HasLine(m, R"(govesb_upstream_name_lookups_total{client="exchange"} 1)")) << m;
  EXPECT_TRUE(HasLine(m, R"(govesb_upstream_name_lookups_failed_total{client="exchange"} 0)"));
  EXPECT_TRUE(HasLine(m, R"(govesb_upstream_names{client="exchange"} 1)"));
  EXPECT_TRUE(HasLine(m, R"(govesb_upstream_name_lookups_total{client="delivery"} 0)"));
}

TEST_F(MonitoringTest, NotReadyWhileTheEvidenceLogCannotBeWrittenAndReadyAgainAfter) {
  StartBus(Options());
  auto client = ClientFor(consumer_);
  ASSERT_TRUE(client->Request("HLTHREC", "{}").ok());
  auto ready = [&] { return Get(bus_->base_url() + "/readyz"); };
  ASSERT_EQ(ready().status, 200);
  uint64_t size = 0;
  for (const auto& f : fs::directory_iterator(dir_ / "evidence-log")) {
    if (f.path().extension() != ".seg") continue;
    ASSERT_TRUE(evidence::ForEachSegmentEntry(f.path().string(), [&](const auto& e) {
                  size = std::max(size, e.end);
                  return true;
                }).ok());
  }
  ASSERT_GT(size, 0u);
  {
    // The log's file cannot be written past what it holds now (as on a full disk).
    FileSizeLimit full(size);
    auto withheld = client->Request("HLTHREC", "{}");
    ASSERT_FALSE(withheld.ok()) << "an answer without its evidence must not be released";
    auto not_ready = ready();
    EXPECT_EQ(not_ready.status, 503);
    EXPECT_EQ(not_ready.body,
              R"({"status":"not ready","checks":{"registry":"ok","store":"ok","evidence":)"
              R"("failing","shutdown":"ok"}})");
    EXPECT_TRUE(HasLine(bus_->metrics_text(), R"(govesb_ready{check="evidence"} 0)"));
    EXPECT_EQ(Get(bus_->base_url() + "/healthz").status, 200) << "alive all the same";
    // Still failing after the writer's probes have tried again.
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_EQ(ready().status, 503);
  }
  // Writable again: the writer's next probe finds it, with no exchange needed.
  ASSERT_TRUE(Eventually([&] { return ready().status == 200; })) << ready().body;
  EXPECT_TRUE(client->Request("HLTHREC", "{}").ok());
}

TEST_F(MonitoringTest, NotReadyOnceShutdownBeginsWhileStillServing) {
  server::ServeOptions o = Options();
  o.shutdown_delay = milliseconds(1500);
  StartBus(o);
  auto client = ClientFor(consumer_);
  ASSERT_TRUE(client->AccessToken().ok());
  ASSERT_EQ(Get(bus_->base_url() + "/readyz").status, 200);
  std::thread stopping([&] { bus_->Shutdown(); });
  testing::TestResponse seen;
  const bool flipped = Eventually([&] {
    seen = Get(bus_->base_url() + "/readyz");
    return seen.status == 503;
  });
  // Served during the delay: the balancer's last requests are answered.
  auto answered = client->Request("HLTHREC", "{}");
  stopping.join();
  ASSERT_TRUE(flipped);
  EXPECT_EQ(seen.body,
            R"({"status":"not ready","checks":{"registry":"ok","store":"ok","evidence":"ok",)"
            R"("shutdown":"failing"}})");
  EXPECT_TRUE(answered.ok()) << answered.error().message;
}

TEST_F(MonitoringTest, ARealPrometheusScrapesTheBusAndComputesARate) {
  StartBus(Options());
  const std::string target = bus_->metrics_base_url().substr(std::string("http://").size());
  testing::LocalPrometheusOptions popts;
  popts.targets = {target};
  auto started = testing::LocalPrometheus::Start(popts);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto& prometheus = **started;
  auto client = ClientFor(consumer_);
  const std::string rate =
      R"(sum(rate(govesb_requests_total{api="HLTHREC",outcome="success"}[5s])))";
  const std::string p99 =
      R"(histogram_quantile(0.99, sum by (le) (rate(govesb_request_provider_seconds_bucket{api="HLTHREC"}[5s]))))";
  std::optional<double> seen_rate, seen_p99;
  // Exchanges go on until Prometheus has scraped enough of them to see a rate.
  const bool got = Eventually(
      [&] {
        auto r = client->Request("HLTHREC", R"({"patient":"P-1"})");
        EXPECT_TRUE(r.ok()) << r.error().message;
        auto value = prometheus.QueryValue(rate);
        EXPECT_TRUE(value.ok()) << value.status().ToString();
        if (!value.ok() || !value->has_value() || **value <= 0) return false;
        seen_rate = *value;
        auto q = prometheus.QueryValue(p99);
        EXPECT_TRUE(q.ok()) << q.status().ToString();
        if (q.ok()) seen_p99 = *q;
        return true;
      },
      milliseconds(30'000));
  ASSERT_TRUE(got) << "no rate after 30 s:\n" << prometheus.LogTail();
  EXPECT_GT(*seen_rate, 0);
  ASSERT_TRUE(seen_p99.has_value());
  EXPECT_GT(*seen_p99, 0) << "the provider's time, from the histogram";
  auto up = prometheus.QueryValue(R"(up{job="govesb"})");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->value_or(0), 1) << "the scrape itself succeeds";
}

}  // namespace
}  // namespace govesb
