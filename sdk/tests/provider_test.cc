// The provider helper on its own: deliveries as the bus builds them (wire::DeliveryData, signed
// with the bus key), and replies as the bus reads them (wire::ReadProviderReply).
#include <gtest/gtest.h>

#include <string>

#include "govesb/client.h"
#include "wire/envelope.h"
#include "wire/messages.h"

namespace govesb::sdk {
namespace {

class ProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto provider = Provider::Create(provider_key_.ToBase64(), bus_key_.public_key().ToBase64());
    ASSERT_TRUE(provider.ok()) << provider.error().message;
    provider_.emplace(std::move(provider).value());
  }

  std::string Delivery(std::string_view body, std::string_view code_member = "apiCode",
                       std::string_view code = "BRTH01") const {
    std::string data =
        wire::DeliveryData(body, "0123456789abcdef0123456789abcdef", code_member, code);
    return wire::SealEnvelope(data, bus_key_.Sign(data));
  }

  // Reads a reply the way the bus does, checking the provider's signature.
  wire::ProviderReply ReadReply(const std::string& body) const {
    auto envelope = wire::ParseEnvelope(body);
    EXPECT_TRUE(envelope.ok()) << body;
    auto verified = wire::VerifyEnvelope(*envelope, [&](std::string_view text) {
      return provider_key_.public_key().Verify(text, envelope->signature);
    });
    EXPECT_TRUE(verified.ok()) << body;
    EXPECT_EQ(*verified, wire::SignatureVariant::kRaw);
    auto reply = wire::ReadProviderReply(*envelope);
    EXPECT_TRUE(reply.ok()) << body;
    return reply.ok() ? *reply : wire::ProviderReply{};
  }

  PrivateKey bus_key_ = *PrivateKey::Generate(Curve::kSecp256k1);
  PrivateKey provider_key_ = *PrivateKey::Generate(Curve::kP521);
  std::optional<Provider> provider_;
};

TEST_F(ProviderTest, VerifiesADeliveryAndReadsItsMembers) {
  Result<sdk::Delivery> d = provider_->Verify(Delivery(R"({"certificateNo":"B-1001"})"));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->request_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(d->code_member, "apiCode");
  EXPECT_EQ(d->code, "BRTH01");
  EXPECT_EQ(d->esb_body, R"({"certificateNo":"B-1001"})");

  Result<sdk::Delivery> push = provider_->Verify(Delivery("[1,2]", "pushCode", "BIRTHS"));
  ASSERT_TRUE(push.ok()) << push.error().message;
  EXPECT_EQ(push->code_member, "pushCode");
  EXPECT_EQ(push->code, "BIRTHS");
  EXPECT_EQ(push->esb_body, "[1,2]");
}

TEST_F(ProviderTest, MissingBodyIsAnEmptyObject) {
  std::string data = R"({"requestId":"0123456789abcdef0123456789abcdef","apiCode":"BRTH01"})";
  Result<sdk::Delivery> d = provider_->Verify(wire::SealEnvelope(data, bus_key_.Sign(data)));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->esb_body, "{}");
}

TEST_F(ProviderTest, RefusesForgedAndMalformedDeliveries) {
  std::string data = wire::DeliveryData("{}", "0123456789abcdef0123456789abcdef", "apiCode", "X");
  auto impostor = PrivateKey::Generate(Curve::kSecp256k1);
  Result<sdk::Delivery> forged = provider_->Verify(wire::SealEnvelope(data, impostor->Sign(data)));
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().kind, ErrorKind::kVerification);

  std::string tampered = Delivery(R"({"amount":100})");
  tampered.replace(tampered.find("100"), 3, "900");
  EXPECT_EQ(provider_->Verify(tampered).error().kind, ErrorKind::kVerification);

  for (const char* garbage :
       {"", "<html>oops</html>", "{\"data\":{}}", "{\"data\":[],\"signature\":\"x\"}"}) {
    Result<sdk::Delivery> d = provider_->Verify(garbage);
    ASSERT_FALSE(d.ok()) << garbage;
    EXPECT_EQ(d.error().kind, ErrorKind::kProtocol) << garbage;
  }
  std::string no_code = R"({"requestId":"0123456789abcdef0123456789abcdef","esbBody":{}})";
  EXPECT_EQ(provider_->Verify(wire::SealEnvelope(no_code, bus_key_.Sign(no_code))).error().kind,
            ErrorKind::kProtocol);
}

TEST_F(ProviderTest, SignedSuccessAndFailureReplies) {
  std::string success = provider_->Success("{ \"name\" : \"Neema\" }");
  EXPECT_EQ(
      success.rfind(R"({"data":{"success":true,"esbBody":{"name":"Neema"}},"signature":")", 0), 0u)
      << success;
  wire::ProviderReply ok = ReadReply(success);
  EXPECT_TRUE(ok.success);
  EXPECT_EQ(ok.esb_body_raw, R"({"name":"Neema"})");

  std::string failure = provider_->Failure("no record \"B-404\"");
  wire::ProviderReply failed = ReadReply(failure);
  EXPECT_FALSE(failed.success);
  EXPECT_EQ(failed.message, "no record \"B-404\"");
  EXPECT_EQ(failed.esb_body_raw, "{}");

  // A body that is not JSON still makes a valid reply: it travels as a JSON string.
  wire::ProviderReply text = ReadReply(provider_->Success("plain text, not JSON"));
  EXPECT_EQ(text.esb_body_raw, R"("plain text, not JSON")");
  EXPECT_EQ(ReadReply(provider_->Failure("x", "{broken")).esb_body_raw, R"("{broken")");
}

TEST_F(ProviderTest, AcceptsDeliveriesSignedByAnyOfTheBusKeysGiven) {
  PrivateKey next = *PrivateKey::Generate(Curve::kP256);
  auto both = Provider::Create(provider_key_.ToBase64(),
                               {bus_key_.public_key().ToBase64(), next.public_key().ToBase64()});
  ASSERT_TRUE(both.ok()) << both.error().message;
  std::string data = wire::DeliveryData("{}", "0123456789abcdef0123456789abcdef", "apiCode", "X1");
  EXPECT_TRUE(both->Verify(wire::SealEnvelope(data, bus_key_.Sign(data))).ok());
  EXPECT_TRUE(both->Verify(wire::SealEnvelope(data, next.Sign(data))).ok());
  // The one-key provider refuses the next key's signature; nobody accepts a third key's.
  EXPECT_FALSE(provider_->Verify(wire::SealEnvelope(data, next.Sign(data))).ok());
  PrivateKey other = *PrivateKey::Generate(Curve::kP256);
  auto third = both->Verify(wire::SealEnvelope(data, other.Sign(data)));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().kind, ErrorKind::kVerification);
  EXPECT_FALSE(Provider::Create(provider_key_.ToBase64(), std::vector<std::string>{}).ok());
}

TEST(ProviderCreateTest, BadKeysAreInvalidArgument) {
  auto key = PrivateKey::Generate(Curve::kP256);
  auto bad_private = Provider::Create("nope", key->public_key().ToBase64());
  ASSERT_FALSE(bad_private.ok());
  EXPECT_EQ(bad_private.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(bad_private.error().message.find("private_key"), std::string::npos);
  auto bad_bus = Provider::Create(key->ToBase64(), "nope");
  ASSERT_FALSE(bad_bus.ok());
  EXPECT_NE(bad_bus.error().message.find("esb_public_key"), std::string::npos);
}

}  // namespace
}  // namespace govesb::sdk
