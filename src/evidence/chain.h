#pragma once

// The pure parts of a hash chain of evidence records, shared by every adapter (the embedded log,
// log.h; PostgreSQL's per-node chains, pg_chain.h): the signed text of a checkpoint, and the
// streaming check of a chain's records against its checkpoints. No storage here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "evidence/merkle.h"
#include "evidence/records.h"
#include "evidence/store.h"

namespace govesb::evidence {

// The signed text of checkpoint `id` of a chain: it seals records first_seq..last_seq, whose
// hashes have the Merkle root `root`, with `chain` the chain value at last_seq, and follows
// the checkpoint whose body hashes (hex) to `previous_hash` ("" for the first). `node` names
// the chain in a cluster (a member right after the id); "" leaves it out, as the embedded log's
// bodies always were. `key_id` (crypto::KeyId) names the bus key that signs it (the last
// member, "keyId"; checkpoints made before key rotation have none, and are checked against
// every key given).
std::string CheckpointBody(int64_t id, int64_t first_seq, int64_t last_seq, int64_t at_ms,
                           const Hash& root, const Hash& chain, std::string_view previous_hash,
                           std::string_view node = "", std::string_view key_id = "");

// The key a checkpoint names as its signer ("" when it names none).
std::string CheckpointKeyId(std::string_view body);

// The `at` (ms) of a checkpoint body made by CheckpointBody; 0 when it has none.
int64_t CheckpointTime(std::string_view body);

// Checks one chain as its records stream past, in order: numbering from 1, each record's hash
// (against the stored one, for live records), that it sits where it is filed, the chain links,
// and every checkpoint when the stream reaches its last record (range, predecessor, Merkle
// root, chain value, the node it names, and the signature with the bus key it names, or any of
// `bus_keys` for one that names none). Only the hashes
// since the last checkpoint are held. Stops at the first problem and says where it is.
class ChainChecker {
 public:
  // `checkpoints`: all of the chain's, oldest first. `node`: the chain's ("" for the embedded
  // log), which every checkpoint body must name.
  ChainChecker(const crypto::KeySet& bus_keys, std::vector<StoredCheckpoint> checkpoints,
               std::string node = "");

  // Checks the next record: false when it (or a checkpoint ending at it) shows a problem, which
  // failure() then holds.
  bool Add(const StoredRecord& r);
  // Records a problem found by the caller (an archive that does not fit, unreadable storage).
  VerifyReport Fail(std::optional<int64_t> seq, std::string problem);
  // After the last record: the report (a checkpoint past the end is a problem).
  VerifyReport Finish();

  const std::optional<VerifyReport>& failure() const { return failure_; }
  int64_t expected() const { return expected_; }  // the number the next record must have
  const Hash& chain() const { return chain_; }    // the chain value so far
  int64_t records() const { return report_.records; }

 private:
  std::optional<std::string> CheckCheckpoint(const StoredCheckpoint& c) const;

  crypto::KeySet bus_keys_;
  std::vector<StoredCheckpoint> checkpoints_;
  std::string node_;
  VerifyReport report_;
  std::optional<VerifyReport> failure_;
  Hash chain_{};
  int64_t expected_ = 1;
  size_t next_checkpoint_ = 0;
  int64_t next_first_ = 1;
  std::string previous_hash_;
  MerkleRange range_;  // the tree of the records since the last checkpoint, O(log n) hashes
};

}  // namespace govesb::evidence
