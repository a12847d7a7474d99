// AdminService::DescribeBus: the bus key, the TLS certificate and the addresses, read when
// asked (a renewed certificate shows at once).
#include <fstream>
#include <sstream>

#include "admin/policy.h"
#include "admin/service.h"

namespace govesb::admin {

std::vector<BusKeyInfo> DescribeKeys(const crypto::KeyRing& ring, int64_t now_ms, bool all) {
  auto info = [&](const crypto::RingKey& k) {
    return BusKeyInfo{.key_id = k.id(),
                      .public_key = k.public_key().SpkiBase64(),
                      .curve = std::string(crypto::CurveName(k.public_key().curve())),
                      .status = std::string(crypto::KeyStatusName(ring.StatusOf(k, now_ms))),
                      .created_at_ms = k.created_at_ms,
                      .valid_from_ms = k.valid_from_ms,
                      .not_after_ms = k.not_after_ms,
                      .private_key_erased = !k.has_private_key()};
  };
  std::vector<BusKeyInfo> out;
  for (crypto::KeyStatus wanted : {crypto::KeyStatus::kCurrent, crypto::KeyStatus::kStaged,
                                   crypto::KeyStatus::kOverlap, crypto::KeyStatus::kRetired}) {
    if (wanted == crypto::KeyStatus::kRetired && !all) break;
    for (auto it = ring.keys().rbegin(); it != ring.keys().rend(); ++it) {
      if (ring.StatusOf(*it, now_ms) == wanted) out.push_back(info(*it));
    }
  }
  return out;
}

std::optional<crypto::KeySet> AdminService::BusKeys() const {
  if (bus_key_ring_) {
    std::shared_ptr<const crypto::KeyRing> ring = bus_key_ring_();
    if (ring != nullptr) return ring->VerifyingKeys(Now());
  }
  if (bus_key_) return crypto::KeySet(*bus_key_);
  return std::nullopt;
}

Result<BusDescription> AdminService::DescribeBus(const Actor& actor) {
  BusDescription d;
  d.info = bus_;
  d.now_ms = Now();
  std::shared_ptr<const crypto::KeyRing> ring = bus_key_ring_ ? bus_key_ring_() : nullptr;
  if (ring != nullptr) {
    d.keys = DescribeKeys(*ring, d.now_ms, false);
    const crypto::PublicKey& current = ring->Signing(d.now_ms).public_key();
    d.public_key = current.SpkiBase64();
    d.curve = std::string(crypto::CurveName(current.curve()));
  } else if (bus_key_) {
    d.public_key = bus_key_->SpkiBase64();
    d.curve = std::string(crypto::CurveName(bus_key_->curve()));
  }
  if (bus_.tls == "off") {
    d.certificate_problem = "TLS is off (--plain-http): systems connect without encryption";
  } else if (bus_.certificate_file.empty()) {
    d.certificate_problem = "the bus did not say which certificate it serves";
  } else {
    auto chain = crypto::DescribeCertificateFile(bus_.certificate_file);
    if (chain.ok()) {
      d.certificates = std::move(*chain);
    } else {
      d.certificate_problem = chain.status().message();
    }
  }
  if (!bus_.ca_file.empty()) {
    std::ifstream in(bus_.ca_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    d.ca_pem = text.str();
  }
  // Where things are on the bus's machine is for the operator and the auditor.
  if (actor.role == Role::kInstitutionAdmin || actor.applicant) {
    d.info.certificate_file.clear();
    d.info.ca_file.clear();
    d.info.data_dir.clear();
    if (!d.certificate_problem.empty() && bus_.tls != "off") {
      d.certificate_problem = "the bus's certificate could not be read";
    }
  }
  return d;
}

}  // namespace govesb::admin
