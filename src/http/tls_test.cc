// The server's TLS policy (MakeServerTlsContext), checked the way a scanner would: OpenSSL
// client contexts limited to one protocol version or cipher suite each try a handshake with
// it, in memory (a BIO pair), for the generated ECDSA certificate and for an RSA one.
#include "http/tls.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace govesb::http {
namespace {

namespace fs = std::filesystem;

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

struct Outcome {
  bool ok = false;
  std::string version;
  std::string cipher;
};

// Runs a handshake between a server and a client context over an in-memory BIO pair.
Outcome Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
  SslPtr server(SSL_new(server_ctx));
  SslPtr client(SSL_new(client_ctx));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  auto blocked = [](SSL* ssl, int rc) {
    int e = SSL_get_error(ssl, rc);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  };
  Outcome out;
  for (int round = 0; round < 20; ++round) {
    int rc = SSL_do_handshake(client.get());
    int rs = SSL_do_handshake(server.get());
    if (rc == 1 && rs == 1) {
      out.ok = true;
      out.version = SSL_get_version(client.get());
      out.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(client.get()));
      break;
    }
    if ((rc != 1 && !blocked(client.get(), rc)) || (rs != 1 && !blocked(server.get(), rs))) {
      break;
    }
  }
  ERR_clear_error();
  return out;
}

// A client limited to one protocol version and, for TLS 1.2 and below, the given suites.
SslCtxPtr Client(int version, const char* tls12_ciphers = nullptr) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  // Security level 0 so that the client itself would offer what the server must refuse.
  std::string list = std::string(tls12_ciphers ? tls12_ciphers : "ALL") + ":@SECLEVEL=0";
  EXPECT_EQ(SSL_CTX_set_cipher_list(ctx.get(), list.c_str()), 1) << list;
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

fs::path TempDir(const std::string& name) {
  return fs::temp_directory_path() /
         ("govesb-tls-" + name + "-" + std::to_string(::getpid()) + "-" +
          std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
}

// A self-signed RSA certificate, as an operator's --tls-cert might be.
void WriteRsaCertificate(const fs::path& cert_file, const fs::path& key_file) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  std::FILE* f = std::fopen(cert_file.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen(key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class TlsPolicyTest : public ::testing::Test {
 protected:
  void TearDown() override { fs::remove_all(dir_); }
  SSL_CTX* EcdsaServer() {
    dir_ = TempDir("ecdsa");
    auto files = EnsureSelfSignedCertificate(dir_.string(), {});
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    auto ctx = MakeServerTlsContext(files->files.cert, files->files.key);
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    server_ = *ctx;
    return server_->native_handle();
  }
  SSL_CTX* RsaServer() {
    dir_ = TempDir("rsa");
    fs::create_directories(dir_);
    WriteRsaCertificate(dir_ / "cert.pem", dir_ / "key.pem");
    auto ctx = MakeServerTlsContext((dir_ / "cert.pem").string(), (dir_ / "key.pem").string());
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    server_ = *ctx;
    return server_->native_handle();
  }

  fs::path dir_;
  std::shared_ptr<boost::asio::ssl::context> server_;
};

TEST_F(TlsPolicyTest, GeneratedEcdsaCertificateOffersOnlyEcdheAeadSuites) {
  SSL_CTX* server = EcdsaServer();
  // Accepted: TLS 1.3, and TLS 1.2 with ECDHE and an AEAD cipher.
  auto tls13 = Handshake(server, Client(TLS1_3_VERSION).get());
  EXPECT_TRUE(tls13.ok);
  EXPECT_EQ(tls13.version, "TLSv1.3");
  for (const char* suite : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                            "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    auto r = Handshake(server, Client(TLS1_2_VERSION, suite).get());
    EXPECT_TRUE(r.ok) << suite;
    EXPECT_EQ(r.cipher, suite);
  }
  // Refused: CBC suites with TLS 1.2 (LUCKY13), and anything below TLS 1.2.
  for (const char* suite : {"ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384",
                            "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"}) {
    EXPECT_FALSE(Handshake(server, Client(TLS1_2_VERSION, suite).get()).ok) << suite;
  }
  EXPECT_FALSE(Handshake(server, Client(TLS1_1_VERSION).get()).ok);
  EXPECT_FALSE(Handshake(server, Client(TLS1_VERSION).get()).ok);
}

TEST_F(TlsPolicyTest, RsaCertificateRefusesStaticRsaKeyExchangeAndCbc) {
  SSL_CTX* server = RsaServer();
  EXPECT_TRUE(Handshake(server, Client(TLS1_3_VERSION).get()).ok);
  for (const char* suite : {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                            "ECDHE-RSA-CHACHA20-POLY1305"}) {
    auto r = Handshake(server, Client(TLS1_2_VERSION, suite).get());
    EXPECT_TRUE(r.ok) << suite;
    EXPECT_EQ(r.cipher, suite);
  }
  // Static RSA key exchange (no forward secrecy), even with an AEAD cipher; CBC; finite-field
  // DHE.
  for (const char* suite :
       {"AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES128-SHA256",
        "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES128-GCM-SHA256"}) {
    EXPECT_FALSE(Handshake(server, Client(TLS1_2_VERSION, suite).get()).ok) << suite;
  }
  EXPECT_FALSE(Handshake(server, Client(TLS1_1_VERSION).get()).ok);
}

TEST_F(TlsPolicyTest, NoCompressionNoRenegotiationClientPreference) {
  SSL_CTX* server = EcdsaServer();
  uint64_t options = SSL_CTX_get_options(server);
  EXPECT_NE(options & SSL_OP_NO_COMPRESSION, 0u);
  EXPECT_NE(options & SSL_OP_NO_RENEGOTIATION, 0u);
  EXPECT_EQ(options & SSL_OP_CIPHER_SERVER_PREFERENCE, 0u);
  EXPECT_NE(SSL_CTX_get_mode(server) & SSL_MODE_RELEASE_BUFFERS, 0u);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server), TLS1_2_VERSION);
}

std::string FileText(const fs::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) return "";
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

bool CertNames(const fs::path& pem, const std::string& host, const std::string& ip) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(pem.c_str(), "r"), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return false;
  return X509_check_host(cert.get(), host.data(), host.size(), 0, nullptr) == 1 &&
         X509_check_ip_asc(cert.get(), ip.c_str(), 0) == 1;
}

// --tls-name on a data directory whose certificate was made for other names: the server
// certificate is issued again by the same CA, so clients that trust ca.pem go on trusting it.
TEST(SelfSignedCertificate, IsIssuedAgainByTheSameCaWhenANameIsMissing) {
  const fs::path dir = TempDir("reissue");
  auto first = EnsureSelfSignedCertificate(dir.string(), {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->issued);
  EXPECT_TRUE(first->new_ca);
  EXPECT_FALSE(first->reissued);
  EXPECT_FALSE(CertNames(dir / "server.pem", "bus.example.go.tz", "10.20.30.40"));
  const std::string ca = FileText(dir / "ca.pem");
  const std::string server = FileText(dir / "server.pem");

  auto same = EnsureSelfSignedCertificate(dir.string(), {"localhost", "127.0.0.1"});
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->issued);  // named already: kept as it is
  EXPECT_EQ(FileText(dir / "server.pem"), server);

  auto more = EnsureSelfSignedCertificate(dir.string(), {"bus.example.go.tz", "10.20.30.40"});
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_TRUE(more->issued);
  EXPECT_TRUE(more->reissued);
  EXPECT_FALSE(more->new_ca);
  EXPECT_EQ(FileText(dir / "ca.pem"), ca);
  EXPECT_NE(FileText(dir / "server.pem"), server);
  EXPECT_TRUE(CertNames(dir / "server.pem", "bus.example.go.tz", "10.20.30.40"));
  EXPECT_TRUE(CertNames(dir / "server.pem", "localhost", "127.0.0.1"));

  // The new certificate verifies against the CA clients already hold.
  auto server_ctx = MakeServerTlsContext(more->files.cert, more->files.key);
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status().ToString();
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  ASSERT_EQ(X509_STORE_load_file(store.get(), (dir / "ca.pem").c_str()), 1);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file((dir / "server.pem").c_str(), "r"),
                                                BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> leaf(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> vctx(X509_STORE_CTX_new(),
                                                                       X509_STORE_CTX_free);
  ASSERT_EQ(X509_STORE_CTX_init(vctx.get(), store.get(), leaf.get(), nullptr), 1);
  EXPECT_EQ(X509_verify_cert(vctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx.get()));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace govesb::http
