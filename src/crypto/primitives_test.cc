#include "crypto/primitives.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"

namespace govesb::crypto {
namespace {

using ::testing::MatchesRegex;
using ::testing::StartsWith;

std::string Hex(const Sha256Digest& digest) { return HexEncode(digest); }

TEST(Sha256Test, AStreamInPartsHashesAsTheWhole) {
  std::string data;
  for (int i = 0; i < 10'000; ++i) data += static_cast<char>('a' + i % 26);
  Sha256Stream stream;
  for (size_t at = 0; at < data.size(); at += 777) stream.Update(data.substr(at, 777));
  EXPECT_EQ(stream.Finish(), Sha256(data));
  // Finish starts it again.
  stream.Update("abc");
  EXPECT_EQ(Hex(stream.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, KnownAnswers) {
  // FIPS 180-2 appendix B.1 and the empty string.
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, PartsHashLikeTheirJoinedText) {
  EXPECT_EQ(Hex(Sha256({"a", "", "bc"})), Hex(Sha256("abc")));
  EXPECT_EQ(Hex(Sha256({"abcdbcdecdefdefgefghfghighijhijkijk", "ljklmklmnlmnomnopnopq"})),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256(std::initializer_list<std::string_view>{})), Hex(Sha256("")));
  EXPECT_NE(Hex(Sha256({"ab", "c"})), Hex(Sha256({"ab"})));
}

TEST(HmacSha256Test, Rfc4231KnownAnswers) {
  // Test case 1.
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the block.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block is hashed first.
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'),
                           "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // Empty key and message.
  EXPECT_EQ(Hex(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(RandomTest, RandomBytesHaveTheRequestedLengthAndDiffer) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  std::array<uint8_t, 64> buf{};
  RandomBytes(buf);
  EXPECT_NE(buf, (std::array<uint8_t, 64>{}));
}

TEST(RandomTest, RandomAlphanumericLengthAndAlphabet) {
  EXPECT_EQ(RandomAlphanumeric(0), "");
  for (size_t n : {1u, 32u, 65u, 1000u}) {
    const std::string s = RandomAlphanumeric(n);
    EXPECT_EQ(s.size(), n);
    EXPECT_THAT(s, MatchesRegex("[A-Za-z0-9]*"));
  }
  EXPECT_NE(RandomAlphanumeric(32), RandomAlphanumeric(32));
}

TEST(RandomTest, RandomAlphanumericIsUniform) {
  // 124000 draws: 2000 expected per character, standard deviation about 44. Plain `byte % 62`
  // would give the first 8 characters about 2420 each, far outside the band.
  const std::string s = RandomAlphanumeric(62 * 2000);
  std::map<char, int> counts;
  for (char c : s) ++counts[c];
  EXPECT_EQ(counts.size(), 62u);
  for (const auto& [c, count] : counts) {
    EXPECT_GT(count, 1750) << c;
    EXPECT_LT(count, 2250) << c;
  }
}

TEST(IdentifierTest, NewUuidIsCanonicalLowercaseVersion4) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    ASSERT_THAT(id, MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                 "[0-9a-f]{12}"));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IdentifierTest, NewRequestIdIs32LowercaseHex) {
  // 5000 ids: the per-thread block of random bytes is refilled several times on the way.
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_THAT(id, MatchesRegex("[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}"));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 5000u);
}

TEST(IdentifierTest, NewRequestIdsOfDifferentThreadsDiffer) {
  // Each thread draws from its own block of random bytes: two threads making ids in the same
  // milliseconds must still never make the same one.
  std::vector<std::string> a;
  std::vector<std::string> b;
  std::thread ta([&] {
    for (int i = 0; i < 3000; ++i) a.push_back(NewRequestId());
  });
  std::thread tb([&] {
    for (int i = 0; i < 3000; ++i) b.push_back(NewRequestId());
  });
  ta.join();
  tb.join();
  std::set<std::string> seen(a.begin(), a.end());
  seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen.size(), 6000u);
}

TEST(IdentifierTest, NewRequestIdsAreTimeOrdered) {
  // Version 7: the first 12 hex digits are the Unix time in milliseconds.
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = now_ms();
  const std::string first = NewRequestId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::string second = NewRequestId();
  const int64_t after = now_ms();
  EXPECT_LT(first, second);
  const int64_t stamped = std::stoll(first.substr(0, 12), nullptr, 16);
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "Secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("secret2", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_FALSE(ConstantTimeEquals("x", ""));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(SecretHashTest, TestParametersRoundTrip) {
  const std::string encoded = HashSecretForTest("Kq3xY7pT0mZrW9sLbN2cV5hJ8dF4gA6e");
  EXPECT_THAT(encoded,
              MatchesRegex("scrypt\\$4\\$8\\$1\\$[A-Za-z0-9+/]{22}==\\$[A-Za-z0-9+/]{43}="));
  EXPECT_TRUE(VerifySecret("Kq3xY7pT0mZrW9sLbN2cV5hJ8dF4gA6e", encoded));
  EXPECT_FALSE(VerifySecret("Kq3xY7pT0mZrW9sLbN2cV5hJ8dF4gA6f", encoded));
  EXPECT_FALSE(VerifySecret("", encoded));
  // A fresh salt each time.
  EXPECT_NE(HashSecretForTest("same"), HashSecretForTest("same"));
  EXPECT_TRUE(VerifySecret("", HashSecretForTest("")));
}

TEST(SecretHashTest, ProductionParametersRoundTrip) {
  const std::string encoded = HashSecret("client-secret");
  EXPECT_THAT(encoded, StartsWith("scrypt$15$8$1$"));
  EXPECT_TRUE(VerifySecret("client-secret", encoded));
  EXPECT_FALSE(VerifySecret("client-secreT", encoded));
}

TEST(SecretHashTest, KnownAnswers) {
  // RFC 7914 section 12, second vector: scrypt("password", "NaCl", N=1024, r=8, p=16, 64).
  EXPECT_TRUE(
      VerifySecret("password",
                   "scrypt$10$8$16$TmFDbA==$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZ"
                   "LiKjiG/xCSedmDDaxyevuUqD7m2DYMvfoswGQA=="));
  // Python hashlib.scrypt, the production parameters and salt 00 01 .. 0f.
  EXPECT_TRUE(VerifySecret(
      "Kq3xY7pT0mZrW9sLbN2cV5hJ8dF4gA6e",
      "scrypt$15$8$1$AAECAwQFBgcICQoLDA0ODw==$NWwCacCJfKmUAuxIidORBEYRbKlKjXOIQ2Eexchj5oM="));
  // Python hashlib.scrypt, the test parameters.
  EXPECT_TRUE(VerifySecret(
      "client-secret",
      "scrypt$4$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$2OM1iwNit3uNKuHToils3P8fZWx31kLAtImwzxcYPfg="));
  EXPECT_FALSE(VerifySecret(
      "client-secreT",
      "scrypt$4$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$2OM1iwNit3uNKuHToils3P8fZWx31kLAtImwzxcYPfg="));
}

TEST(SecretHashTest, MalformedEncodingsAreRefused) {
  const std::string salt = "MDEyMzQ1Njc4OWFiY2RlZg==";
  const std::string hash = "2OM1iwNit3uNKuHToils3P8fZWx31kLAtImwzxcYPfg=";
  ASSERT_TRUE(VerifySecret("client-secret", "scrypt$4$8$1$" + salt + "$" + hash));
  const std::string bad[] = {
      "",
      "scrypt",
      "client-secret",
      "bcrypt$4$8$1$" + salt + "$" + hash,
      "scrypt$4$8$1$" + salt,                     // missing hash
      "scrypt$4$8$1$" + salt + "$" + hash + "$",  // extra field
      "scrypt$4$8$" + salt + "$" + hash,          // missing p
      "scrypt$x$8$1$" + salt + "$" + hash,
      "scrypt$$8$1$" + salt + "$" + hash,
      "scrypt$+4$8$1$" + salt + "$" + hash,
      "scrypt$-4$8$1$" + salt + "$" + hash,
      "scrypt$4 $8$1$" + salt + "$" + hash,
      "scrypt$0$8$1$" + salt + "$" + hash,   // N = 1
      "scrypt$21$8$1$" + salt + "$" + hash,  // N too large
      "scrypt$64$8$1$" + salt + "$" + hash,
      "scrypt$99999999999$8$1$" + salt + "$" + hash,
      "scrypt$4$0$1$" + salt + "$" + hash,
      "scrypt$4$8$0$" + salt + "$" + hash,
      "scrypt$4$17$1$" + salt + "$" + hash,
      "scrypt$4$8$17$" + salt + "$" + hash,
      "scrypt$20$8$1$" + salt + "$" + hash,  // 1 GiB of memory: over the cap
      "scrypt$4$8$1$$" + hash,               // empty salt
      "scrypt$4$8$1$!!!!$" + hash,
      "scrypt$4$8$1$" + salt + "$",                                // empty hash
      "scrypt$4$8$1$" + salt + "$AAAA",                            // hash too short
      "scrypt$4$8$1$" + salt + "$" + hash.substr(0, 40) + "AAA=",  // wrong hash
      "scrypt$4$8$1$" + salt + "$" + hash + "%",
  };
  for (const std::string& encoded : bad) {
    EXPECT_FALSE(VerifySecret("client-secret", encoded)) << encoded;
  }
}

}  // namespace
}  // namespace govesb::crypto
