#pragma once

// What the admin layer knows of the running bus: its addresses, TLS set-up and key
// (AdminService::DescribeBus; GET /api/v1/bus).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/certificate.h"
#include "crypto/key_ring.h"

namespace govesb::admin {

// What the running bus tells the admin layer about itself (DescribeBus). Empty strings where
// there is no such thing (no admin listener, no TLS).
struct BusInfo {
  std::string exchange_url = std::string();  // where systems connect: https://HOST:PORT
  std::string admin_url = std::string();     // the admin listener
  // "self-signed": the bus's own CA in the data directory signed its certificate (clients
  // trust ca_file); "provided": --tls-cert/--tls-key; "off": --plain-http.
  std::string tls = std::string("off");
  std::string certificate_file = std::string();  // the server's chain (PEM)
  std::string ca_file = std::string();           // "self-signed" only
  std::string data_dir = std::string();
  std::string version = std::string();
  int64_t started_at_ms = 0;
};

// One of the bus's signing keys as operators and institutions see it (no private key).
struct BusKeyInfo {
  std::string key_id = std::string();      // crypto::KeyId
  std::string public_key = std::string();  // base64 SPKI
  std::string curve = std::string();
  std::string status = std::string();  // crypto::KeyStatusName: staged, current, overlap, retired
  int64_t created_at_ms = 0;
  std::optional<int64_t> valid_from_ms = std::nullopt;  // signs from (unset: staged, no time)
  std::optional<int64_t> not_after_ms = std::nullopt;   // published until (unset: no end set)
  // The ring no longer holds its private part (esb-key erase-retired): it cannot sign again.
  bool private_key_erased = false;
};

// The keys of `ring` at `now_ms`: the current one, then the staged one, then those in their
// overlap, newest first; with `all`, the retired ones after them.
std::vector<BusKeyInfo> DescribeKeys(const crypto::KeyRing& ring, int64_t now_ms, bool all);

struct BusDescription {
  BusInfo info = BusInfo();                // file paths blank for an institution-admin
  std::string public_key = std::string();  // the bus key, base64 SPKI ("" when unknown)
  std::string curve = std::string();
  std::vector<BusKeyInfo> keys = {};  // current, staged, overlap (docs/key-rotation.md)
  std::vector<crypto::CertificateInfo> certificates = {};  // the server's chain, leaf first
  std::string certificate_problem = std::string();         // why `certificates` is empty
  std::string ca_pem = std::string();  // the CA clients trust (self-signed), to hand out
  int64_t now_ms = 0;
};

}  // namespace govesb::admin
