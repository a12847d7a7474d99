#pragma once

// The text of the bus's key ring (crypto/key_ring.h), as the data directory keeps it in
// keys/esb-keys.json and a cluster keeps it sealed in PostgreSQL. One JSON object:
//
//   {"format":"govesb-esb-keys","version":1,"keys":[
//     {"id":"<sha-256 of the SPKI DER, hex>","curve":"secp256k1","public_key":"<base64 SPKI>",
//      "private_key":"<base64 PKCS#8>","created_at":MS,"valid_from":MS|null,
//      "not_after":MS|null,"overlap_ms":MS}, ...]}
//
// keys oldest first; times in milliseconds since the epoch. Secret: never log it. Version 2
// (written only when a key has lost its private part: esb-key erase-retired): "private_key" is
// null for such a key, which then stands on its public key.

#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/key_ring.h"

namespace govesb::store {

inline constexpr char kKeyRingFile[] = "esb-keys.json";

std::string KeyRingText(const crypto::KeyRing& ring);

// kFailedPrecondition naming `where` (a file, "the cluster's key ring") when the text is not a
// ring, a key is unreadable, an id or public key does not match its private key, or the ring's
// rules are broken.
Result<crypto::KeyRing> ParseKeyRingText(std::string_view text, std::string_view where);

}  // namespace govesb::store
