// End to end: the bus reloads its TLS certificate (what SIGHUP does: BusServer::ReloadTls)
// without dropping connections. Real handshakes with OpenSSL: one before the reload sees the
// old certificate and keeps its keep-alive connection working after it; one after sees the new
// certificate; a bad file is refused and the certificate loaded before goes on serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "base/temp_dir.h"
#include "http/tls.h"
#include "server/bus_server.h"

namespace govesb {
namespace {

namespace fs = std::filesystem;

// One TLS connection to 127.0.0.1:port, kept open; requests one after the other on it.
class TlsConnection {
 public:
  explicit TlsConnection(uint16_t port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    GOVESB_CHECK(ctx_ != nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    GOVESB_CHECK(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~TlsConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }

  bool ok() const { return ok_; }
  // The SHA-256 of the certificate the server showed, hex.
  std::string PeerFingerprint() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return "";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(cert, EVP_sha256(), md, &n);
    X509_free(cert);
    std::string hex;
    char b[3];
    for (unsigned int i = 0; i < n; ++i) {
      std::snprintf(b, sizeof b, "%02x", md[i]);
      hex += b;
    }
    return hex;
  }
  // GET `path` on this connection (keep-alive); the status line, or "" when the connection
  // failed.
  std::string Get(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) return "";
    std::string in;
    char buffer[4096];
    // Headers, then Content-Length bytes of body.
    for (;;) {
      const size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t at = in.find("Content-Length: ");
        const size_t length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
        if (in.size() >= end + 4 + length) break;
      }
      const int n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) return "";
      in.append(buffer, static_cast<size_t>(n));
    }
    return in.substr(0, in.find("\r\n"));
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false;
};

// The SHA-256 of the first certificate in a PEM file, hex.
std::string FileFingerprint(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  GOVESB_CHECK(f != nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  GOVESB_CHECK(cert != nullptr);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  X509_free(cert);
  std::string hex;
  char b[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

TEST(TlsReloadTest, NewHandshakesGetTheNewCertificateAndOpenConnectionsGoOn) {
  TempDir tmp;
  // Two certificates (each issued by a CA of its own), as an operator's files.
  auto first = http::EnsureSelfSignedCertificate(tmp.path() + "/one", {});
  auto second = http::EnsureSelfSignedCertificate(tmp.path() + "/two", {});
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string cert = tmp.path() + "/server.pem";
  const std::string key = tmp.path() + "/server-key.pem";
  fs::copy_file(first->files.cert, cert);
  fs::copy_file(first->files.key, key);
  const std::string old_print = FileFingerprint(first->files.cert);
  const std::string new_print = FileFingerprint(second->files.cert);
  ASSERT_NE(old_print, new_print);

  server::ServeOptions o;
  o.data_dir = tmp.path() + "/data";
  o.listen = "127.0.0.1:0";
  o.tls_cert = cert;
  o.tls_key = key;
  o.io_threads = 2;
  o.admin_listen = "127.0.0.1:0";
  server::BusServer bus(o);
  ASSERT_TRUE(bus.Start().ok());

  TlsConnection before(bus.port());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.PeerFingerprint(), old_print);
  EXPECT_EQ(before.Get("/healthz"), "HTTP/1.1 200 OK");

  // The operator puts the renewed files in place and reloads.
  fs::copy_file(second->files.cert, cert, fs::copy_options::overwrite_existing);
  fs::copy_file(second->files.key, key, fs::copy_options::overwrite_existing);
  ASSERT_TRUE(bus.ReloadTls().ok());

  TlsConnection after(bus.port());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.PeerFingerprint(), new_print);
  EXPECT_EQ(after.Get("/healthz"), "HTTP/1.1 200 OK");
  // The connection opened before goes on, with the certificate it had.
  EXPECT_EQ(before.Get("/healthz"), "HTTP/1.1 200 OK");
  EXPECT_EQ(before.Get("/esb-key"), "HTTP/1.1 200 OK");
  // The admin listener serves the same certificate, reloaded too.
  const uint16_t admin_port = static_cast<uint16_t>(
      std::stoi(bus.admin_base_url().substr(bus.admin_base_url().rfind(':') + 1)));
  TlsConnection admin(admin_port);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin.PeerFingerprint(), new_print);

  // A broken key (half a file), and a key of another certificate: refused, the new
  // certificate goes on serving.
  { std::ofstream(key, std::ios::trunc) << "-----BEGIN PRIVATE KEY-----\nMIGH\n"; }
  Status broken = bus.ReloadTls();
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(broken.message().find(key), std::string::npos) << broken.message();
  fs::copy_file(first->files.key, key, fs::copy_options::overwrite_existing);
  EXPECT_FALSE(bus.ReloadTls().ok()) << "a key that is not the certificate's";
  TlsConnection still(bus.port());
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still.PeerFingerprint(), new_print);
  EXPECT_EQ(still.Get("/healthz"), "HTTP/1.1 200 OK");
  bus.Shutdown();
}

TEST(TlsReloadTest, APlainHttpBusHasNothingToReload) {
  TempDir tmp;
  server::ServeOptions o;
  o.data_dir = tmp.path() + "/data";
  o.listen = "127.0.0.1:0";
  o.plain_http = true;
  o.io_threads = 1;
  server::BusServer bus(o);
  ASSERT_TRUE(bus.Start().ok());
  EXPECT_EQ(bus.ReloadTls().code(), StatusCode::kFailedPrecondition);
  bus.Shutdown();
}

}  // namespace
}  // namespace govesb
