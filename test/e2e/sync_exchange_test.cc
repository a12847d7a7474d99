// End to end: a real bus (in process, on port 0, plain HTTP and HTTPS), a real provider behind
// it speaking HTTP, and a consumer speaking the wire contract over real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "base/encoding.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "evidence/query.h"
#include "evidence/record.h"
#include "http/io_threads.h"
#include "http/server.h"
#include "http/tls.h"
#include "registry/registry.h"
#include "server/bus_server.h"
#include "store/data_dir.h"
#include "support/test_http_client.h"
#include "traffic/query.h"
#include "wire/envelope.h"
#include "wire/json.h"
#include "wire/messages.h"

namespace govesb {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using testing::HttpPost;
using testing::TestResponse;

std::string DataMember(const wire::IncomingEnvelope& env, std::string_view key) {
  const wire::JsonMember* m = env.Find(key);
  if (m == nullptr) return "<absent>";
  if (m->type == wire::JsonType::kString) return *wire::DecodeString(m->raw);
  return std::string(m->raw);
}

// A provider system: verifies each delivery with the bus key and answers as told.
class TestProvider {
 public:
  enum class Mode { kEcho, kFailure, kGarbage, kBadSignature, kSlow };

  TestProvider(crypto::PrivateKey key, crypto::PublicKey bus_key,
               http::ServerOptions options = http::ServerOptions{})
      : key_(std::move(key)), bus_key_(std::move(bus_key)) {
    server_ = std::make_unique<http::HttpServer>(
        io_, std::move(options), [this](http::HttpRequest& r) { return Handle(r); });
    GOVESB_CHECK(server_->Listen().ok());
    server_->Start();
    io_.Start();
  }
  ~TestProvider() {
    server_->Shutdown();
    io_.Stop();
  }

  std::string url() const {
    return std::string(server_->tls() ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(server_->port()) + "/api";
  }
  void set_mode(Mode m) { mode_ = m; }

  struct Delivery {
    bool bus_signature_ok = false;
    std::string request_id;
    std::string api_code;
    std::string esb_body;
    std::string purpose;      // the purpose member of the delivery ("<absent>" when none)
    std::string traceparent;  // the W3C trace headers the bus sent ("" when none)
    std::string tracestate;
  };
  Delivery last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  int deliveries() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  asio::awaitable<http::HttpResponse> Handle(http::HttpRequest& req) {
    Delivery d;
    auto env = wire::ParseEnvelope(req.body);
    if (env.ok()) {
      d.bus_signature_ok = wire::VerifyEnvelope(*env, bus_key_).ok();
      d.request_id = DataMember(*env, "requestId");
      d.api_code = DataMember(*env, "apiCode");
      d.esb_body = DataMember(*env, "esbBody");
      d.purpose = DataMember(*env, "purpose");
    }
    d.traceparent = std::string(req.Header("traceparent"));
    d.tracestate = std::string(req.Header("tracestate"));
    {
      std::lock_guard lock(mu_);
      last_ = d;
      ++count_;
    }
    http::HttpResponse r;
    switch (mode_.load()) {
      case Mode::kGarbage:
        r.content_type = "text/html";
        r.body = "<html>502 upstream exploded</html>";
        co_return r;
      case Mode::kSlow: {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(2));
        co_await t.async_wait(asio::use_awaitable);
        break;
      }
      default:
        break;
    }
    std::string data;
    if (mode_.load() == Mode::kFailure) {
      data = "{\"success\":false,\"message\":\"record not found\",\"esbBody\":{}}";
    } else {
      data = "{\"success\":true,\"esbBody\":{\"echo\":" + d.esb_body + ",\"seen\":\"" +
             d.request_id + "\",\"place\":\"Dar es Salaam – Tanzania ✓\"}}";
    }
    if (mode_.load() == Mode::kBadSignature) {
      auto other = crypto::PrivateKey::Generate(key_.curve());
      r.body = wire::SealEnvelope(data, other->SignBase64(data));
    } else {
      r.body = wire::SealEnvelope(data, key_.SignBase64(data));
    }
    co_return r;
  }

  crypto::PrivateKey key_;
  crypto::PublicKey bus_key_;
  std::atomic<Mode> mode_{Mode::kEcho};
  http::IoThreads io_{1};
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  Delivery last_;
  int count_ = 0;
};

struct Party {
  std::optional<crypto::PrivateKey> key;
  std::string client_id;
  std::string secret;
};

class SyncExchangeTest : public ::testing::TestWithParam<bool /*tls*/> {
 protected:
  void SetUp() override {
    // The whole id: its first 12 digits are the millisecond, which two tests started at once
    // (ctest -j) share.
    dir_ = fs::temp_directory_path() / ("govesb-e2e-" + crypto::NewRequestId());
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

    provider_key_.emplace(*crypto::PrivateKey::Generate(crypto::Curve::kP256));
    provider_ = std::make_unique<TestProvider>(*provider_key_, *bus_key_);
    provider_party_ = Register("RITA", "Birth registry", *provider_key_, provider_->url());
    consumer_ =
        Register("MOH", "Health records", *crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1),
                 "http://127.0.0.1:9/callback");
    ASSERT_TRUE(registry_->AddApi(provider_party_.client_id, "BRTH01", 2000).ok());
    ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "BRTH01").ok());

    options_.data_dir = dir_.string();
    options_.listen = "127.0.0.1:0";
    options_.plain_http = !GetParam();
    options_.io_threads = 2;
    options_.clock = &clock_;
    options_.max_body_bytes = 256 * 1024;
    bus_ = std::make_unique<server::BusServer>(options_);
    Status s = bus_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The bus again on the same data directory, with options changed by `change`.
  void RestartBus(const std::function<void(server::ServeOptions&)>& change) {
    bus_.reset();
    change(options_);
    bus_ = std::make_unique<server::BusServer>(options_);
    Status s = bus_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void TearDown() override {
    bus_.reset();
    provider_.reset();
    registry_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Party Register(const std::string& institution, const std::string& name, crypto::PrivateKey key,
                 const std::string& endpoint) {
    auto added = registry_->AddSystem(institution, name, key.public_key().SpkiBase64(), endpoint);
    GOVESB_CHECK(added.ok());
    return Party{std::move(key), added->system.client_id, added->client_secret};
  }

  std::string Url(const std::string& path) { return bus_->base_url() + path; }

  Result<TestResponse> Post(const std::string& path, const std::string& body,
                            std::vector<std::pair<std::string, std::string>> headers) {
    return HttpPost(Url(path), body, headers, bus_->ca_file());
  }

  std::string Token(const Party& p) {
    auto r = Post("/gw/govesb-uaa/oauth/token",
                  "client_id=" + p.client_id + "&client_secret=" + p.secret +
                      "&grant_type=client_credentials",
                  {{"Content-Type", "application/x-www-form-urlencoded"}});
    GOVESB_CHECK(r.ok());
    auto members = wire::ScanObject(r->body);
    if (r->status != 200 || !members.ok()) {
      last_token_error_ = r->body;
      return "";
    }
    return *wire::DecodeString(wire::FindMember(*members, "access_token")->raw);
  }

  static std::string Envelope(const std::string& data, const crypto::PrivateKey& key) {
    return wire::SealEnvelope(data, key.SignBase64(data));
  }

  // Calls the engine; returns the response and checks that it is a bus-signed envelope.
  struct Answer {
    int http_status = 0;
    bool signed_by_bus = false;
    bool success = false;
    std::string request_id;
    std::string message;
    std::string esb_body;
    std::string raw;
  };
  Answer Call(const std::string& path, const std::string& body, const std::string& token,
              const std::string& authorization_prefix = "Bearer ",
              const std::vector<std::pair<std::string, std::string>>& extra_headers = {}) {
    std::vector<std::pair<std::string, std::string>> headers{
        {"Content-Type", "application/json; charset=utf-8"}};
    headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
    if (!token.empty()) headers.emplace_back("Authorization", authorization_prefix + token);
    auto r = Post(path, body, headers);
    GOVESB_CHECK(r.ok());
    Answer a;
    a.http_status = r->status;
    a.raw = r->body;
    auto env = wire::ParseEnvelope(r->body);
    if (!env.ok()) return a;
    a.signed_by_bus = wire::VerifyEnvelope(*env, *bus_key_).ok();
    a.success = DataMember(*env, "success") == "true";
    a.request_id = DataMember(*env, "requestId");
    a.message = DataMember(*env, "message");
    a.esb_body = DataMember(*env, "esbBody");
    return a;
  }

  Answer Request(const std::string& api, const std::string& body_json,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    std::string data = "{\"apiCode\":\"" + api + "\",\"esbBody\":" + body_json + "}";
    return Call("/engine/esb/request", Envelope(data, *consumer_.key), Token(consumer_), "Bearer ",
                headers);
  }

  fs::path dir_;
  server::ServeOptions options_;
  std::string last_token_error_;
  SimulatedClock clock_;
  std::optional<crypto::PublicKey> bus_key_;
  std::unique_ptr<store::Database> db_;
  std::optional<registry::Registry> registry_;
  std::optional<crypto::PrivateKey> provider_key_;
  std::unique_ptr<TestProvider> provider_;
  Party provider_party_;
  Party consumer_;
  std::unique_ptr<server::BusServer> bus_;
};

bool IsRequestId(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The API and its grant are two commits: the bus may reload between them. Both have arrived once
// a call is neither an unknown apiCode nor refused for want of a grant.
bool RegistryChangeArrived(const std::string& message) {
  return message.find("unknown apiCode") == std::string::npos &&
         message.find("no approved access") == std::string::npos;
}

// Waits (bounded) for a registry change to reach the running bus.
template <class Pred>
bool Eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST_P(SyncExchangeTest, HappyPathRelaysSignedRequestAndAnswer) {
  Answer a = Request("BRTH01", "{\"certificateNo\":\"B-1001\",\"name\":\"Neema\",\"n\":[1,2.5]}");
  ASSERT_EQ(a.http_status, 200) << a.raw << " token error: " << last_token_error_;
  EXPECT_TRUE(a.signed_by_bus) << a.raw;
  EXPECT_TRUE(a.success) << a.raw;
  EXPECT_EQ(a.message, "Success");
  EXPECT_TRUE(IsRequestId(a.request_id)) << a.request_id;
  // The exact compact form, data first, members in contract order.
  EXPECT_EQ(a.raw.rfind("{\"data\":{\"success\":true,\"requestId\":\"", 0), 0u) << a.raw;
  EXPECT_NE(a.raw.find(",\"signature\":\""), std::string::npos);

  auto d = provider_->last();
  EXPECT_TRUE(d.bus_signature_ok);
  EXPECT_EQ(d.api_code, "BRTH01");
  EXPECT_EQ(d.request_id, a.request_id);
  EXPECT_EQ(d.esb_body, "{\"certificateNo\":\"B-1001\",\"name\":\"Neema\",\"n\":[1,2.5]}");
  EXPECT_EQ(a.esb_body, "{\"echo\":" + d.esb_body + ",\"seen\":\"" + a.request_id +
                            "\",\"place\":\"Dar es Salaam – Tanzania ✓\"}");
}

TEST_P(SyncExchangeTest, TheConsumersTraceIsContinuedToTheProviderAndRecorded) {
  constexpr std::string_view kTrace = "0af7651916cd43dd8448eb211c80319c";
  const std::string consumer_parent = "00-" + std::string(kTrace) + "-b7ad6b7169203331-01";
  Answer traced =
      Request("BRTH01", "{}", {{"traceparent", consumer_parent}, {"tracestate", "moh=a1,rita=b2"}});
  ASSERT_EQ(traced.http_status, 200) << traced.raw;
  ASSERT_TRUE(traced.success) << traced.raw;
  const auto seen = provider_->last();
  // The same trace, the bus's own span as the provider's parent, the consumer's state.
  ASSERT_EQ(seen.traceparent.size(), 55u) << seen.traceparent;
  EXPECT_EQ(seen.traceparent.substr(0, 36), "00-" + std::string(kTrace) + "-");
  EXPECT_NE(seen.traceparent.substr(36, 16), "b7ad6b7169203331");
  EXPECT_EQ(seen.traceparent.substr(52), "-01");
  EXPECT_EQ(seen.tracestate, "moh=a1,rita=b2");

  // Without one (or with a malformed one), the bus starts a trace; tracestate is not passed on.
  Answer broken =
      Request("BRTH01", "{}", {{"traceparent", "00-NOT-A-TRACE"}, {"tracestate", "moh=a1"}});
  ASSERT_TRUE(broken.success) << broken.raw;
  const auto started = provider_->last();
  ASSERT_EQ(started.traceparent.size(), 55u) << started.traceparent;
  EXPECT_EQ(started.traceparent.rfind("00-", 0), 0u);
  EXPECT_NE(started.traceparent.substr(3, 32), kTrace);
  EXPECT_EQ(started.tracestate, "");

  // Every record of the exchange carries what the provider was given.
  bus_->Shutdown();
  for (const auto& [request_id, traceparent] :
       {std::pair{traced.request_id, seen.traceparent},
        std::pair{broken.request_id, started.traceparent}}) {
    evidence::QueryFilter filter;
    filter.request_id = request_id;
    auto records = evidence::QueryRecords(*db_, filter);
    ASSERT_TRUE(records.ok()) << records.status().ToString();
    ASSERT_EQ(records->size(), 4u);  // request, delivery, reply, response
    for (const std::string& record : *records) {
      EXPECT_EQ(evidence::CanonicalMember(record, "traceparent"), traceparent) << record;
    }
  }
}

// Issue 18: a request declares its purpose in its signed data; the grant says which purposes
// it allows and whether one is required; the provider receives it; the evidence records it.
TEST_P(SyncExchangeTest, PurposesAreRequiredAllowedRefusedForwardedAndRecorded) {
  auto request_with = [&](std::string_view purpose_json) {
    std::string data = "{\"apiCode\":\"BRTH01\",\"esbBody\":{}";
    if (!purpose_json.empty()) data += ",\"purpose\":" + std::string(purpose_json);
    data += "}";
    return Call("/engine/esb/request", Envelope(data, *consumer_.key), Token(consumer_));
  };
  // Without purposes on the grant, unchanged clients work as before.
  Answer plain = request_with("");
  ASSERT_TRUE(plain.success) << plain.raw;
  EXPECT_EQ(provider_->last().purpose, "<absent>");

  ASSERT_TRUE(registry_
                  ->SetGrantPurposes(consumer_.client_id, "BRTH01",
                                     {{"TREATMENT", "Medical treatment of the patient"},
                                      {"ELIGIBILITY", "Eligibility for a benefit"}},
                                     /*required=*/true)
                  .ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Answer missing;
  do {  // until the registry change reaches the bus
    missing = request_with("");
  } while (missing.success && std::chrono::steady_clock::now() < deadline);
  EXPECT_FALSE(missing.success);
  EXPECT_TRUE(missing.signed_by_bus);
  EXPECT_NE(missing.message.find("requires a declared purpose"), std::string::npos)
      << missing.message;
  EXPECT_NE(missing.message.find("TREATMENT, ELIGIBILITY"), std::string::npos) << missing.message;

  const int before = provider_->deliveries();
  Answer other = request_with("\"MARKETING\"");
  EXPECT_FALSE(other.success);
  EXPECT_NE(other.message.find("purpose MARKETING is not allowed"), std::string::npos)
      << other.message;
  Answer malformed = request_with("\"" + std::string(40, 'A') + "\"");
  EXPECT_FALSE(malformed.success);
  EXPECT_NE(malformed.message.find("1 to 32"), std::string::npos) << malformed.message;
  Answer not_string = request_with("7");
  EXPECT_FALSE(not_string.success);
  EXPECT_EQ(provider_->deliveries(), before) << "refused requests never reach the provider";

  Answer allowed = request_with("\"TREATMENT\"");
  ASSERT_TRUE(allowed.success) << allowed.raw;
  EXPECT_EQ(provider_->last().purpose, "TREATMENT");
  EXPECT_TRUE(provider_->last().bus_signature_ok);

  bus_->Shutdown();
  evidence::QueryFilter filter;
  filter.request_id = allowed.request_id;
  auto records = evidence::QueryRecords(*db_, filter);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 4u);
  for (const std::string& record : *records) {
    EXPECT_EQ(evidence::CanonicalMember(record, "purpose"), "TREATMENT") << record;
  }
  filter.request_id = other.request_id;
  records = evidence::QueryRecords(*db_, filter);
  ASSERT_TRUE(records.ok());
  for (const std::string& record : *records) {
    EXPECT_EQ(evidence::CanonicalMember(record, "purpose"), std::nullopt) << record;
  }
}

TEST_P(SyncExchangeTest, AGrantsAllowListRemovesFieldsBeforeSigningAndTheEvidenceNamesThem) {
  auto request = [&] {
    const std::string data =
        R"({"apiCode":"BRTH01","esbBody":{"person":{"name":"Asha","nin":"19900101-1"},)"
        R"("children":[{"name":"Juma","nin":"C1"},{"name":"Neema","nin":"C2"}],"note":"x"}})";
    return Call("/engine/esb/request", Envelope(data, *consumer_.key), Token(consumer_));
  };
  Answer full = request();
  ASSERT_TRUE(full.success) << full.raw;
  EXPECT_NE(full.esb_body.find("\"nin\":\"C1\""), std::string::npos) << full.esb_body;

  ASSERT_TRUE(registry_
                  ->SetGrantFields(consumer_.client_id, "BRTH01",
                                   {"echo.person.name", "/echo/children/name", "seen"})
                  .ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Answer reduced;
  do {  // until the registry change reaches the bus
    reduced = request();
  } while (reduced.success && reduced.esb_body.find("nin") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(reduced.success) << reduced.raw;
  EXPECT_TRUE(reduced.signed_by_bus) << "the reduced answer is signed by the bus";
  EXPECT_EQ(reduced.esb_body, R"({"echo":{"person":{"name":"Asha"},"children":[{"name":"Juma"},)"
                              R"({"name":"Neema"}]},"seen":")" +
                                  reduced.request_id + "\"}");
  // The provider still received the whole request: minimisation is of the answer.
  EXPECT_NE(provider_->last().esb_body.find("19900101-1"), std::string::npos);

  // Every field back.
  ASSERT_TRUE(registry_->SetGrantFields(consumer_.client_id, "BRTH01", {}).ok());
  Answer again;
  const auto back_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    again = request();
  } while (again.esb_body.find("\"nin\"") == std::string::npos &&
           std::chrono::steady_clock::now() < back_deadline);
  EXPECT_NE(again.esb_body.find("\"place\""), std::string::npos) << again.esb_body;

  bus_->Shutdown();
  evidence::QueryFilter filter;
  filter.request_id = reduced.request_id;
  auto records = evidence::QueryRecords(*db_, filter);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 4u);
  int with_withheld = 0;
  for (const std::string& record : *records) {
    auto withheld = evidence::CanonicalMember(record, "withheld");
    if (!withheld.has_value()) continue;
    ++with_withheld;
    EXPECT_EQ(evidence::CanonicalMember(record, "kind"), "response") << record;
    EXPECT_EQ(*withheld, R"(["/echo/person/nin","/echo/children/*/nin","/echo/note","/place"])");
    EXPECT_EQ(record.find("19900101-1"), std::string::npos) << "names only, never values";
  }
  EXPECT_EQ(with_withheld, 1);
  filter.request_id = full.request_id;
  records = evidence::QueryRecords(*db_, filter);
  ASSERT_TRUE(records.ok());
  for (const std::string& record : *records) {
    EXPECT_EQ(evidence::CanonicalMember(record, "withheld"), std::nullopt) << record;
  }
}

TEST_P(SyncExchangeTest, NidaRequestAndAlternativeTokenPlacements) {
  std::string token = Token(consumer_);
  std::string nida =
      "{\"apiCode\":\"BRTH01\",\"userId\":\"19900101-12345-00001-22\","
      "\"esbBody\":{\"Payload\":{\"NIN\":\"1990\"}}}";
  Answer a = Call("/engine/esb/nida-request", Envelope(nida, *consumer_.key), token, "");
  EXPECT_TRUE(a.success) << a.raw;
  EXPECT_EQ(provider_->last().esb_body, "{\"Payload\":{\"NIN\":\"1990\"}}");

  // Java connector 0.1.5: token inside the signed data, no Authorization header.
  std::string java =
      "{\"esbBody\":{\"q\":1},\"apiCode\":\"BRTH01\",\"authorization\":\"" + token + "\"}";
  Answer b = Call("/engine/esb/request", Envelope(java, *consumer_.key), "");
  EXPECT_TRUE(b.success) << b.raw;

  // A single-URL client posting a pull to the bare engine URL.
  std::string pull = "{\"apiCode\":\"BRTH01\",\"esbBody\":{}}";
  Answer c = Call("/engine/esb", Envelope(pull, *consumer_.key), token);
  EXPECT_TRUE(c.success) << c.raw;
}

TEST_P(SyncExchangeTest, SignatureOverPrettyPrintedDataVerifiesRaw) {
  std::string data = "{ \"apiCode\" : \"BRTH01\",\n  \"esbBody\" : { \"a\" : \"é\" } }";
  Answer a = Call("/engine/esb/request", Envelope(data, *consumer_.key), Token(consumer_));
  EXPECT_TRUE(a.success) << a.raw;
  // Signed over the compact form but sent pretty: the compact variant matches.
  std::string compact = "{\"apiCode\":\"BRTH01\",\"esbBody\":{\"a\":\"é\"}}";
  std::string sent =
      "{\"data\":" + data + ",\"signature\":\"" + consumer_.key->SignBase64(compact) + "\"}";
  Answer b = Call("/engine/esb/request", sent, Token(consumer_));
  EXPECT_TRUE(b.success) << b.raw;
}

TEST_P(SyncExchangeTest, UnknownApiCode) {
  Answer a = Request("NOPE01", "{}");
  EXPECT_EQ(a.http_status, 200);
  EXPECT_TRUE(a.signed_by_bus);
  EXPECT_FALSE(a.success);
  EXPECT_NE(a.message.find("unknown apiCode 'NOPE01'"), std::string::npos) << a.message;
  EXPECT_TRUE(IsRequestId(a.request_id));
  EXPECT_EQ(a.esb_body, "{}");
  EXPECT_EQ(provider_->deliveries(), 0);
}

TEST_P(SyncExchangeTest, NoGrantAndRevokedGrant) {
  Party stranger = Register("MOH", "No grant", *crypto::PrivateKey::Generate(crypto::Curve::kP521),
                            "http://127.0.0.1:9/x");
  ASSERT_TRUE(Eventually([&] { return !Token(stranger).empty(); }));
  std::string data = "{\"apiCode\":\"BRTH01\",\"esbBody\":{}}";
  Answer a = Call("/engine/esb/request", Envelope(data, *stranger.key), Token(stranger));
  EXPECT_EQ(a.http_status, 200);
  EXPECT_FALSE(a.success);
  EXPECT_NE(a.message.find("no approved access to API BRTH01"), std::string::npos) << a.message;

  EXPECT_TRUE(Request("BRTH01", "{}").success);
  ASSERT_TRUE(registry_->RevokeGrant(consumer_.client_id, "BRTH01").ok());
  EXPECT_TRUE(Eventually([&] { return !Request("BRTH01", "{}").success; }));
  EXPECT_NE(Request("BRTH01", "{}").message.find("no approved access"), std::string::npos);
}

TEST_P(SyncExchangeTest, BadAndMissingConsumerSignature) {
  std::string data = "{\"apiCode\":\"BRTH01\",\"esbBody\":{}}";
  auto other = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  Answer a = Call("/engine/esb/request", Envelope(data, *other), Token(consumer_));
  EXPECT_EQ(a.http_status, 200);
  EXPECT_TRUE(a.signed_by_bus);
  EXPECT_FALSE(a.success);
  EXPECT_NE(a.message.find("signature does not verify"), std::string::npos) << a.message;

  Answer b = Call("/engine/esb/request", "{\"data\":" + data + "}", Token(consumer_));
  EXPECT_EQ(b.http_status, 400);
  EXPECT_FALSE(b.success);
  EXPECT_NE(b.message.find("signature"), std::string::npos) << b.message;
  EXPECT_EQ(provider_->deliveries(), 0);
}

TEST_P(SyncExchangeTest, MalformedJson) {
  Answer a = Call("/engine/esb/request", "{\"data\":{\"apiCode\":", Token(consumer_));
  EXPECT_EQ(a.http_status, 400);
  EXPECT_TRUE(a.signed_by_bus);
  EXPECT_FALSE(a.success);
  EXPECT_NE(a.message.find("not valid JSON"), std::string::npos) << a.message;
}

TEST_P(SyncExchangeTest, TokenFailuresAre401) {
  std::string data = "{\"apiCode\":\"BRTH01\",\"esbBody\":{}}";
  std::string env = Envelope(data, *consumer_.key);
  Answer missing = Call("/engine/esb/request", env, "");
  EXPECT_EQ(missing.http_status, 401);
  EXPECT_NE(missing.raw.find("\"error\":\"invalid_token\""), std::string::npos) << missing.raw;

  std::string token = Token(consumer_);
  std::string forged = token;
  forged[forged.size() / 3] = forged[forged.size() / 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Call("/engine/esb/request", env, forged).http_status, 401);

  // Still valid after a newer token was issued for the same system.
  std::string newer = Token(consumer_);
  EXPECT_NE(newer, token);
  EXPECT_TRUE(Call("/engine/esb/request", env, token).success);

  clock_.Advance(std::chrono::hours(2));  // past the default one-hour lifetime
  Answer expired = Call("/engine/esb/request", env, token);
  EXPECT_EQ(expired.http_status, 401);
  EXPECT_NE(expired.raw.find("expired"), std::string::npos) << expired.raw;
}

// Guesses at one client id, from the same address as a newcomer, hashing all the time (no
// lock-out here, the worst case): the newcomer's check waits in a line of its own, so it gets its
// token, while the guesses beyond their own line's bound are answered 429.
TEST_P(SyncExchangeTest, GuessesAtOneClientIdDoNotQueueOutAnotherIdsFirstToken) {
  // The attacked system's secret is hashed as in production (~80 ms a check), the others fast.
  registry::Registry real_hashes(*db_, registry::RegistryOptions{});
  auto target = real_hashes.AddSystem(
      "RITA", "Death registry",
      crypto::PrivateKey::Generate(crypto::Curve::kP256)->public_key().SpkiBase64(),
      "http://127.0.0.1:9/api");
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  RestartBus([](server::ServeOptions& o) {
    o.guards.token_client.free_failures = 1'000'000;
    o.guards.token_address.free_failures = 1'000'000;
    o.credential_checks.threads = 1;
  });
  std::atomic<bool> stop{false};
  std::atomic<int> refused_429{0};
  std::atomic<int> refused_401{0};
  std::vector<std::thread> attackers;
  for (int i = 0; i < 12; ++i) {
    attackers.emplace_back([&] {
      while (!stop.load()) {
        auto r = Post("/gw/govesb-uaa/oauth/token",
                      "grant_type=client_credentials&client_id=" + target->system.client_id +
                          "&client_secret=guess",
                      {{"Content-Type", "application/x-www-form-urlencoded"}});
        if (!r.ok()) continue;
        if (r->status == 429) {
          refused_429.fetch_add(1);
          EXPECT_NE(r->body.find("retry after"), std::string::npos) << r->body;
        }
        if (r->status == 401) refused_401.fetch_add(1);
      }
    });
  }
  // Until the guesses have filled their line.
  EXPECT_TRUE(Eventually([&] { return refused_429.load() > 0; }));
  std::string token = Token(consumer_);
  const int guesses_checked = refused_401.load();
  stop = true;
  for (std::thread& t : attackers) t.join();
  EXPECT_FALSE(token.empty()) << last_token_error_;
  EXPECT_GT(guesses_checked, 0);
}

TEST_P(SyncExchangeTest, DisabledSystemAndRotatedSecret) {
  std::string data = "{\"apiCode\":\"BRTH01\",\"esbBody\":{}}";
  std::string env = Envelope(data, *consumer_.key);
  std::string token = Token(consumer_);
  ASSERT_TRUE(Call("/engine/esb/request", env, token).success);

  auto rotated = registry_->RotateSecret(consumer_.client_id);
  ASSERT_TRUE(rotated.ok());
  EXPECT_TRUE(
      Eventually([&] { return Call("/engine/esb/request", env, token).http_status == 401; }));
  Party renewed = consumer_;
  renewed.secret = *rotated;
  EXPECT_TRUE(Token(consumer_).empty());  // the old secret no longer works
  std::string fresh = Token(renewed);
  ASSERT_FALSE(fresh.empty());
  EXPECT_TRUE(Call("/engine/esb/request", env, fresh).success);

  ASSERT_TRUE(registry_->DisableSystem(consumer_.client_id).ok());
  EXPECT_TRUE(
      Eventually([&] { return Call("/engine/esb/request", env, fresh).http_status == 401; }));
  auto r = Post("/gw/govesb-uaa/oauth/token",
                "grant_type=client_credentials&client_id=" + renewed.client_id +
                    "&client_secret=" + renewed.secret,
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("disabled"), std::string::npos) << r->body;
}

TEST_P(SyncExchangeTest, ProviderFailures) {
  provider_->set_mode(TestProvider::Mode::kFailure);
  Answer failed = Request("BRTH01", "{}");
  EXPECT_FALSE(failed.success);
  EXPECT_TRUE(failed.signed_by_bus);
  EXPECT_EQ(failed.message, "record not found");

  provider_->set_mode(TestProvider::Mode::kGarbage);
  Answer garbage = Request("BRTH01", "{}");
  EXPECT_EQ(garbage.http_status, 200);
  EXPECT_FALSE(garbage.success);
  EXPECT_NE(garbage.message.find("not a signed GovESB envelope"), std::string::npos)
      << garbage.message;

  provider_->set_mode(TestProvider::Mode::kBadSignature);
  Answer forged = Request("BRTH01", "{}");
  EXPECT_FALSE(forged.success);
  EXPECT_NE(forged.message.find("failed signature verification"), std::string::npos)
      << forged.message;
  EXPECT_EQ(forged.esb_body, "{}");  // nothing of the unverified answer is passed on

  provider_->set_mode(TestProvider::Mode::kSlow);
  ASSERT_TRUE(registry_->AddApi(provider_party_.client_id, "SLOW01", 300).ok());
  ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "SLOW01").ok());
  Answer slow;
  ASSERT_TRUE(Eventually([&] {
    slow = Request("SLOW01", "{}");
    return RegistryChangeArrived(slow.message);
  }));
  EXPECT_FALSE(slow.success);
  EXPECT_NE(slow.message.find("did not answer within 300 ms"), std::string::npos) << slow.message;
}

TEST_P(SyncExchangeTest, ProviderUnreachable) {
  // A port that was free a moment ago.
  asio::io_context scratch;
  asio::ip::tcp::acceptor a(scratch, {asio::ip::make_address("127.0.0.1"), 0});
  std::string dead = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/x";
  a.close();
  ASSERT_TRUE(registry_->AddApi(provider_party_.client_id, "DOWN01", 2000, dead).ok());
  ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "DOWN01").ok());
  Answer down;
  ASSERT_TRUE(Eventually([&] {
    down = Request("DOWN01", "{}");
    return RegistryChangeArrived(down.message);
  }));
  EXPECT_EQ(down.http_status, 200);
  EXPECT_FALSE(down.success);
  EXPECT_NE(down.message.find("could not be reached"), std::string::npos) << down.message;
}

// A provider over HTTPS (its CA given to the bus) that ends idle kept-alive connections, as
// Node.js does after 5 s: an exchange after such an idle is served, on a new connection.
// Before, each exchange that followed such an idle on a pooled connection failed ("could not be
// reached"): the bus took the end of the TLS connection for the provider's failure, not for a
// connection to open again.
TEST_P(SyncExchangeTest, AnHttpsProviderThatEndsIdleConnectionsIsReachedAfterAnIdle) {
  const fs::path tls_dir = dir_ / "provider-tls";
  auto files = http::EnsureSelfSignedCertificate(tls_dir.string(), {"127.0.0.1"});
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto tls = http::MakeServerTlsContext(files->files.cert, files->files.key);
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  http::ServerOptions popts;
  popts.tls = *tls;
  popts.idle_timeout = std::chrono::milliseconds(200);
  TestProvider secure(*provider_key_, *bus_key_, std::move(popts));
  ASSERT_EQ(secure.url().rfind("https://", 0), 0u);
  RestartBus([&](server::ServeOptions& o) { o.upstream_ca = files->files.ca_cert; });
  ASSERT_TRUE(registry_->AddApi(provider_party_.client_id, "TLSI01", 2000, secure.url()).ok());
  ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "TLSI01").ok());
  Answer first;
  ASSERT_TRUE(Eventually([&] {
    first = Request("TLSI01", "{\"n\":1}");
    return RegistryChangeArrived(first.message);
  }));
  EXPECT_TRUE(first.success) << first.raw;
  for (int n = 2; n <= 3; ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // the provider ends it
    Answer again = Request("TLSI01", "{\"n\":" + std::to_string(n) + "}");
    EXPECT_TRUE(again.signed_by_bus) << again.raw;
    EXPECT_TRUE(again.success) << n << ": " << again.raw;
    EXPECT_EQ(secure.last().esb_body, "{\"n\":" + std::to_string(n) + "}");
  }
  EXPECT_EQ(secure.deliveries(), 3);
}

TEST_P(SyncExchangeTest, BodyOverLimitIs413) {
  std::string big = "{\"apiCode\":\"BRTH01\",\"esbBody\":\"" + std::string(300 * 1024, 'x') + "\"}";
  Answer a = Call("/engine/esb/request", Envelope(big, *consumer_.key), Token(consumer_));
  EXPECT_EQ(a.http_status, 413);
  EXPECT_FALSE(a.success);
  EXPECT_TRUE(a.signed_by_bus);
  EXPECT_NE(a.message.find("larger than the limit"), std::string::npos) << a.message;
}

TEST_P(SyncExchangeTest, TokenEndpointVariants) {
  const std::string path = "/gw/govesb-uaa/oauth/token";
  std::string basic = "Basic " + Base64Encode(consumer_.client_id + ":" + consumer_.secret);
  auto only_basic =
      Post(path, "grant_type=client_credentials",
           {{"Content-Type", "application/x-www-form-urlencoded"}, {"Authorization", basic}});
  ASSERT_TRUE(only_basic.ok());
  EXPECT_EQ(only_basic->status, 200) << only_basic->body;
  auto members = wire::ScanObject(only_basic->body);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 4u) << only_basic->body;
  EXPECT_EQ((*members)[0].key, "access_token");
  EXPECT_EQ((*members)[1].key, "token_type");
  EXPECT_EQ((*members)[1].raw, "\"bearer\"");
  EXPECT_EQ((*members)[2].key, "expires_in");
  EXPECT_EQ((*members)[2].type, wire::JsonType::kNumber);
  EXPECT_GT(std::stoi(std::string((*members)[2].raw)), 60);
  EXPECT_EQ((*members)[3].key, "scope");
  EXPECT_EQ((*members)[3].type, wire::JsonType::kString);

  std::string multipart =
      "--XyZ\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\n" + consumer_.client_id +
      "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"client_secret\"\r\n\r\n" +
      consumer_.secret +
      "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\n"
      "client_credentials\r\n--XyZ--\r\n";
  auto mp = Post(path, multipart, {{"Content-Type", "multipart/form-data; boundary=XyZ"}});
  ASSERT_TRUE(mp.ok());
  EXPECT_EQ(mp->status, 200) << mp->body;

  auto wrong = Post(path, "client_id=" + consumer_.client_id + "&client_secret=wrong",
                    {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  EXPECT_NE(wrong->body.find("\"error\":\"invalid_client\""), std::string::npos);

  auto bad_grant = Post(path, "grant_type=password&client_id=x&client_secret=y",
                        {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_TRUE(bad_grant.ok());
  EXPECT_EQ(bad_grant->status, 400);
  EXPECT_NE(bad_grant->body.find("unsupported_grant_type"), std::string::npos);
}

// The signature variants the bus verified reach the registry through its usage flusher (its own
// registry store), at the latest at shutdown, and add up across restarts.
TEST_P(SyncExchangeTest, SignatureUsageIsRecordedInTheRegistry) {
  ASSERT_TRUE(Request("BRTH01", "{\"n\":1}").success);
  ASSERT_TRUE(Request("BRTH01", "{\"n\":2}").success);
  RestartBus([](server::ServeOptions&) {});  // flushes at shutdown
  ASSERT_TRUE(Request("BRTH01", "{\"n\":3}").success);
  bus_.reset();
  auto usage = registry_->ListSignatureUsage(consumer_.client_id);
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].variant, "raw");
  EXPECT_EQ((*usage)[0].count, 3);
  EXPECT_EQ((*usage)[0].last_at, clock_.NowMillis());
}

// Issue 18: a consumer whose signed requests are in the ECMAScript form (what Node clients
// send) is learned as such, and from then on the bus writes its answers in that form; a setting
// wins over what was learned. The provider echoes the consumer's body, so a small double
// shows the form: 1.0E-4 (Jackson) or 0.0001 (JSON.stringify).
TEST_P(SyncExchangeTest, AConsumersFormIsLearnedFromItsRequestsAndUsedForItsAnswers) {
  RestartBus(
      [](server::ServeOptions& o) { o.usage_flush_interval = std::chrono::milliseconds(20); });
  Answer jackson = Request("BRTH01", "{\"ratio\":1.0E-4}");
  ASSERT_TRUE(jackson.success) << jackson.raw;
  EXPECT_NE(jackson.raw.find("\"ratio\":1.0E-4"), std::string::npos) << jackson.raw;
  // Requests that tell nothing (no double, no escape) teach nothing.
  ASSERT_TRUE(Request("BRTH01", "{\"n\":1,\"ok\":true}").success);

  // A request signed in the ECMAScript form: the bus learns "node" for this consumer.
  ASSERT_TRUE(Request("BRTH01", "{\"ratio\":0.0001,\"w\":2.5}").success);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string learned;
  while (std::chrono::steady_clock::now() < deadline) {
    learned = registry_->GetSystem(consumer_.client_id)->serialisation_learned;
    if (learned == "node") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(learned, "node");
  // Once the registry change reaches the bus, answers are in that form. (The requests stay in
  // the ECMAScript form: each telling request teaches its form again. The provider receives
  // 1.0E-4, in its own form, and echoes it.)
  Answer node;
  while (std::chrono::steady_clock::now() < deadline) {
    node = Request("BRTH01", "{\"ratio\":0.0001}");
    if (node.raw.find("\"ratio\":0.0001") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(node.raw.find("\"ratio\":0.0001"), std::string::npos) << node.raw;
  EXPECT_TRUE(node.signed_by_bus) << node.raw;
  // The operator's setting wins.
  ASSERT_TRUE(registry_->SetSerialisation(consumer_.client_id, "jackson").ok());
  Answer set;
  while (std::chrono::steady_clock::now() < deadline) {
    set = Request("BRTH01", "{\"ratio\":0.0001}");
    if (set.raw.find("\"ratio\":1.0E-4") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(set.raw.find("\"ratio\":1.0E-4"), std::string::npos) << set.raw;
  auto usage = registry_->ListSignatureUsage(consumer_.client_id);
  ASSERT_TRUE(usage.ok());
  bool counted = false;
  for (const auto& u : *usage) counted |= u.variant == "serialisation-node";
  EXPECT_TRUE(counted);
}

// Issue 14: every exchange is counted per minute, API and system, and the counts are in the
// database once the bus has flushed them (at the latest at shutdown), across a restart.
TEST_P(SyncExchangeTest, ExchangesAreCountedInTheTrafficTable) {
  ASSERT_TRUE(Request("BRTH01", "{\"n\":1}").success);
  provider_->set_mode(TestProvider::Mode::kFailure);
  Answer declined = Request("BRTH01", "{\"n\":2}");
  ASSERT_EQ(declined.http_status, 200);
  EXPECT_FALSE(declined.success);
  Answer unknown = Request("NOSUCH", "{}");
  EXPECT_FALSE(unknown.success);
  RestartBus([](server::ServeOptions&) {});  // flushes at shutdown; a new process's counters
  provider_->set_mode(TestProvider::Mode::kEcho);
  ASSERT_TRUE(Request("BRTH01", "{\"n\":3}").success);
  bus_.reset();

  traffic::SeriesFilter f;
  f.from_ms = clock_.NowMillis() / 60'000 * 60'000;  // the one minute of the simulated clock
  f.to_ms = f.from_ms + 60'000;
  f.code = "BRTH01";
  f.systems = {consumer_.client_id};
  f.role = traffic::Role::kConsumer;
  auto points = traffic::Series(*db_, f);
  ASSERT_TRUE(points.ok()) << points.status().ToString();
  ASSERT_EQ(points->size(), 1u);
  const traffic::Figures& api = (*points)[0].figures;
  EXPECT_EQ(api.requests, 3u);
  EXPECT_EQ(api.by_outcome[static_cast<int>(traffic::Outcome::kSuccess)], 2u);
  EXPECT_EQ(api.by_outcome[static_cast<int>(traffic::Outcome::kProviderDeclined)], 1u);
  EXPECT_EQ(api.errors, 0u);
  EXPECT_GT(api.p50_us, 0);
  EXPECT_GE(api.p99_us, api.p50_us);
  EXPECT_GT(api.request_bytes, 0u);
  EXPECT_GT(api.response_bytes, 0u);

  // The unknown code is no key of its own: counted for the consumer with no code.
  f.code.clear();
  auto systems = traffic::Totals(*db_, f, traffic::GroupBy::kSystem);
  ASSERT_TRUE(systems.ok());
  ASSERT_EQ(systems->size(), 1u);
  EXPECT_EQ((*systems)[0].key, consumer_.client_id);
  EXPECT_EQ((*systems)[0].figures.requests, 4u);
  EXPECT_EQ((*systems)[0].figures.by_outcome[static_cast<int>(traffic::Outcome::kRefusedInvalid)],
            1u);
  f.systems = {provider_party_.client_id};
  f.role = traffic::Role::kProvider;
  auto provided = traffic::Totals(*db_, f, traffic::GroupBy::kCode);
  ASSERT_TRUE(provided.ok());
  ASSERT_EQ(provided->size(), 1u);
  EXPECT_EQ((*provided)[0].key, "BRTH01");
  EXPECT_EQ((*provided)[0].figures.requests, 3u);
}

// ---- API contracts (src/schema): the bus holds consumers and providers to the schemas ----

constexpr char kBirthRequestSchema[] = R"({
  "type": "object",
  "required": ["certificateNo", "child"],
  "properties": {
    "certificateNo": {"type": "string", "pattern": "^B-[0-9]{4}$"},
    "child": {
      "type": "object",
      "required": ["birthDate"],
      "properties": {"birthDate": {"type": "string", "format": "date"}}
    }
  }
})";

// The evidence records of one exchange, by kind, after the bus has stopped.
std::map<std::string, std::string> RecordsByKind(store::Database& db,
                                                 const std::string& request_id) {
  evidence::QueryFilter filter;
  filter.request_id = request_id;
  auto records = evidence::QueryRecords(db, filter);
  GOVESB_CHECK(records.ok());
  std::map<std::string, std::string> out;
  for (const std::string& record : *records) {
    out[evidence::CanonicalMember(record, "kind").value_or("")] = record;
  }
  return out;
}

TEST_P(SyncExchangeTest, ARequestThatBreaksTheContractIsRefusedBeforeTheProviderSeesIt) {
  ASSERT_TRUE(registry_->SetApiContract("BRTH01", {.request_schema = kBirthRequestSchema}).ok());
  const std::string bad = R"({"certificateNo":"B-1001","child":{"birthDate":"2024-02-30"}})";
  Answer refused;
  ASSERT_TRUE(Eventually([&] {  // the contract reaches the running bus within a second
    refused = Request("BRTH01", bad);
    return !refused.success;
  })) << refused.raw;
  const int delivered = provider_->deliveries();
  refused = Request("BRTH01", bad);
  EXPECT_EQ(refused.http_status, 400) << refused.raw;
  EXPECT_TRUE(refused.signed_by_bus);
  EXPECT_FALSE(refused.success);
  EXPECT_EQ(refused.message,
            "esbBody does not match the contract of API BRTH01: /child/birthDate: does not "
            "match format date");
  EXPECT_EQ(refused.esb_body, "{}");
  Answer missing = Request("BRTH01", R"({"certificateNo":"B-1001"})");
  EXPECT_EQ(missing.message,
            "esbBody does not match the contract of API BRTH01: /child: is required but missing");
  EXPECT_EQ(provider_->deliveries(), delivered) << "the provider saw a refused request";

  Answer good =
      Request("BRTH01", R"({"certificateNo":"B-1001","child":{"birthDate":"2024-02-29"}})");
  EXPECT_TRUE(good.success) << good.raw;
  EXPECT_EQ(provider_->deliveries(), delivered + 1);

  // The refusal is evidence: the request and the answer, no delivery.
  bus_->Shutdown();
  auto records = RecordsByKind(*db_, refused.request_id);
  EXPECT_EQ(records.size(), 2u);
  EXPECT_EQ(records.count("delivery"), 0u);
  EXPECT_EQ(evidence::CanonicalMember(records["response"], "outcome"), "INVALID_ARGUMENT");
  EXPECT_NE(evidence::CanonicalMember(records["response"], "error")->find("/child/birthDate"),
            std::string::npos);
}

TEST_P(SyncExchangeTest, AProvidersAnswerThatBreaksTheContractIsWithheld) {
  // The echo provider answers {"echo":…,"seen":…,"place":…}: no certificate.
  ASSERT_TRUE(registry_
                  ->SetApiContract("BRTH01", {.response_schema = R"({"type":"object",)"
                                                                 R"("required":["certificate"]})"})
                  .ok());
  Answer withheld;
  ASSERT_TRUE(Eventually([&] {
    withheld = Request("BRTH01", R"({"certificateNo":"B-1001"})");
    return !withheld.success;
  })) << withheld.raw;
  EXPECT_EQ(withheld.http_status, 200);
  EXPECT_TRUE(withheld.signed_by_bus);
  EXPECT_EQ(withheld.message,
            "the answer of the provider of API BRTH01 does not match the API's published "
            "response contract; it was not passed on");
  EXPECT_EQ(withheld.esb_body, "{}");
  EXPECT_EQ(withheld.raw.find("Dar es Salaam"), std::string::npos) << "the answer was passed on";
  EXPECT_EQ(provider_->last().request_id, withheld.request_id);  // the provider was called

  // A provider's success:false answer is not held to the contract (it is not the API's answer).
  provider_->set_mode(TestProvider::Mode::kFailure);
  Answer declined = Request("BRTH01", "{}");
  EXPECT_EQ(declined.message, "record not found");
  provider_->set_mode(TestProvider::Mode::kEcho);

  // Recorded as the provider's failure, in the evidence and in the traffic counters.
  RestartBus([](server::ServeOptions&) {});
  bus_.reset();
  auto records = RecordsByKind(*db_, withheld.request_id);
  ASSERT_EQ(records.size(), 4u);  // request, delivery, reply, response
  EXPECT_EQ(evidence::CanonicalMember(records["reply"], "outcome"), "BAD_GATEWAY");
  EXPECT_EQ(evidence::CanonicalMember(records["reply"], "error"),
            "the answer does not match the API's response contract: /certificate: is required "
            "but missing");
  EXPECT_EQ(evidence::CanonicalMember(records["response"], "outcome"), "BAD_GATEWAY");

  traffic::SeriesFilter f;
  f.from_ms = clock_.NowMillis() / 60'000 * 60'000;
  f.to_ms = f.from_ms + 60'000;
  f.code = "BRTH01";
  f.systems = {provider_party_.client_id};
  f.role = traffic::Role::kProvider;
  auto totals = traffic::Totals(*db_, f, traffic::GroupBy::kCode);
  ASSERT_TRUE(totals.ok()) << totals.status().ToString();
  ASSERT_EQ(totals->size(), 1u);
  // (Answers before the contract reached the bus were successes.)
  EXPECT_EQ((*totals)[0].figures.by_outcome[static_cast<int>(traffic::Outcome::kProviderFailure)],
            1u);
  EXPECT_EQ((*totals)[0].figures.by_outcome[static_cast<int>(traffic::Outcome::kProviderDeclined)],
            1u);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, SyncExchangeTest, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? "Https" : "Http";
                         });

}  // namespace
}  // namespace govesb
