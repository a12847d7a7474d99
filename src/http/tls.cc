#include "http/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace govesb::http {

const char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

namespace {

namespace fs = std::filesystem;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

Result<X509Ptr> MakeCert(EVP_PKEY* subject_key, const std::string& common_name, X509* issuer,
                         EVP_PKEY* issuer_key, bool is_ca, const std::string& san) {
  X509Ptr cert(X509_new());
  if (!cert) return Internal("X509_new failed");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), is_ca ? 10L * 365 * 86400 : 2L * 365 * 86400);
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("GovESB"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* issuer_cert = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert));
  bool ok = true;
  if (is_ca) {
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  } else {
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_key_usage,
                            "critical,digitalSignature,keyAgreement");
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth");
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_subject_alt_name, san);
    ok = ok && AddExtension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid");
  }
  if (!ok) return Internal("adding certificate extensions failed: " + OpenSslError());
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return Internal("signing the certificate failed: " + OpenSslError());
  }
  return cert;
}

Status WritePem(const fs::path& path, bool secret, const std::function<int(BIO*)>& write) {
  fs::path tmp = path;
  tmp += ".tmp";
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return Internal("encoding " + path.string() + " failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) return Internal("cannot write " + tmp.string());
    if (secret) ::chmod(tmp.c_str(), 0600);
    bool ok = std::fwrite(data, 1, static_cast<size_t>(len), f) == static_cast<size_t>(len);
    ok = (std::fflush(f) == 0) && ok;
    ok = (::fsync(fileno(f)) == 0) && ok;
    std::fclose(f);
    if (!ok) return Internal("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

namespace {

bool IsIpAddress(const std::string& name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  return !ec;
}

// Whether the certificate in `pem_file` (its first one) names every one of `names`.
bool CoversNames(const std::string& pem_file, const std::vector<std::string>& names) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(pem_file.c_str(), "r"));
  if (!bio) return false;
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return false;
  for (const std::string& name : names) {
    if (name.empty()) continue;
    const int found = IsIpAddress(name) ? X509_check_ip_asc(cert.get(), name.c_str(), 0)
                                        : X509_check_host(cert.get(), name.data(), name.size(),
                                                          X509_CHECK_FLAG_NO_WILDCARDS, nullptr);
    if (found != 1) return false;
  }
  return true;
}

template <typename T, typename Read>
Result<T> ReadPem(const fs::path& path, Read read) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return NotFound("cannot read " + path.string());
  T value(read(bio.get()));
  if (!value) return FailedPrecondition(path.string() + " is not a readable PEM file");
  return value;
}

}  // namespace

Result<SelfSignedTls> EnsureSelfSignedCertificate(const std::string& dir,
                                                  const std::vector<std::string>& extra_names) {
  fs::path d(dir);
  SelfSignedTls out;
  out.files = TlsFiles{(d / "ca.pem").string(), (d / "server.pem").string(),
                       (d / "server-key.pem").string()};
  TlsFiles& files = out.files;
  std::error_code ec;
  const bool have_server = fs::exists(files.cert, ec) && fs::exists(files.key, ec);
  if (have_server && CoversNames(files.cert, extra_names)) return out;
  fs::create_directories(d, ec);
  if (ec) return Internal("cannot create " + dir + ": " + ec.message());

  // The CA is kept when there is one (clients that trust ca.pem go on trusting the bus); only
  // the server certificate is issued again, for the names asked for now.
  PkeyPtr ca_key;
  X509Ptr ca;
  const fs::path ca_key_file = d / "ca-key.pem";
  if (fs::exists(files.ca_cert, ec) && fs::exists(ca_key_file, ec)) {
    GOVESB_ASSIGN_OR_RETURN(ca_key, ReadPem<PkeyPtr>(ca_key_file, [](BIO* b) {
                              return PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
                            }));
    GOVESB_ASSIGN_OR_RETURN(ca, ReadPem<X509Ptr>(files.ca_cert, [](BIO* b) {
                              return PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
                            }));
  } else {
    ca_key.reset(EVP_EC_gen("P-256"));
    if (!ca_key) return Internal("generating the TLS CA key failed: " + OpenSslError());
    GOVESB_ASSIGN_OR_RETURN(
        ca, MakeCert(ca_key.get(), "GovESB local CA", nullptr, ca_key.get(), true, ""));
    out.new_ca = true;
  }
  PkeyPtr server_key(EVP_EC_gen("P-256"));
  if (!server_key) return Internal("generating the TLS server key failed: " + OpenSslError());
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const auto& name : extra_names) {
    if (name.empty() || name == "localhost" || name == "127.0.0.1" || name == "::1") continue;
    san += (IsIpAddress(name) ? ",IP:" : ",DNS:") + name;
  }
  GOVESB_ASSIGN_OR_RETURN(
      X509Ptr server, MakeCert(server_key.get(), "GovESB bus", ca.get(), ca_key.get(), false, san));

  if (out.new_ca) {
    GOVESB_RETURN_IF_ERROR(WritePem(ca_key_file, true, [&](BIO* b) {
      return PEM_write_bio_PrivateKey(b, ca_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    }));
    GOVESB_RETURN_IF_ERROR(
        WritePem(files.ca_cert, false, [&](BIO* b) { return PEM_write_bio_X509(b, ca.get()); }));
  }
  GOVESB_RETURN_IF_ERROR(WritePem(files.key, true, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  // The chain: server certificate then the CA, so clients that trust ca.pem verify it.
  GOVESB_RETURN_IF_ERROR(WritePem(files.cert, false, [&](BIO* b) {
    return PEM_write_bio_X509(b, server.get()) == 1 && PEM_write_bio_X509(b, ca.get()) == 1 ? 1 : 0;
  }));
  out.issued = true;
  out.reissued = have_server;
  return out;
}

Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_file, const std::string& key_file) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  // Mozilla's "intermediate" profile: TLS 1.2 with ECDHE and AEAD suites only (no CBC, so no
  // LUCKY13; no static RSA key exchange, so forward secrecy), TLS 1.3 with OpenSSL's default
  // suites (all AEAD), no compression (CRIME), no renegotiation, and the client's preference
  // among these suites (all are strong; it lets clients without AES hardware pick ChaCha20).
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(native, "X25519:prime256v1:secp384r1") != 1) {
    return Internal("cannot set the TLS policy: " + OpenSslError());
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE);
  SSL_CTX_clear_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection gives its read and write buffers back (about 34 KiB).
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) return InvalidArgument("cannot load TLS certificate " + cert_file + ": " + ec.message());
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return InvalidArgument("cannot load TLS key " + key_file + ": " + ec.message());
  return ctx;
}

Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const std::string& extra_ca_file) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_default_verify_paths(ec);
  if (!extra_ca_file.empty()) {
    ctx->load_verify_file(extra_ca_file, ec);
    if (ec) return InvalidArgument("cannot load CA file " + extra_ca_file + ": " + ec.message());
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  return ctx;
}

}  // namespace govesb::http
