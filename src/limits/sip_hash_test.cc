#include "limits/sip_hash.h"

#include <gtest/gtest.h>

#include <string>

namespace govesb::limits {
namespace {

// The reference key 00 01 .. 0f and messages 00 01 .. (len-1), from the SipHash paper
// (appendix A) and the reference implementation's vectors.h.
std::string Message(size_t len) {
  std::string m;
  for (size_t i = 0; i < len; ++i) m += static_cast<char>(i);
  return m;
}

constexpr SipKey kReferenceKey = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

TEST(SipHash24, ReferenceVectors) {
  EXPECT_EQ(SipHash24(kReferenceKey, Message(0)), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(kReferenceKey, Message(1)), 0x74f839c593dc67fdULL);
  EXPECT_EQ(SipHash24(kReferenceKey, Message(8)), 0x93f5f5799a932462ULL);
  EXPECT_EQ(SipHash24(kReferenceKey, Message(15)), 0xa129ca6149be45e5ULL);
}

TEST(SipHash24, KeyChangesTheHash) {
  const SipKey a = RandomSipKey();
  const SipKey b = RandomSipKey();
  ASSERT_NE(a, b);
  EXPECT_NE(SipHash24(a, "client-1"), SipHash24(b, "client-1"));
  EXPECT_NE(SipHash24(a, "client-1"), SipHash24(a, "client-2"));
}

}  // namespace
}  // namespace govesb::limits
