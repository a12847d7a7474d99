#include "evidence/merkle.h"

#include <gtest/gtest.h>

#include "base/encoding.h"

namespace govesb::evidence {
namespace {

Hash Entry(int i) { return crypto::Sha256("record " + std::to_string(i)); }

std::vector<Hash> Entries(int n) {
  std::vector<Hash> out;
  for (int i = 0; i < n; ++i) out.push_back(Entry(i));
  return out;
}

TEST(Merkle, SmallTreesFollowTheDefinition) {
  auto e = Entries(3);
  EXPECT_EQ(MerkleRoot(std::span(e).first(1)), LeafHash(e[0]));
  EXPECT_EQ(MerkleRoot(std::span(e).first(2)), InteriorHash(LeafHash(e[0]), LeafHash(e[1])));
  // Three leaves split 2 + 1.
  EXPECT_EQ(MerkleRoot(e),
            InteriorHash(InteriorHash(LeafHash(e[0]), LeafHash(e[1])), LeafHash(e[2])));
  EXPECT_EQ(MerkleRoot({}), crypto::Sha256(""));
  EXPECT_NE(LeafHash(e[0]), e[0]);
}

TEST(Merkle, EveryLeafOfEveryTreeSizeProvesAndOnlyItself) {
  for (int n = 1; n <= 33; ++n) {
    auto e = Entries(n);
    Hash root = MerkleRoot(e);
    for (int i = 0; i < n; ++i) {
      auto proof = InclusionProof(e, i);
      ASSERT_TRUE(proof.ok());
      EXPECT_TRUE(VerifyInclusion(e[i], i, n, *proof, root)) << "n=" << n << " i=" << i;
      // The wrong entry, index or root fails. (The tree size comes from the signed checkpoint.)
      EXPECT_FALSE(VerifyInclusion(Entry(1000), i, n, *proof, root));
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion(e[i], (i + 1) % n, n, *proof, root)) << n << " " << i;
      }
      EXPECT_FALSE(VerifyInclusion(e[i], i, n, *proof, Entry(7)));
      if (!proof->empty()) {
        auto bad = *proof;
        bad[0][0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(e[i], i, n, bad, root));
        bad = *proof;
        bad.pop_back();
        EXPECT_FALSE(VerifyInclusion(e[i], i, n, bad, root));
      }
    }
  }
  EXPECT_FALSE(InclusionProof(Entries(3), 3).ok());
}

TEST(Merkle, ARangeBuiltOneEntryAtATimeHasTheTreesRoot) {
  MerkleRange range;
  EXPECT_EQ(range.Root(), MerkleRoot({}));
  auto e = Entries(300);
  for (int n = 1; n <= 300; ++n) {
    range.Append(e[n - 1]);
    ASSERT_EQ(range.size(), static_cast<uint64_t>(n));
    ASSERT_EQ(range.Root(), MerkleRoot(std::span(e).first(n))) << "n=" << n;
  }
  // Another order of the same entries is another root.
  MerkleRange swapped;
  swapped.Append(e[1]);
  swapped.Append(e[0]);
  EXPECT_NE(swapped.Root(), MerkleRoot(std::span(e).first(2)));
}

}  // namespace
}  // namespace govesb::evidence
