// The SDK against a real bus: server::BusServer in process (port 0, temp data dir, simulated
// clock), systems registered through the registry, and a provider built on sdk::Provider behind
// a real HTTP server.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/temp_dir.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "govesb/govesb.h"
#include "http/io_threads.h"
#include "http/server.h"
#include "registry/registry.h"
#include "server/bus_server.h"
#include "store/data_dir.h"

namespace govesb::sdk {
namespace {

namespace asio = boost::asio;

// A provider system written with the SDK: verifies each delivery with the bus key (Verify) and
// answers with Success or Failure.
class SdkProvider {
 public:
  enum class Mode { kEcho, kFailure, kDecrypt };

  SdkProvider(Provider provider, PrivateKey key)
      : provider_(std::move(provider)), key_(std::move(key)) {
    server_ = std::make_unique<http::HttpServer>(
        io_, http::ServerOptions{},
        [this](http::HttpRequest& r) -> asio::awaitable<http::HttpResponse> {
          http::HttpResponse response;
          response.body = Handle(r.body);
          co_return response;
        });
    GOVESB_CHECK(server_->Listen().ok());
    server_->Start();
    io_.Start();
  }
  ~SdkProvider() {
    server_->Shutdown();
    io_.Stop();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/api"; }
  void set_mode(Mode mode) { mode_ = mode; }
  Delivery last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  int deliveries() const { return deliveries_.load(); }
  int refused_deliveries() const { return refused_.load(); }

 private:
  // What an institution writes: verify, do the work, sign the answer.
  std::string Handle(const std::string& body) {
    Result<Delivery> delivery = provider_.Verify(body);
    if (!delivery.ok()) {
      ++refused_;
      return provider_.Failure(delivery.error().message);
    }
    ++deliveries_;
    {
      std::lock_guard lock(mu_);
      last_ = *delivery;
    }
    switch (mode_.load()) {
      case Mode::kFailure:
        return provider_.Failure("record not found", R"({"searched":true})");
      case Mode::kDecrypt: {
        Result<std::string> plain = Decrypt(delivery->esb_body, key_);
        if (!plain.ok()) return provider_.Failure(plain.error().message);
        return provider_.Success(*plain);
      }
      case Mode::kEcho:
        break;
    }
    return provider_.Success(R"({"echo":)" + delivery->esb_body + R"(,"seen":")" +
                             delivery->request_id + "\"}");
  }

  Provider provider_;
  PrivateKey key_;
  std::atomic<Mode> mode_{Mode::kEcho};
  http::IoThreads io_{1};
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  Delivery last_;
  std::atomic<int> deliveries_{0};
  std::atomic<int> refused_{0};
};

struct System {
  std::string client_id;
  std::string secret;
  std::string private_key;  // base64 PKCS#8
};

bool IsRequestId(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Waits (bounded) for a registry change to reach the running bus.
template <class Pred>
bool Eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBus(/*tls=*/true); }

  void StartBus(bool tls) {
    bus_.reset();
    provider_.reset();
    registry_.reset();
    db_.reset();
    dir_.emplace("govesb-sdk-test");
    store::DataDirOptions dopts;
    dopts.path = dir_->path();
    auto data_dir = store::DataDir::Open(dopts);
    ASSERT_TRUE(data_dir.ok()) << data_dir.status().ToString();
    auto db = data_dir->OpenDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(registry::Registry::Migrate(*db_).ok());
    registry::RegistryOptions ropts;
    ropts.hash_secret = [](std::string_view s) { return crypto::HashSecretForTest(s); };
    registry_.emplace(*db_, ropts);
    ASSERT_TRUE(registry_->AddInstitution("RITA", "Registration Agency").ok());
    ASSERT_TRUE(registry_->AddInstitution("MOH", "Ministry of Health").ok());

    bus_public_key_ = data_dir->bus_key().public_key().SpkiBase64();

    auto provider_key = PrivateKey::Generate(Curve::kP256);
    ASSERT_TRUE(provider_key.ok());
    auto provider = Provider::Create(provider_key->ToBase64(), bus_public_key_);
    ASSERT_TRUE(provider.ok()) << provider.error().message;
    provider_ = std::make_unique<SdkProvider>(std::move(provider).value(), *provider_key);
    provider_public_key_ = provider_key->public_key().ToBase64();
    provider_system_ = Register("RITA", "Birth registry", Curve::kP256, provider_->url(),
                                provider_key->ToBase64());
    consumer_ = Register("MOH", "Health records", Curve::kSecp256k1, "http://127.0.0.1:9/cb");
    ASSERT_TRUE(registry_->AddApi(provider_system_.client_id, "BRTH01", 5000).ok());
    ASSERT_TRUE(registry_->AddGrant(consumer_.client_id, "BRTH01").ok());

    // Started after the registrations, so that it loads them at once.
    server::ServeOptions o;
    o.data_dir = dir_->path();
    o.listen = "127.0.0.1:0";
    o.plain_http = !tls;
    o.io_threads = 2;
    o.clock = &clock_;
    o.token_ttl = std::chrono::seconds(3600);
    bus_ = std::make_unique<server::BusServer>(o);
    Status s = bus_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(bus_->bus_public_key(), bus_public_key_);
  }

  void TearDown() override {
    bus_.reset();
    provider_.reset();
    registry_.reset();
    db_.reset();
  }

  System Register(const std::string& institution, const std::string& name, Curve curve,
                  const std::string& endpoint, std::string private_key = "") {
    if (private_key.empty()) private_key = PrivateKey::Generate(curve)->ToBase64();
    auto key = PrivateKey::Parse(private_key);
    GOVESB_CHECK(key.ok());
    auto added = registry_->AddSystem(institution, name, key->public_key().ToBase64(), endpoint);
    GOVESB_CHECK(added.ok());
    return System{added->system.client_id, added->client_secret, private_key};
  }

  ClientOptions Options(const System& system) const {
    ClientOptions o;
    o.bus_url = bus_->base_url();
    o.client_id = system.client_id;
    o.client_secret = system.secret;
    o.private_key = system.private_key;
    o.bus_public_key = bus_public_key_;
    o.ca_file = bus_->ca_file();
    o.timeout = std::chrono::seconds(10);
    return o;
  }

  std::unique_ptr<Client> MakeClient(ClientOptions o) {
    auto client = Client::Create(std::move(o));
    EXPECT_TRUE(client.ok()) << client.error().message;
    return client.ok() ? std::move(client).value() : nullptr;
  }

  std::unique_ptr<Client> ConsumerClient() { return MakeClient(Options(consumer_)); }

  SimulatedClock clock_;
  std::optional<TempDir> dir_;
  std::unique_ptr<store::Database> db_;
  std::optional<registry::Registry> registry_;
  std::unique_ptr<server::BusServer> bus_;
  std::string bus_public_key_;
  std::unique_ptr<SdkProvider> provider_;
  std::string provider_public_key_;
  System provider_system_;
  System consumer_;
};

void ExpectRoundTrip(Client& client, SdkProvider& provider) {
  Result<Response> r =
      client.Request("BRTH01", "{ \"certificateNo\" : \"B-1001\", \"n\": [1, 2.5] }");
  ASSERT_TRUE(r.ok()) << ErrorKindName(r.error().kind) << ": " << r.error().message;
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->message, "Success");
  EXPECT_TRUE(IsRequestId(r->request_id)) << r->request_id;
  // The provider saw the caller's body, compacted, under the bus's requestId.
  Delivery d = provider.last();
  EXPECT_EQ(d.code_member, "apiCode");
  EXPECT_EQ(d.code, "BRTH01");
  EXPECT_EQ(d.request_id, r->request_id);
  EXPECT_EQ(d.esb_body, R"({"certificateNo":"B-1001","n":[1,2.5]})");
  EXPECT_EQ(r->esb_body,
            R"({"echo":{"certificateNo":"B-1001","n":[1,2.5]},"seen":")" + r->request_id + "\"}");
  EXPECT_EQ(r->data.rfind(R"({"success":true,"requestId":")", 0), 0u) << r->data;
}

TEST_F(ClientTest, RequestOverHttps) {
  ASSERT_EQ(bus_->base_url().rfind("https://", 0), 0u);
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  ExpectRoundTrip(*client, *provider_);
  ExpectRoundTrip(*client, *provider_);
  EXPECT_EQ(client->token_fetches(), 1);  // the token is cached
  EXPECT_EQ(provider_->refused_deliveries(), 0);
}

TEST_F(ClientTest, RequestOverPlainHttp) {
  StartBus(/*tls=*/false);
  ASSERT_EQ(bus_->base_url().rfind("http://", 0), 0u);
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  ExpectRoundTrip(*client, *provider_);
  EXPECT_EQ(provider_->refused_deliveries(), 0);
}

TEST_F(ClientTest, NidaRequestWrapsBodyInPayload) {
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  Result<Response> r =
      client->NidaRequest("BRTH01", "19900101-12345-00001-22", R"({"NIN":"1990"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(provider_->last().esb_body, R"({"Payload":{"NIN":"1990"}})");
  EXPECT_EQ(r->esb_body, R"({"echo":{"Payload":{"NIN":"1990"}},"seen":")" + r->request_id + "\"}");
}

TEST_F(ClientTest, PushAndAsyncAnswerRefusalsCarryTheBusMessage) {
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  Result<Response> push = client->Push("NOPUSH1", R"({"event":"birth"})");
  ASSERT_FALSE(push.ok());
  EXPECT_EQ(push.error().kind, ErrorKind::kRefused);
  EXPECT_FALSE(push.error().message.empty());
  EXPECT_EQ(push.error().http_status, 200);

  Result<Response> answer =
      client->AsyncAnswer("0123456789abcdef0123456789abcdef", true, R"({"done":1})");
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().kind, ErrorKind::kRefused);
  EXPECT_FALSE(answer.error().message.empty());
  Result<Response> failed =
      client->AsyncAnswer("0123456789abcdef0123456789abcdef", false, "{}", "could not finish");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, ErrorKind::kRefused);
  EXPECT_EQ(provider_->deliveries(), 0);
}

TEST_F(ClientTest, UnknownApiCodeIsRefusedWithBusMessageAndRequestId) {
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("NOPE01", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kRefused);
  EXPECT_NE(r.error().message.find("unknown apiCode 'NOPE01'"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(IsRequestId(r.error().request_id)) << r.error().request_id;
  EXPECT_EQ(r.error().http_status, 200);
  EXPECT_EQ(provider_->deliveries(), 0);
}

TEST_F(ClientTest, ProviderFailureIsRefusedWithProviderMessage) {
  provider_->set_mode(SdkProvider::Mode::kFailure);
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("BRTH01", R"({"certificateNo":"B-404"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kRefused);
  EXPECT_EQ(r.error().message, "record not found");
  EXPECT_TRUE(IsRequestId(r.error().request_id));
  EXPECT_EQ(provider_->deliveries(), 1);
}

TEST_F(ClientTest, WrongClientSecretIsUnauthorized) {
  ClientOptions o = Options(consumer_);
  o.client_secret = "wrong-secret-wrong-secret-wrong0";
  auto client = MakeClient(o);
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("BRTH01", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_FALSE(r.error().message.empty());
  Result<std::string> token = client->AccessToken();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(provider_->deliveries(), 0);
}

TEST_F(ClientTest, RevokedTokenIsRetriedOnceThenUnauthorized) {
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Request("BRTH01", "{}").ok());
  // Rotating the secret revokes the cached token; the client's secret is now stale too.
  ASSERT_TRUE(registry_->RotateSecret(consumer_.client_id).ok());
  Result<Response> r = client->Request("BRTH01", "{}");
  ASSERT_TRUE(Eventually([&] {
    r = client->Request("BRTH01", "{}");
    return !r.ok();
  }));
  EXPECT_EQ(r.error().kind, ErrorKind::kUnauthorized) << r.error().message;
  EXPECT_EQ(r.error().http_status, 401);
}

TEST_F(ClientTest, WrongBusPublicKeyFailsVerification) {
  ClientOptions o = Options(consumer_);
  o.bus_public_key = PrivateKey::Generate(Curve::kSecp256k1)->public_key().ToBase64();
  auto client = MakeClient(o);
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("BRTH01", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kVerification);
  EXPECT_EQ(r.error().http_status, 200);
  // Refusals are signed too: an unverifiable refusal is still a verification failure.
  Result<Response> refused = client->Request("NOPE01", "{}");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kVerification);
}

// During a key rotation a client accepts the bus's next (or previous) key besides the one
// configured: a response signed by either verifies, one signed by neither does not.
TEST_F(ClientTest, AnExtraBusKeyIsAcceptedBesideTheConfiguredOne) {
  ClientOptions o = Options(consumer_);
  const std::string real = o.bus_public_key.empty() ? o.esb_public_key : o.bus_public_key;
  o.bus_public_key.clear();
  o.esb_public_key = PrivateKey::Generate(Curve::kP256)->public_key().ToBase64();
  o.esb_extra_public_keys = {real};
  auto client = MakeClient(o);
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("BRTH01", "{}");
  ASSERT_TRUE(r.ok()) << r.error().message;

  o.esb_extra_public_keys = {PrivateKey::Generate(Curve::kSecp256k1)->public_key().ToBase64()};
  auto neither = MakeClient(o);
  ASSERT_NE(neither, nullptr);
  Result<Response> refused = neither->Request("BRTH01", "{}");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kVerification);
  o.esb_extra_public_keys = {"not a key"};
  EXPECT_FALSE(Client::Create(o).ok());
}

TEST_F(ClientTest, BusUnreachableIsTransport) {
  asio::io_context scratch;
  asio::ip::tcp::acceptor a(scratch, {asio::ip::make_address("127.0.0.1"), 0});
  const int port = a.local_endpoint().port();
  a.close();
  ClientOptions o = Options(consumer_);
  o.bus_url = "http://127.0.0.1:" + std::to_string(port);
  auto client = MakeClient(o);
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("BRTH01", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTransport);
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.error().message;
}

TEST_F(ClientTest, AnswerThatIsNotAnEnvelopeIsProtocol) {
  // An engine URL where the bus serves something else.
  ClientOptions o = Options(consumer_);
  o.engine_url = bus_->base_url() + "/no-such-engine";
  auto client = MakeClient(o);
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("BRTH01", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kProtocol) << r.error().message;
  EXPECT_NE(r.error().http_status, 0);

  // A token URL that answers 200 without a token.
  o = Options(consumer_);
  o.token_url = provider_->url();
  client = MakeClient(o);
  ASSERT_NE(client, nullptr);
  Result<std::string> token = client->AccessToken();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, ErrorKind::kProtocol) << token.error().message;
}

TEST_F(ClientTest, UntrustedCertificateIsTransport) {
  ClientOptions o = Options(consumer_);
  o.ca_file.clear();  // the bus's self-signed CA is not in the system store
  auto client = MakeClient(o);
  ASSERT_NE(client, nullptr);
  Result<Response> r = client->Request("BRTH01", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTransport);
  EXPECT_NE(r.error().message.find("TLS handshake"), std::string::npos) << r.error().message;
}

TEST_F(ClientTest, BadJsonBodyIsInvalidArgumentAndSendsNothing) {
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  for (const char* body : {"{\"a\":", "not json", "{\"a\":1,}"}) {
    Result<Response> r = client->Request("BRTH01", body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument) << body;
  }
  EXPECT_EQ(client->NidaRequest("BRTH01", "u", "[").error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(client->Push("PUSH01", "{").error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(client->token_fetches(), 0);
  EXPECT_EQ(provider_->deliveries(), 0);
}

TEST_F(ClientTest, InvalidOptionsAreInvalidArgument) {
  ClientOptions o = Options(consumer_);
  o.private_key = "not a key";
  EXPECT_EQ(Client::Create(o).error().kind, ErrorKind::kInvalidArgument);
  o = Options(consumer_);
  o.bus_public_key = "";
  EXPECT_EQ(Client::Create(o).error().kind, ErrorKind::kInvalidArgument);
  o = Options(consumer_);
  o.bus_url = "ftp://example.org";
  EXPECT_EQ(Client::Create(o).error().kind, ErrorKind::kInvalidArgument);
  o = Options(consumer_);
  o.ca_file = dir_->path() + "/no-such-ca.pem";
  EXPECT_EQ(Client::Create(o).error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(ClientTest, TokenIsRenewedAfterItExpiresOnTheBus) {
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Request("BRTH01", "{}").ok());
  Result<std::string> first = client->AccessToken();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(client->token_fetches(), 1);

  // Past the one-hour lifetime on the bus's clock: the cached token is refused with 401, and
  // the client fetches a new one and sends the request again.
  clock_.Advance(std::chrono::hours(2));
  Result<Response> r = client->Request("BRTH01", R"({"after":"expiry"})");
  ASSERT_TRUE(r.ok()) << ErrorKindName(r.error().kind) << ": " << r.error().message;
  EXPECT_EQ(client->token_fetches(), 2);
  Result<std::string> second = client->AccessToken();
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*first, *second);
  EXPECT_EQ(provider_->last().esb_body, R"({"after":"expiry"})");
  EXPECT_EQ(provider_->deliveries(), 2);
}

TEST_F(ClientTest, ConcurrentRequestsThroughOneClient) {
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 8;
  constexpr int kCalls = 20;
  std::atomic<int> ok{0};
  std::mutex errors_mu;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        std::string body =
            R"({"thread":)" + std::to_string(t) + R"(,"call":)" + std::to_string(i) + "}";
        Result<Response> r = client->Request("BRTH01", body);
        if (r.ok() && r->esb_body.find(body) != std::string::npos) {
          ++ok;
        } else {
          std::lock_guard lock(errors_mu);
          errors.push_back(r.ok() ? r->esb_body : r.error().message);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls) << (errors.empty() ? "" : errors.front());
  EXPECT_EQ(client->token_fetches(), 1);
  EXPECT_EQ(provider_->deliveries(), kThreads * kCalls);
}

TEST_F(ClientTest, EncryptedBodyTravelsThroughTheBusUnchanged) {
  provider_->set_mode(SdkProvider::Mode::kDecrypt);
  auto client = ConsumerClient();
  ASSERT_NE(client, nullptr);
  auto provider_key = PublicKey::Parse(provider_public_key_);
  ASSERT_TRUE(provider_key.ok());
  Result<std::string> sealed = Encrypt(R"({"nin":"19900101-12345-00001-22"})", *provider_key);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  Result<Response> r = client->Request("BRTH01", *sealed);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->esb_body, R"({"nin":"19900101-12345-00001-22"})");
}

}  // namespace
}  // namespace govesb::sdk
