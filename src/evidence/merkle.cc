#include "evidence/merkle.h"

#include <bit>
#include <cstring>
#include <string>

#include "base/encoding.h"

namespace govesb::evidence {

namespace {

std::string_view View(const Hash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

// The largest power of two strictly smaller than n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// Root of the leaves [begin, end) (already leaf-hashed).
Hash SubtreeRoot(std::span<const Hash> leaves) {
  if (leaves.size() == 1) return leaves[0];
  uint64_t k = SplitPoint(leaves.size());
  return InteriorHash(SubtreeRoot(leaves.first(k)), SubtreeRoot(leaves.subspan(k)));
}

void Path(std::span<const Hash> leaves, uint64_t index, std::vector<Hash>& out) {
  if (leaves.size() <= 1) return;
  uint64_t k = SplitPoint(leaves.size());
  if (index < k) {
    Path(leaves.first(k), index, out);
    out.push_back(SubtreeRoot(leaves.subspan(k)));
  } else {
    Path(leaves.subspan(k), index - k, out);
    out.push_back(SubtreeRoot(leaves.first(k)));
  }
}

std::vector<Hash> Leaves(std::span<const Hash> entries) {
  std::vector<Hash> leaves;
  leaves.reserve(entries.size());
  for (const Hash& e : entries) leaves.push_back(LeafHash(e));
  return leaves;
}

}  // namespace

std::string HashHex(const Hash& h) { return HexEncode(std::span<const uint8_t>(h)); }

std::optional<Hash> HashFromHex(std::string_view hex) {
  Hash h;
  if (!HexDecodeInto(hex, h)) return std::nullopt;
  return h;
}

Hash LeafHash(const Hash& entry) {
  return crypto::Sha256({std::string_view("\x00", 1), View(entry)});
}

Hash InteriorHash(const Hash& left, const Hash& right) {
  return crypto::Sha256({std::string_view("\x01", 1), View(left), View(right)});
}

Hash MerkleRoot(std::span<const Hash> entries) {
  if (entries.empty()) return crypto::Sha256("");
  std::vector<Hash> leaves = Leaves(entries);
  return SubtreeRoot(leaves);
}

void MerkleRange::Append(const Hash& entry) {
  peaks_.push_back(LeafHash(entry));
  // Each trailing one bit of the old size is a peak as large as the one just made: merge.
  for (uint64_t s = size_; (s & 1) == 1; s >>= 1) {
    Hash right = peaks_.back();
    peaks_.pop_back();
    peaks_.back() = InteriorHash(peaks_.back(), right);
  }
  ++size_;
}

Hash MerkleRange::Root() const {
  if (peaks_.empty()) return crypto::Sha256("");
  // A tree of n leaves splits at the largest power of two below n: the largest peak on the
  // left, the tree of the rest on the right, so the peaks fold from the right.
  Hash root = peaks_.back();
  for (size_t i = peaks_.size() - 1; i-- > 0;) root = InteriorHash(peaks_[i], root);
  return root;
}

Result<std::vector<Hash>> InclusionProof(std::span<const Hash> entries, uint64_t index) {
  if (index >= entries.size()) {
    return InvalidArgument("leaf " + std::to_string(index) + " is not in a tree of " +
                           std::to_string(entries.size()));
  }
  std::vector<Hash> leaves = Leaves(entries);
  std::vector<Hash> proof;
  Path(leaves, index, proof);
  return proof;
}

bool VerifyInclusion(const Hash& entry, uint64_t index, uint64_t tree_size,
                     std::span<const Hash> proof, const Hash& root) {
  if (index >= tree_size) return false;
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  Hash r = LeafHash(entry);
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = InteriorHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = InteriorHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

}  // namespace govesb::evidence
