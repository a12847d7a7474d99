// Each stage of the exchange pipeline alone, over a real registry snapshot (a temp SQLite
// registry) and real keys and tokens: no bus, no sockets.
#include "engine/stages.h"

#include <gtest/gtest.h>

#include "auth/token.h"
#include "registry/registry_testing.h"
#include "registry/snapshot.h"

namespace govesb::engine {
namespace {

using registry::testing::RegistryTest;

class StagesTest : public RegistryTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.AddInstitution("EGA", "e-Government Authority").ok());
    auto consumer_key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
    ASSERT_TRUE(consumer_key.ok());
    consumer_key_ = std::make_unique<crypto::PrivateKey>(std::move(*consumer_key));
    auto provider_key = crypto::PrivateKey::Generate(crypto::Curve::kP256);
    ASSERT_TRUE(provider_key.ok());
    auto provider = registry_.AddSystem("EGA", "Provider", provider_key->public_key().SpkiBase64(),
                                        "http://127.0.0.1:1/esb");
    ASSERT_TRUE(provider.ok());
    provider_ = provider->system;
    auto consumer = registry_.AddSystem("EGA", "Consumer", consumer_key_->public_key().SpkiBase64(),
                                        "http://127.0.0.1:1/cb");
    ASSERT_TRUE(consumer.ok());
    consumer_ = consumer->system;
    ASSERT_TRUE(registry_.AddApi(provider_.client_id, "GETUSR").ok());
    ASSERT_TRUE(registry_.AddApi(provider_.client_id, "NOGRNT").ok());
    ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "GETUSR").ok());
    ASSERT_TRUE(registry_.AddTopic(provider_.client_id, "TOPIC1").ok());
    Reload();
  }

  void Reload() {
    auto loaded = registry::Snapshot::Load(*db_);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    snapshot_ = *loaded;
  }

  // An envelope over `data` signed with the consumer's key.
  std::string Signed(std::string_view data) const {
    return "{\"data\":" + std::string(data) + ",\"signature\":\"" +
           consumer_key_->SignBase64(data) + "\"}";
  }

  // A request with the consumer's bearer token and `body`.
  http::HttpRequest Request(std::string body, std::string path = "/engine/esb/request") {
    http::HttpRequest r;
    r.method = "POST";
    r.target = std::move(path);
    r.content_type = "application/json";
    r.authorization =
        "Bearer " + tokens_.Issue(*snapshot_->FindSystem(consumer_.client_id)).access_token;
    r.body = std::move(body);
    return r;
  }

  // Runs the stages up to and including `last` (1 parse ... 5 authorise).
  Status RunTo(ExchangeContext& x, int last) {
    if (Status s = ParseStage(x); !s.ok() || last == 1) return s;
    if (Status s = AuthenticateStage(x, tokens_, snapshot_); !s.ok() || last == 2) return s;
    if (Status s = ClassifyStage(x); !s.ok() || last == 3) return s;
    if (Status s = VerifyStage(x); !s.ok() || last == 4) return s;
    return AuthoriseStage(x);
  }

  std::unique_ptr<crypto::PrivateKey> consumer_key_;
  std::shared_ptr<const registry::Snapshot> snapshot_;
  auth::TokenService tokens_{std::string(32, 'k'), clock_, std::chrono::seconds(3600)};
};

TEST_F(StagesTest, ParseRefusesWhatIsNotAnEnvelope) {
  http::HttpRequest r = Request("{\"data\":");
  ExchangeContext x(r);
  Status s = ParseStage(x);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not valid JSON"), std::string::npos) << s.message();
  EXPECT_FALSE(x.envelope.has_value());
}

TEST_F(StagesTest, AuthenticateFindsTheCallerOrRefuses) {
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR"})"));
  ExchangeContext x(r);
  ASSERT_TRUE(RunTo(x, 2).ok());
  ASSERT_NE(x.caller, nullptr);
  EXPECT_EQ(x.caller->client_id, consumer_.client_id);

  http::HttpRequest forged = Request(Signed(R"({"apiCode":"GETUSR"})"));
  forged.authorization = "Bearer not-a-token";
  ExchangeContext y(forged);
  EXPECT_EQ(RunTo(y, 2).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(y.caller, nullptr);
}

TEST_F(StagesTest, AuthenticateTakesTheTokenFromDataWhenNoHeader) {
  std::string token = tokens_.Issue(*snapshot_->FindSystem(consumer_.client_id)).access_token;
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR","authorization":")" + token + "\"}"));
  r.authorization.clear();
  ExchangeContext x(r);
  ASSERT_TRUE(RunTo(x, 2).ok());
}

TEST_F(StagesTest, ClassifyByMembers) {
  struct Case {
    std::string data;
    std::string path;
    Kind kind;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"apiCode":"GETUSR"})", "/engine/esb/request", Kind::kPull},
           {R"({"apiCode":"GETUSR","userId":"1"})", "/engine/esb/nida-request", Kind::kNida},
           {R"({"pushCode":"TOPIC1","esbBody":{}})", "/engine/esb/push-request", Kind::kPush},
           {R"({"requestId":"r1","success":true})", "/engine/esb", Kind::kAsyncAnswer},
           {R"({"requestId":"r1","apiCode":"X"})", "/engine/esb/async", Kind::kAsyncAnswer},
       }) {
    http::HttpRequest r = Request(Signed(c.data), c.path);
    ExchangeContext x(r);
    ASSERT_TRUE(RunTo(x, 3).ok()) << c.data;
    EXPECT_EQ(x.kind, c.kind) << c.data;
  }
}

TEST_F(StagesTest, ClassifyRefusesAPullWithoutApiCode) {
  http::HttpRequest r = Request(Signed(R"({"esbBody":{}})"));
  ExchangeContext x(r);
  Status s = RunTo(x, 3);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("apiCode"), std::string::npos);
}

TEST_F(StagesTest, ClassifyRefusesAnOverlongAnsweredRequestId) {
  http::HttpRequest r =
      Request(Signed(R"({"requestId":")" + std::string(65, 'r') + R"(","success":true})"));
  ExchangeContext x(r);
  EXPECT_EQ(RunTo(x, 3).code(), StatusCode::kInvalidArgument);
}

TEST_F(StagesTest, VerifyAcceptsTheConsumersSignatureAndKeepsTheDigest) {
  const std::string data = R"({"apiCode":"GETUSR","esbBody":{"a":1}})";
  http::HttpRequest r = Request(Signed(data));
  ExchangeContext x(r);
  ASSERT_TRUE(RunTo(x, 4).ok());
  EXPECT_EQ(x.variant, wire::SignatureVariant::kRaw);
  EXPECT_EQ(x.log.signature_variant, "raw");
  EXPECT_EQ(x.data_sha256, crypto::Sha256(data));
}

TEST_F(StagesTest, VerifyRefusesAnotherKeysSignature) {
  auto other = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1);
  ASSERT_TRUE(other.ok());
  const std::string data = R"({"apiCode":"GETUSR"})";
  http::HttpRequest r =
      Request("{\"data\":" + data + ",\"signature\":\"" + other->SignBase64(data) + "\"}");
  ExchangeContext x(r);
  Status s = RunTo(x, 4);
  EXPECT_EQ(s.code(), StatusCode::kBadSignature);
  EXPECT_FALSE(x.verified);
}

TEST_F(StagesTest, VerifyRefusesALatin1MatchOverOtherText) {
  // Regression (issue 13, point 6): "Ã©" signed, "é" sent. Accepting it would pass on text
  // the consumer never signed.
  const std::string sent = "{\"apiCode\":\"GETUSR\",\"esbBody\":{\"n\":\"\xC3\xA9\"}}";
  const std::string signed_text =
      "{\"apiCode\":\"GETUSR\",\"esbBody\":{\"n\":\"\xC3\x83\xC2\xA9\"}}";
  http::HttpRequest r = Request("{\"data\":" + sent + ",\"signature\":\"" +
                                consumer_key_->SignBase64(signed_text) + "\"}");
  ExchangeContext x(r);
  Status s = RunTo(x, 4);
  EXPECT_EQ(s.code(), StatusCode::kBadSignature);
  EXPECT_NE(s.message().find("ISO-8859-1"), std::string::npos) << s.message();
  EXPECT_EQ(x.log.signature_variant, "latin1");
}

TEST_F(StagesTest, VerifyAcceptsALatin1BodyReadAsTheTextSigned) {
  // Java connector 0.1.5: sends ISO-8859-1, signs the UTF-8 of the same text.
  const std::string sent = "{\"apiCode\": \"GETUSR\", \"esbBody\": {\"n\": \"\xE9\"}}";
  const std::string signed_text = "{\"apiCode\": \"GETUSR\", \"esbBody\": {\"n\": \"\xC3\xA9\"}}";
  http::HttpRequest r = Request("{\"data\":" + sent + ",\"signature\":\"" +
                                consumer_key_->SignBase64(signed_text) + "\"}");
  ExchangeContext x(r);
  ASSERT_TRUE(RunTo(x, 4).ok());
  EXPECT_EQ(x.variant, wire::SignatureVariant::kLatin1);
}

TEST_F(StagesTest, AuthoriseAPull) {
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR"})"));
  ExchangeContext x(r);
  ASSERT_TRUE(RunTo(x, 5).ok());
  ASSERT_NE(x.api, nullptr);
  EXPECT_EQ(x.api->code, "GETUSR");
  ASSERT_NE(x.provider, nullptr);
  EXPECT_EQ(x.provider->client_id, provider_.client_id);
}

TEST_F(StagesTest, AuthoriseRefusesUnknownApiAndMissingGrant) {
  http::HttpRequest unknown = Request(Signed(R"({"apiCode":"NOSUCH"})"));
  ExchangeContext x(unknown);
  EXPECT_EQ(RunTo(x, 5).code(), StatusCode::kNotFound);
  http::HttpRequest denied = Request(Signed(R"({"apiCode":"NOGRNT"})"));
  ExchangeContext y(denied);
  Status s = RunTo(y, 5);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find(consumer_.client_id), std::string::npos);
}

TEST_F(StagesTest, AuthoriseRefusesADisabledProvider) {
  ASSERT_TRUE(registry_.DisableSystem(provider_.client_id).ok());
  Reload();
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR"})"));
  ExchangeContext x(r);
  EXPECT_EQ(RunTo(x, 5).code(), StatusCode::kUnavailable);
}

TEST_F(StagesTest, AuthoriseAPushOnlyForItsPublisher) {
  http::HttpRequest r = Request(Signed(R"({"pushCode":"TOPIC1","esbBody":{}})"));
  ExchangeContext x(r);
  Status s = RunTo(x, 5);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << "the consumer does not publish TOPIC1";
  http::HttpRequest unknown = Request(Signed(R"({"pushCode":"NOPE12","esbBody":{}})"));
  ExchangeContext y(unknown);
  EXPECT_EQ(RunTo(y, 5).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace govesb::engine
