#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "evidence/merkle.h"
#include "store/database.h"

namespace govesb::evidence {

// A self-contained proof of one exchange (`govesb audit prove`): its records, each with the
// Merkle path (RFC 9162) to the root of the checkpoint that sealed it, those checkpoints with
// their signatures, and the bus public key. JSON:
//   {"format":"govesb-evidence-proof/1","requestId":"…","busPublicKey":"<base64 SPKI>",
//    ["busPublicKeys":["<base64 SPKI>",…],]
//    "records":[{"seq":N,"record":"<canonical text>","checkpoint":C,"index":I,
//                "path":["<hex>",…]}],
//    "checkpoints":[{"id":C,"body":"<signed text>","signature":"<base64>"}]}
// In a cluster (PostgreSQL), each chain is a node's: a record and a checkpoint then also carry
// "node":"<id>" (left out for the embedded log, whose proofs are as before), a record's seq and
// checkpoint are its node's, and the checkpoint's signed body names the node.
// busPublicKey is the key that signed the first checkpoint; when the checkpoints were signed by
// more than one key (a proof across a key rotation), busPublicKeys lists them all. Checkpoint
// bodies name their key's id (chain.h), and `bus_keys` must hold it.
// kNotFound when the log has no record of `request_id`; kFailedPrecondition when some of its
// records are not sealed by a checkpoint yet.
// Archived records are read from `archive_dir`; live ones up to the committed point
// (`committed_through`, as records.h ReadLimit: nullopt, what the database recorded as
// committed), so a record being written is neither proven nor reported as not sealed yet.
Result<std::string> BuildProof(store::Database& db, std::string_view request_id,
                               const crypto::KeySet& bus_keys, const std::string& archive_dir = "",
                               std::optional<int64_t> committed_through = std::nullopt);

// The parts of a proof, for an adapter that finds them in its own storage: WriteProof makes
// the JSON above from them.
struct ProofRecord {
  std::string node;  // "" for the embedded log
  int64_t seq = 0;
  std::string text;  // the canonical text
  int64_t checkpoint = 0;
  int64_t index = 0;  // seq - the checkpoint's first
  std::vector<Hash> path;
};
struct ProofCheckpoint {
  std::string node;
  int64_t id = 0;
  std::string body;
  std::string signature;
};
std::string WriteProof(std::string_view request_id, const crypto::KeySet& bus_keys,
                       const std::vector<ProofRecord>& records,
                       const std::vector<ProofCheckpoint>& checkpoints);

struct ProofReport {
  std::string request_id;
  std::vector<std::string> records;  // the canonical texts, in order
  std::vector<int64_t> checkpoints;
  std::vector<std::string> checkpoint_nodes;  // the node of each of `checkpoints` ("" if none)
  std::string bus_public_key;                 // base64 SPKI the first checkpoint was verified with
  std::vector<std::string> bus_public_keys;   // every key that verified a checkpoint
};

// Verifies a proof offline, without the database: every checkpoint's signature (with one of
// `expected_keys` when given, the one its body names if it names one; else with the keys in
// the proof, which the auditor must then compare with the bus keys they trust), every record's
// Merkle path to its checkpoint's root, and that every record belongs to the exchange.
// kInvalidArgument (with the reason) when any part does not hold.
Result<ProofReport> CheckProof(std::string_view proof_json,
                               const std::optional<crypto::KeySet>& expected_keys);
Result<ProofReport> CheckProof(std::string_view proof_json, const crypto::PublicKey& expected_key);

}  // namespace govesb::evidence
