#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/keys.h"
#include "store/database.h"

namespace govesb::evidence {

// A self-contained proof of one exchange (`govesb audit prove`): its records, each with the
// Merkle path (RFC 9162) to the root of the checkpoint that sealed it, those checkpoints with
// their signatures, and the bus public key. JSON:
//   {"format":"govesb-evidence-proof/1","requestId":"…","busPublicKey":"<base64 SPKI>",
//    "records":[{"seq":N,"record":"<canonical text>","checkpoint":C,"index":I,
//                "path":["<hex>",…]}],
//    "checkpoints":[{"id":C,"body":"<signed text>","signature":"<base64>"}]}
// kNotFound when the log has no record of `request_id`; kFailedPrecondition when some of its
// records are not sealed by a checkpoint yet.
// Archived records are read from `archive_dir`.
Result<std::string> BuildProof(store::Database& db, std::string_view request_id,
                               const crypto::PublicKey& bus_key,
                               const std::string& archive_dir = "");

struct ProofReport {
  std::string request_id;
  std::vector<std::string> records;  // the canonical texts, in order
  std::vector<int64_t> checkpoints;
  std::string bus_public_key;  // base64 SPKI the checkpoints were verified with
};

// Verifies a proof offline, without the database: every checkpoint's signature (with
// `expected_key` when given, else with the key in the proof, which the auditor must then
// compare with the bus key they trust), every record's Merkle path to its checkpoint's root,
// and that every record belongs to the exchange. kInvalidArgument (with the reason) when any
// part does not hold.
Result<ProofReport> CheckProof(std::string_view proof_json,
                               const std::optional<crypto::PublicKey>& expected_key);

}  // namespace govesb::evidence
