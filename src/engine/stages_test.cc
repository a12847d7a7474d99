// Each stage of the exchange pipeline alone, over a real registry snapshot (a temp SQLite
// registry) and real keys and tokens: no bus, no sockets.
#include "engine/stages.h"

#include <gtest/gtest.h>

#include "auth/token.h"
#include "engine/refusal.h"
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

TEST_F(StagesTest, AuthoriseRefusesADisabledApiWithAClearMessageUntilItIsEnabled) {
  ASSERT_TRUE(registry_.DisableApi("GETUSR").ok());
  Reload();
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR"})"));
  ExchangeContext x(r);
  Status s = RunTo(x, 5);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("API GETUSR is disabled"), std::string::npos) << s.message();
  ASSERT_TRUE(registry_.EnableApi("GETUSR").ok());
  Reload();
  http::HttpRequest again = Request(Signed(R"({"apiCode":"GETUSR"})"));
  ExchangeContext y(again);
  EXPECT_TRUE(RunTo(y, 5).ok()) << "the grant survived disabling";
}

TEST_F(StagesTest, AuthoriseRefusesAPushToADisabledTopicWithAClearMessageUntilItIsEnabled) {
  ASSERT_TRUE(registry_.AddTopic(consumer_.client_id, "NEWS01").ok());
  Reload();
  const std::string push = R"({"pushCode":"NEWS01","esbBody":{"n":1}})";
  http::HttpRequest first = Request(Signed(push), "/engine/esb/push-request");
  ExchangeContext w(first);
  ASSERT_TRUE(RunTo(w, 5).ok()) << "its publisher may push to it";

  ASSERT_TRUE(registry_.DisableTopic("NEWS01").ok());
  Reload();
  http::HttpRequest r = Request(Signed(push), "/engine/esb/push-request");
  ExchangeContext x(r);
  Status s = RunTo(x, 5);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(s.message(),
            "push topic NEWS01 is disabled on the bus: it takes no pushes until its publisher or "
            "the bus operator enables it again");
  EXPECT_EQ(HttpStatusFor(s.code()), 200) << "a business failure: a signed success:false";

  ASSERT_TRUE(registry_.EnableTopic("NEWS01").ok());
  Reload();
  http::HttpRequest again = Request(Signed(push), "/engine/esb/push-request");
  ExchangeContext y(again);
  EXPECT_TRUE(RunTo(y, 5).ok());
  ASSERT_NE(y.topic, nullptr);
  EXPECT_EQ(y.topic->code, "NEWS01");
}

TEST_F(StagesTest, ASuspendedInstitutionsSystemsAreRefusedAtOnceAndNeedNewTokens) {
  // A token issued before the suspension.
  http::HttpRequest before = Request(Signed(R"({"apiCode":"GETUSR"})"));
  http::HttpRequest before_again = before;  // a stage takes the body
  ASSERT_TRUE(registry_.SuspendInstitution("EGA").ok());
  Reload();
  ExchangeContext x(before);
  Status s = RunTo(x, 2);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  const registry::System* consumer = snapshot_->FindSystem(consumer_.client_id);
  ASSERT_NE(consumer, nullptr);
  EXPECT_FALSE(consumer->enabled);
  EXPECT_TRUE(consumer->institution_suspended);
  EXPECT_EQ(snapshot_->enabled_system_count(), 0u);
  // Resumed: the old token stays dead (credential version moved); a new one works.
  ASSERT_TRUE(registry_.ResumeInstitution("EGA").ok());
  Reload();
  ExchangeContext y(before_again);
  EXPECT_EQ(RunTo(y, 2).code(), StatusCode::kUnauthenticated);
  http::HttpRequest fresh = Request(Signed(R"({"apiCode":"GETUSR"})"));
  ExchangeContext z(fresh);
  EXPECT_TRUE(RunTo(z, 5).ok());
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

// ---- admit, replay, fallbacks ----

class GuardedStagesTest : public StagesTest {
 protected:
  GuardOptions Options() {
    GuardOptions o;
    o.system_rate = limits::Rate{2, 2};
    o.replay.window = std::chrono::seconds(60);
    o.replay.max_entries = 1000;
    return o;
  }

  // Runs every check up to and including the replay stage.
  Status RunAll(ExchangeContext& x, Guards& guards) {
    if (Status s = ParseStage(x); !s.ok()) return s;
    if (Status s = AuthenticateStage(x, tokens_, snapshot_); !s.ok()) return s;
    if (Status s = ClassifyStage(x); !s.ok()) return s;
    if (Status s = AdmitStage(x, guards); !s.ok()) return s;
    if (Status s = VerifyStage(x); !s.ok()) return s;
    if (Status s = AuthoriseStage(x); !s.ok()) return s;
    return ReplayStage(x, guards);
  }
};

TEST_F(GuardedStagesTest, AdmitRefusesBeyondTheSystemsBurstWithRetryAfter) {
  Guards guards(clock_, Options());
  for (int i = 0; i < 2; ++i) {
    http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR","n":)" + std::to_string(i) + "}"));
    ExchangeContext x(r);
    ASSERT_TRUE(RunAll(x, guards).ok()) << i;
  }
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR","n":3})"));
  ExchangeContext x(r);
  Status s = RunAll(x, guards);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(HttpStatusFor(s.code()), 429);
  EXPECT_EQ(x.retry_after_seconds, 1);
  EXPECT_NE(s.message().find("2 requests per second"), std::string::npos) << s.message();
  EXPECT_FALSE(x.verified) << "refused before the signature is verified";
  clock_.Advance(std::chrono::milliseconds(500));
  http::HttpRequest later = Request(Signed(R"({"apiCode":"GETUSR","n":4})"));
  ExchangeContext y(later);
  EXPECT_TRUE(RunAll(y, guards).ok()) << "a token came back after half a second at 2/s";
}

TEST_F(GuardedStagesTest, InAClusterEachNodeAdmitsItsShareOfTheRate) {
  Guards guards(clock_, Options());  // 2 per second, a burst of 2, for the whole cluster
  guards.SetClusterShare(2);         // two live nodes behind the balancer
  http::HttpRequest first = Request(Signed(R"({"apiCode":"GETUSR","n":1})"));
  ExchangeContext x(first);
  ASSERT_TRUE(RunAll(x, guards).ok());
  http::HttpRequest second = Request(Signed(R"({"apiCode":"GETUSR","n":2})"));
  ExchangeContext y(second);
  EXPECT_EQ(RunAll(y, guards).code(), StatusCode::kResourceExhausted) << "this node's half";
  // Back to one node: its share is the whole rate again.
  guards.SetClusterShare(1);
  clock_.Advance(std::chrono::milliseconds(1000));
  for (int i = 3; i < 5; ++i) {
    http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR","n":)" + std::to_string(i) + "}"));
    ExchangeContext z(r);
    EXPECT_TRUE(RunAll(z, guards).ok()) << i;
  }
  guards.SetClusterShare(0);
  EXPECT_EQ(guards.cluster_share(), 1);
}

TEST_F(GuardedStagesTest, AdmitUsesTheRegistrysLimits) {
  Guards guards(clock_, Options());
  ASSERT_TRUE(
      registry_.SetSystemRateLimit(consumer_.client_id, {registry::kRateUnlimited, {}}).ok());
  ASSERT_TRUE(registry_.SetApiRateLimit("GETUSR", {1.0, 1.0}).ok());
  Reload();
  http::HttpRequest first = Request(Signed(R"({"apiCode":"GETUSR","n":1})"));
  ExchangeContext x(first);
  ASSERT_TRUE(RunAll(x, guards).ok());
  http::HttpRequest second = Request(Signed(R"({"apiCode":"GETUSR","n":2})"));
  ExchangeContext y(second);
  Status s = RunAll(y, guards);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("calls API GETUSR"), std::string::npos) << s.message();
  // The system itself is unlimited: another API is not held back.
  ASSERT_TRUE(registry_.AddGrant(consumer_.client_id, "NOGRNT").ok());
  Reload();
  for (int i = 0; i < 5; ++i) {
    http::HttpRequest other =
        Request(Signed(R"({"apiCode":"NOGRNT","n":)" + std::to_string(i) + "}"));
    ExchangeContext z(other);
    EXPECT_TRUE(RunAll(z, guards).ok()) << i;
  }
}

TEST_F(GuardedStagesTest, ReplayedPullIsRecordedNotRefusedByDefault) {
  Guards guards(clock_, Options());
  const std::string body = Signed(R"({"apiCode":"GETUSR","esbBody":{"q":1}})");
  http::HttpRequest first = Request(body);
  ExchangeContext x(first);
  ASSERT_TRUE(RunAll(x, guards).ok());
  EXPECT_TRUE(x.replay_recorded);
  http::HttpRequest again = Request(body);
  ExchangeContext y(again);
  ASSERT_TRUE(RunAll(y, guards).ok());
  EXPECT_EQ(y.log.replay_of, x.log.request_id);
  EXPECT_EQ(guards.replays_recorded.load(), 1u);
}

TEST_F(GuardedStagesTest, ReplayedPullIsRefusedWhereTheApiSaysSo) {
  Guards guards(clock_, Options());
  ASSERT_TRUE(registry_.SetApiReplayPolicy("GETUSR", registry::ReplayPolicy::kRefuse).ok());
  Reload();
  const std::string body = Signed(R"({"apiCode":"GETUSR","esbBody":{"q":1}})");
  http::HttpRequest first = Request(body);
  ExchangeContext x(first);
  ASSERT_TRUE(RunAll(x, guards).ok());
  http::HttpRequest again = Request(body);
  ExchangeContext y(again);
  Status s = RunAll(y, guards);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find(x.log.request_id), std::string::npos) << s.message();
  // After the window, the same bytes are new again.
  clock_.Advance(std::chrono::seconds(61));
  http::HttpRequest later = Request(body);
  ExchangeContext z(later);
  EXPECT_TRUE(RunAll(z, guards).ok());
}

TEST_F(GuardedStagesTest, ReplayedPushIsRefusedNamingTheFirst) {
  Guards guards(clock_, Options());
  ASSERT_TRUE(registry_.AddTopic(consumer_.client_id, "TOPIC2").ok());
  Reload();
  const std::string body = Signed(R"({"pushCode":"TOPIC2","esbBody":{"a":1}})");
  http::HttpRequest first = Request(body, "/engine/esb/push-request");
  ExchangeContext x(first);
  ASSERT_TRUE(RunAll(x, guards).ok());
  http::HttpRequest again = Request(body, "/engine/esb/push-request");  // a fresh token too
  ExchangeContext y(again);
  Status s = RunAll(y, guards);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("replay"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(x.log.request_id), std::string::npos) << s.message();
  EXPECT_EQ(guards.replays_refused.load(), 1u);
  // Forgotten (the first push could not be stored): the same bytes pass again.
  guards.replay()->Forget(consumer_.id, x.data_sha256, x.log.request_id);
  clock_.Advance(std::chrono::seconds(1));  // (the rate limit of 2/s, not the window)
  http::HttpRequest third = Request(body, "/engine/esb/push-request");
  ExchangeContext z(third);
  EXPECT_TRUE(RunAll(z, guards).ok());
}

TEST_F(GuardedStagesTest, FallbacksOffAcceptOnlyTheBytesSent) {
  Guards guards(clock_, Options());
  // Signed compactly, sent with spaces: verifies by the "compact" fallback.
  const std::string signed_text = R"({"apiCode":"GETUSR","esbBody":{"a":1}})";
  const std::string sent = R"({"apiCode": "GETUSR", "esbBody": {"a": 1}})";
  auto body = [&] {
    return "{\"data\":" + sent + ",\"signature\":\"" + consumer_key_->SignBase64(signed_text) +
           "\"}";
  };
  http::HttpRequest allowed = Request(body());
  ExchangeContext x(allowed);
  ASSERT_TRUE(RunAll(x, guards).ok());
  EXPECT_EQ(x.variant, wire::SignatureVariant::kCompact);
  ASSERT_TRUE(registry_.SetSignatureFallbacks(consumer_.client_id, false).ok());
  Reload();
  http::HttpRequest refused = Request(body());
  ExchangeContext y(refused);
  Status s = RunAll(y, guards);
  EXPECT_EQ(s.code(), StatusCode::kBadSignature);
  EXPECT_NE(s.message().find("fallbacks off"), std::string::npos) << s.message();
}

TEST_F(GuardedStagesTest, SignatureUsageIsCountedPerSystemAndVariant) {
  SignatureUsageCounter usage(clock_);
  usage.Count(7, wire::SignatureVariant::kRaw);
  usage.Count(7, wire::SignatureVariant::kRaw);
  usage.Count(7, wire::SignatureVariant::kLatin1);
  usage.Count(8, wire::SignatureVariant::kCompact);
  auto taken = usage.Take();
  ASSERT_EQ(taken.size(), 3u);
  int64_t raw7 = 0;
  for (const auto& u : taken) {
    if (u.system_id == 7 && u.variant == "raw") raw7 = u.count;
  }
  EXPECT_EQ(raw7, 2);
  EXPECT_TRUE(usage.Take().empty()) << "taken counts are not taken twice";
  EXPECT_EQ(usage.Totals()[0], 2u);
  // Recorded into the registry, they show per system.
  for (auto& u : taken) {
    if (u.system_id == 7) u.system_id = consumer_.id;
    if (u.system_id == 8) u.system_id = provider_.id;
  }
  ASSERT_TRUE(registry_.RecordSignatureUsage(taken).ok());
  auto listed = registry_.ListSignatureUsage(consumer_.client_id);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

}  // namespace
}  // namespace govesb::engine

namespace govesb::engine {
namespace {

constexpr char kNinContract[] = R"({"type":"object","required":["nin"],)"
                                R"("properties":{"nin":{"type":"string","pattern":"^[0-9]{8}$"}}})";

TEST_F(StagesTest, ValidateRefusesABodyThatBreaksTheContractNamingThePlace) {
  ASSERT_TRUE(registry_.SetApiContract("GETUSR", {.request_schema = kNinContract}).ok());
  Reload();
  auto validate = [&](std::string_view data) {
    http::HttpRequest r = Request(Signed(data));
    ExchangeContext x(r);
    Status before = RunTo(x, 5);
    return before.ok() ? ValidateStage(x) : before;
  };
  EXPECT_TRUE(validate(R"({"apiCode":"GETUSR","esbBody":{"nin":"19900101"}})").ok());
  Status bad = validate(R"({"apiCode":"GETUSR","esbBody":{"nin":"1990-01-01"}})");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(),
            "esbBody does not match the contract of API GETUSR: /nin: does not match pattern "
            "^[0-9]{8}$");
  EXPECT_EQ(HttpStatusFor(bad.code()), 400);
  // No esbBody: the provider would get {}, which is what is checked.
  Status missing = validate(R"({"apiCode":"GETUSR"})");
  EXPECT_EQ(missing.message(),
            "esbBody does not match the contract of API GETUSR: /nin: is required but missing");
  // An identity request is held to the same contract.
  Status nida = validate(R"({"apiCode":"GETUSR","userId":"1","esbBody":{"nin":7}})");
  EXPECT_EQ(nida.message(),
            "esbBody does not match the contract of API GETUSR: /nin: must be string, not "
            "integer");
  // Without a contract any body passes.
  ASSERT_TRUE(registry_.SetApiContract("GETUSR", {.request_schema = ""}).ok());
  Reload();
  EXPECT_TRUE(validate(R"({"apiCode":"GETUSR","esbBody":{"nin":7}})").ok());
}

TEST_F(StagesTest, ValidateFailsClosedWhenTheStoredContractNoLongerCompiles) {
  ASSERT_TRUE(
      db_->Exec("UPDATE apis SET request_schema = '{\"type\":\"strin\"}' WHERE code = 'GETUSR'")
          .ok());
  Reload();
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR","esbBody":{}})"));
  ExchangeContext x(r);
  ASSERT_TRUE(RunTo(x, 5).ok());
  Status s = ValidateStage(x);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("the contract published for API GETUSR cannot be used"),
            std::string::npos)
      << s.message();
}

TEST_F(StagesTest, ABodyTooCostlyToCheckIsRefusedAsTheContractsFault) {
  std::string defs;
  for (int i = 0; i < 30; ++i) {
    defs += "\"d" + std::to_string(i) + "\":{\"allOf\":[{\"$ref\":\"#/$defs/d" +
            std::to_string(i + 1) + "\"},{\"$ref\":\"#/$defs/d" + std::to_string(i + 1) + "\"}]},";
  }
  defs += "\"d30\":{}";
  ASSERT_TRUE(registry_
                  .SetApiContract("GETUSR", {.request_schema = "{\"$defs\":{" + defs +
                                                               "},\"$ref\":\"#/$defs/d0\"}"})
                  .ok());
  Reload();
  http::HttpRequest r = Request(Signed(R"({"apiCode":"GETUSR","esbBody":{}})"));
  ExchangeContext x(r);
  ASSERT_TRUE(RunTo(x, 5).ok());
  Status s = ValidateStage(x);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);  // 200 success:false, not a 429
  EXPECT_NE(s.message().find("could not be checked against the contract of API GETUSR"),
            std::string::npos)
      << s.message();
}

TEST_F(StagesTest, CheckAnswerContractNamesTheFirstViolation) {
  ASSERT_TRUE(registry_
                  .SetApiContract("GETUSR", {.response_schema = R"({"required":["name"],)"
                                                                R"("properties":{"born":)"
                                                                R"({"format":"date"}}})"})
                  .ok());
  Reload();
  const registry::Api& api = *snapshot_->FindApi("GETUSR");
  EXPECT_TRUE(CheckAnswerContract(api, R"({"name":"Asha","born":"2024-01-02"})").ok());
  Status bad = CheckAnswerContract(api, R"({"name":"Asha","born":"02/01/2024"})");
  EXPECT_EQ(bad.code(), StatusCode::kBadGateway);
  EXPECT_EQ(bad.message(), "/born: does not match format date");
  EXPECT_EQ(CheckAnswerContract(api, "").message(), "/name: is required but missing");
  const registry::Api& other = *snapshot_->FindApi("NOGRNT");
  EXPECT_TRUE(CheckAnswerContract(other, "[1]").ok());  // no contract: anything
}

}  // namespace
}  // namespace govesb::engine
