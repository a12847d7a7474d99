#include "crypto/aead.h"

#include <gtest/gtest.h>

#include "crypto/primitives.h"

namespace govesb::crypto {
namespace {

TEST(AeadTest, SealedDataOpensOnlyWithItsKeyAndAad) {
  const std::string key = RandomBytes(kAesKeyBytes);
  const std::string body = R"({"esbBody":{"nin":"19900101-12345-00001-12"}})";
  auto sealed = SealWithKey(key, body, "requestId|request");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kGcmIvBytes + kGcmTagBytes + body.size());
  EXPECT_EQ(sealed->find("19900101"), std::string::npos) << "the body is not readable at rest";
  auto opened = OpenWithKey(key, *sealed, "requestId|request");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, body);

  auto again = SealWithKey(key, body, "requestId|request");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *sealed) << "a fresh IV each time";

  EXPECT_EQ(OpenWithKey(RandomBytes(kAesKeyBytes), *sealed, "requestId|request").status().code(),
            StatusCode::kBadSignature);
  EXPECT_EQ(OpenWithKey(key, *sealed, "requestId|reply").status().code(), StatusCode::kBadSignature)
      << "bound to its context";
  std::string altered = *sealed;
  altered.back() ^= 1;
  EXPECT_EQ(OpenWithKey(key, altered, "requestId|request").status().code(),
            StatusCode::kBadSignature);
  EXPECT_EQ(OpenWithKey(key, "short", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SealWithKey("too short", body, "").status().code(), StatusCode::kInvalidArgument);
}

TEST(AeadTest, EmptyPlaintext) {
  const std::string key = RandomBytes(kAesKeyBytes);
  auto sealed = SealWithKey(key, "", "");
  ASSERT_TRUE(sealed.ok());
  auto opened = OpenWithKey(key, *sealed, "");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "");
}

}  // namespace
}  // namespace govesb::crypto
