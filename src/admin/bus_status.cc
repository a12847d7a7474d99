// AdminService::DescribeBus: the bus key, the TLS certificate and the addresses, read when
// asked (a renewed certificate shows at once).
#include <fstream>
#include <sstream>

#include "admin/policy.h"
#include "admin/service.h"

namespace govesb::admin {

Result<BusDescription> AdminService::DescribeBus(const Actor& actor) {
  BusDescription d;
  d.info = bus_;
  d.now_ms = Now();
  if (bus_key_) {
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
