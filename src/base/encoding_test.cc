#include "base/encoding.h"

#include <gtest/gtest.h>

#include <array>

namespace govesb {
namespace {

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(std::string_view("")), "");
  EXPECT_EQ(Base64Encode(std::string_view("f")), "Zg==");
  EXPECT_EQ(Base64Encode(std::string_view("fo")), "Zm8=");
  EXPECT_EQ(Base64Encode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(Base64Encode(std::string_view("foobar")), "Zm9vYmFy");
  EXPECT_EQ(*Base64Decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(*Base64Decode("Zm9vYg=="), "foob");
}

TEST(Base64, ToleratesLineBreaksAndMissingPadding) {
  EXPECT_EQ(*Base64Decode("Zm9v\nYmFy\r\n"), "foobar");
  EXPECT_EQ(*Base64Decode("Zm8"), "fo");
}

TEST(Base64, RejectsGarbage) {
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Zg==Zg==").has_value());
  EXPECT_FALSE(Base64Decode("Z").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v-_").has_value());
}

TEST(Base64, DecodesIntoABufferAsIntoAString) {
  std::array<uint8_t, 6> buf{};
  for (std::string_view text : {"Zm9vYmFy", "Zm9v\nYmE=", "Zm8", "", "Zg=="}) {
    const std::optional<size_t> n = Base64DecodeInto(text, buf);
    ASSERT_TRUE(n.has_value()) << text;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), *n), *Base64Decode(text));
  }
  for (std::string_view garbage : {"Zm9v!", "Zg==Zg==", "Z", "Zm9v-_"}) {
    EXPECT_FALSE(Base64DecodeInto(garbage, buf).has_value()) << garbage;
  }
  // Seven bytes do not fit in six: refused, not cut.
  EXPECT_FALSE(Base64DecodeInto("Zm9vYmFyYg==", buf).has_value());
  EXPECT_EQ(Base64DecodeInto("Zm9vYmFy", std::span<uint8_t>(buf.data(), 6)), 6u);
}

TEST(Base64Url, RoundTripsBinary) {
  std::string bin;
  for (int i = 0; i < 256; ++i) bin.push_back(static_cast<char>(i));
  std::string enc = Base64UrlEncode(bin);
  EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
  EXPECT_EQ(*Base64UrlDecode(enc), bin);
}

TEST(Hex, RoundTrip) {
  EXPECT_EQ(HexEncode(std::string_view("\x01\xab", 2)), "01ab");
  EXPECT_EQ(*HexDecode("01AB"), std::string("\x01\xab", 2));
  EXPECT_FALSE(HexDecode("0").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(Hex, DecodesIntoAFixedBufferOnlyAtItsExactLength) {
  std::array<uint8_t, 2> out{};
  EXPECT_TRUE(HexDecodeInto("01Ab", out));
  EXPECT_EQ(out, (std::array<uint8_t, 2>{0x01, 0xab}));
  EXPECT_FALSE(HexDecodeInto("01", out));
  EXPECT_FALSE(HexDecodeInto("01abcd", out));
  EXPECT_FALSE(HexDecodeInto("01ag", out));
  EXPECT_FALSE(HexDecodeInto("g1ab", out));
}

}  // namespace
}  // namespace govesb
