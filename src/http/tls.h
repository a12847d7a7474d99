#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace boost::asio::ssl {
class context;
}

namespace govesb::http {

// Where a self-signed setup lives inside the data directory's tls/ folder:
//   ca.pem          the certificate authority clients should trust (give this to clients)
//   ca-key.pem      its private key (0600)
//   server.pem      the server certificate, signed by ca.pem, SAN localhost/127.0.0.1/::1/host
//   server-key.pem  its private key (0600)
struct TlsFiles {
  std::string ca_cert;
  std::string cert;
  std::string key;
};

// Creates the files above in `dir` unless server.pem already exists. `extra_names` are DNS
// names or IP addresses added to the server certificate's subjectAltName.
Result<TlsFiles> EnsureSelfSignedCertificate(const std::string& dir,
                                             const std::vector<std::string>& extra_names);

// The TLS 1.2 cipher suites a server offers (OpenSSL names): ECDHE key exchange with AEAD
// ciphers only, Mozilla's "intermediate" profile. TLS 1.3 keeps OpenSSL's default suites.
extern const char kTls12Ciphers[];

// A server context for the given certificate chain and key (ECDSA or RSA): TLS 1.2 with
// kTls12Ciphers and TLS 1.3, no compression, no renegotiation, buffers released when idle.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_file, const std::string& key_file);

// A client context verifying peers against the system trust store, plus `extra_ca_file`
// when not empty.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const std::string& extra_ca_file);

}  // namespace govesb::http
