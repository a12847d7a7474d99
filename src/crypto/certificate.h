#pragma once

// What an operator needs to know about a TLS certificate without running openssl by hand: who
// it names, who signed it, when it expires, which names and addresses it covers.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace govesb::crypto {

struct CertificateInfo {
  std::string subject = std::string();  // one line, RFC 2253 ("CN=bus.example,O=...")
  std::string issuer = std::string();
  std::string serial = std::string();  // hexadecimal
  int64_t not_before_ms = 0;           // validity, milliseconds since 1970 (UTC)
  int64_t not_after_ms = 0;
  std::vector<std::string> names = {};             // subjectAltName DNS names and IP addresses
  std::string key = std::string();                 // "EC prime256v1", "RSA 2048" ...
  std::string sha256_fingerprint = std::string();  // of the DER, hexadecimal, colon-separated
  bool self_signed = false;                        // issuer == subject and its own key verifies it
  bool is_ca = false;                              // basicConstraints CA:TRUE
};

// Every certificate of a PEM text (a chain: the first is the leaf), in order. An empty text,
// or one with no certificate, is kInvalidArgument; so is a PEM block that does not parse.
Result<std::vector<CertificateInfo>> DescribeCertificates(std::string_view pem);

// The same for a file (kNotFound when it cannot be read).
Result<std::vector<CertificateInfo>> DescribeCertificateFile(const std::string& path);

}  // namespace govesb::crypto
