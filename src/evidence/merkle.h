#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/primitives.h"

namespace govesb::evidence {

using Hash = crypto::Sha256Digest;

// Hashes as the log and proofs store them: 64 lowercase hex characters.
std::string HashHex(const Hash& h);
std::optional<Hash> HashFromHex(std::string_view hex);

// Merkle trees as in RFC 9162 (Certificate Transparency 2.0), section 2.1, over SHA-256:
//   leaf hash     = SHA-256(0x00 || entry)
//   interior hash = SHA-256(0x01 || left || right)
// where a tree of n > 1 leaves splits at the largest power of two smaller than n. Here the
// entries are the 32-byte hashes of evidence records. The 0x00/0x01 prefixes keep a leaf from
// ever being passed off as an interior node.

Hash LeafHash(const Hash& entry);
Hash InteriorHash(const Hash& left, const Hash& right);

// The root (MTH) of the tree whose leaves are LeafHash(entries[i]). An empty tree's root is
// SHA-256 of nothing.
Hash MerkleRoot(std::span<const Hash> entries);

// The same root built one entry at a time, holding O(log n) hashes: the roots of the perfect
// subtrees the tree's first `size()` leaves split into (a "compact range" from leaf 0), one per
// set bit of the size, largest first. Root() equals MerkleRoot of the entries appended so far.
class MerkleRange {
 public:
  void Append(const Hash& entry);
  Hash Root() const;
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> peaks_;  // left to right, sizes strictly decreasing powers of two
};

// The inclusion proof (audit path) of entry `index` in the tree of `entries`: the sibling
// hashes from the leaf up. kInvalidArgument when index >= entries.size().
Result<std::vector<Hash>> InclusionProof(std::span<const Hash> entries, uint64_t index);

// Recomputes the root from an entry, its index, the tree size and its proof (RFC 9162
// 2.1.3.2). True when it equals `root`.
bool VerifyInclusion(const Hash& entry, uint64_t index, uint64_t tree_size,
                     std::span<const Hash> proof, const Hash& root);

}  // namespace govesb::evidence
