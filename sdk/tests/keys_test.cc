#include "govesb/keys.h"

#include <gtest/gtest.h>

#include <string>

namespace govesb::sdk {
namespace {

std::string Pem(const std::string& label, const std::string& base64) {
  std::string out = "-----BEGIN " + label + "-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) out += base64.substr(i, 64) + "\n";
  return out + "-----END " + label + "-----\n";
}

class KeysTest : public ::testing::TestWithParam<Curve> {};

TEST_P(KeysTest, GenerateSignVerifyAndRoundTripBothEncodings) {
  auto key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->curve(), GetParam());
  PublicKey pub = key->public_key();
  EXPECT_EQ(pub.curve(), GetParam());

  std::string signature = key->Sign("{\"apiCode\":\"BRTH01\"}");
  EXPECT_TRUE(pub.Verify("{\"apiCode\":\"BRTH01\"}", signature));
  EXPECT_FALSE(pub.Verify("{\"apiCode\":\"BRTH02\"}", signature));
  EXPECT_FALSE(pub.Verify("{\"apiCode\":\"BRTH01\"}", "bm90IGEgc2lnbmF0dXJl"));

  // Single-line base64 DER (as GovESB distributes keys) and PEM load to the same key.
  for (const std::string& text : {key->ToBase64(), Pem("PRIVATE KEY", key->ToBase64())}) {
    auto again = PrivateKey::Parse(text);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again->ToBase64(), key->ToBase64());
    EXPECT_EQ(again->public_key().ToBase64(), pub.ToBase64());
  }
  for (const std::string& text : {pub.ToBase64(), Pem("PUBLIC KEY", pub.ToBase64())}) {
    auto again = PublicKey::Parse(text);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again->ToBase64(), pub.ToBase64());
    EXPECT_TRUE(again->Verify("{\"apiCode\":\"BRTH01\"}", signature));
  }
  EXPECT_EQ(pub.ToBase64().find('\n'), std::string::npos);

  auto other = PrivateKey::Generate(GetParam());
  EXPECT_FALSE(other->public_key().Verify("{\"apiCode\":\"BRTH01\"}", signature));
}

TEST_P(KeysTest, PayloadEncryptionRoundTrip) {
  auto recipient = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(recipient.ok());
  const std::string plain = R"({"nin":"19900101-12345-00001-22","name":"Neema ✓"})";
  Result<std::string> sealed = Encrypt(plain, recipient->public_key());
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  for (const char* member : {"\"ephemeralKey\"", "\"iv\"", "\"encryptedData\""}) {
    EXPECT_NE(sealed->find(member), std::string::npos) << *sealed;
  }
  EXPECT_EQ(sealed->find("Neema"), std::string::npos);
  Result<std::string> opened = Decrypt(*sealed, *recipient);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, plain);

  auto stranger = PrivateKey::Generate(GetParam());
  Result<std::string> wrong = Decrypt(*sealed, *stranger);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, ErrorKind::kVerification) << wrong.error().message;

  EXPECT_EQ(Decrypt("{\"iv\":1}", *recipient).error().kind, ErrorKind::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllCurves, KeysTest,
                         ::testing::Values(Curve::kSecp256k1, Curve::kP256, Curve::kP521),
                         [](const auto& param_info) {
                           return std::string(CurveName(param_info.param));
                         });

TEST(CurveTest, NamesAndAliases) {
  EXPECT_STREQ(CurveName(Curve::kSecp256k1), "secp256k1");
  EXPECT_STREQ(CurveName(Curve::kP256), "prime256v1");
  EXPECT_STREQ(CurveName(Curve::kP521), "secp521r1");
  EXPECT_EQ(*ParseCurve("secp256k1"), Curve::kSecp256k1);
  EXPECT_EQ(*ParseCurve("prime256v1"), Curve::kP256);
  EXPECT_EQ(*ParseCurve("P-256"), Curve::kP256);
  EXPECT_EQ(*ParseCurve("secp521r1"), Curve::kP521);
  EXPECT_EQ(*ParseCurve("P-521"), Curve::kP521);
  auto bad = ParseCurve("secp384r1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidArgument);
}

TEST(KeyParseTest, GarbageIsInvalidArgumentWithAReason) {
  for (const char* text : {"", "not base64 at all!", "AAAA", "-----BEGIN PUBLIC KEY-----\n"}) {
    auto pub = PublicKey::Parse(text);
    ASSERT_FALSE(pub.ok()) << text;
    EXPECT_EQ(pub.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_FALSE(pub.error().message.empty());
    auto priv = PrivateKey::Parse(text);
    ASSERT_FALSE(priv.ok()) << text;
    EXPECT_EQ(priv.error().kind, ErrorKind::kInvalidArgument);
  }
  // A public key where a private one is expected, and the other way round.
  auto key = PrivateKey::Generate(Curve::kSecp256k1);
  EXPECT_FALSE(PrivateKey::Parse(key->public_key().ToBase64()).ok());
  EXPECT_FALSE(PublicKey::Parse(key->ToBase64()).ok());
}

TEST(ErrorKindTest, Names) {
  EXPECT_STREQ(ErrorKindName(ErrorKind::kInvalidArgument), "invalid-argument");
  EXPECT_STREQ(ErrorKindName(ErrorKind::kTransport), "transport");
  EXPECT_STREQ(ErrorKindName(ErrorKind::kUnauthorized), "unauthorized");
  EXPECT_STREQ(ErrorKindName(ErrorKind::kRefused), "refused");
  EXPECT_STREQ(ErrorKindName(ErrorKind::kVerification), "verification");
  EXPECT_STREQ(ErrorKindName(ErrorKind::kProtocol), "protocol");
}

}  // namespace
}  // namespace govesb::sdk
