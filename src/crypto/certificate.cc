#include "crypto/certificate.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "crypto/openssl_handles.h"

namespace govesb::crypto {
namespace {

using X509Ptr = std::unique_ptr<X509, internal::FreeWith<X509_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, internal::FreeWith<GENERAL_NAMES_free>>;
using BasicPtr = std::unique_ptr<BASIC_CONSTRAINTS, internal::FreeWith<BASIC_CONSTRAINTS_free>>;

std::string NameLine(const X509_NAME* name) {
  internal::BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

int64_t Millis(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string Hex(const unsigned char* p, size_t n, bool colons) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (colons && i > 0) out += ':';
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

std::string Serial(const X509* cert) {
  internal::BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return "";
  internal::OpenSslPtr<char> hex(BN_bn2hex(bn.get()));
  return hex ? std::string(hex.get()) : "";
}

std::string KeyLine(const X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) return "";
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len) == 1) {
      return "EC " + std::string(group, len);
    }
    return "EC";
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return std::string(type != nullptr ? type : "key") + " " + std::to_string(EVP_PKEY_get_bits(key));
}

std::vector<std::string> AltNames(const X509* cert) {
  std::vector<std::string> names;
  NamesPtr alt(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!alt) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(alt.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(alt.get(), i);
    if (n->type == GEN_DNS) {
      const ASN1_STRING* s = n->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = n->d.iPAddress;
      const unsigned char* p = ASN1_STRING_get0_data(ip);
      int len = ASN1_STRING_length(ip);
      char text[64] = {0};
      if (len == 4) {
        std::snprintf(text, sizeof text, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
        names.emplace_back(text);
      } else if (len == 16) {
        std::string v6;
        for (int k = 0; k < 16; k += 2) {
          if (k > 0) v6 += ':';
          std::snprintf(text, sizeof text, "%x", (p[k] << 8) | p[k + 1]);
          v6 += text;
        }
        names.push_back(v6);
      }
    }
  }
  return names;
}

CertificateInfo Describe(X509* cert) {
  CertificateInfo info;
  info.subject = NameLine(X509_get_subject_name(cert));
  info.issuer = NameLine(X509_get_issuer_name(cert));
  info.serial = Serial(cert);
  info.not_before_ms = Millis(X509_get0_notBefore(cert));
  info.not_after_ms = Millis(X509_get0_notAfter(cert));
  info.names = AltNames(cert);
  info.key = KeyLine(cert);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &digest_len) == 1) {
    info.sha256_fingerprint = Hex(digest, digest_len, true);
  }
  info.self_signed =
      X509_check_issued(cert, cert) == X509_V_OK && X509_verify(cert, X509_get0_pubkey(cert)) == 1;
  BasicPtr basic(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_basic_constraints, nullptr, nullptr)));
  info.is_ca = basic && basic->ca != 0;
  return info;
}

}  // namespace

Result<std::vector<CertificateInfo>> DescribeCertificates(std::string_view pem) {
  if (pem.size() > 1024 * 1024) return InvalidArgument("certificate text larger than 1 MiB");
  internal::BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!in) return Internal("out of memory reading certificates");
  std::vector<CertificateInfo> out;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      // The end of the text is "no start line"; anything else is a broken block.
      if (ERR_GET_REASON(err) == PEM_R_NO_START_LINE || err == 0) break;
      return InvalidArgument("certificate " + std::to_string(out.size() + 1) +
                             " does not parse as PEM X.509");
    }
    out.push_back(Describe(cert.get()));
  }
  if (out.empty()) return InvalidArgument("no PEM certificate found");
  return out;
}

Result<std::vector<CertificateInfo>> DescribeCertificateFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read the certificate file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto described = DescribeCertificates(text.str());
  if (!described.ok()) {
    return Status(described.status().code(), path + ": " + described.status().message());
  }
  return described;
}

}  // namespace govesb::crypto
