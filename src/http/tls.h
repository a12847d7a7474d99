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
//   server.pem      the server certificate, signed by ca.pem, SAN localhost/127.0.0.1/::1 and
//                   the bus's names (--tls-name, or the machine's when listening on all)
//   server-key.pem  its private key (0600)
struct TlsFiles {
  std::string ca_cert;
  std::string cert;
  std::string key;
};

struct SelfSignedTls {
  TlsFiles files;
  bool issued = false;    // server.pem was written now
  bool reissued = false;  // ... replacing one that did not name every one of `extra_names`
  bool new_ca = false;    // ca.pem was made now (clients must be given the new one)
};

// Creates the files above in `dir`. `extra_names` are DNS names or IP addresses the server
// certificate names in its subjectAltName besides localhost, 127.0.0.1 and ::1. An existing
// server.pem that names all of them is kept; one that does not is issued again, with a new
// key, by the existing CA (ca.pem stays, so clients that trust it need nothing new).
Result<SelfSignedTls> EnsureSelfSignedCertificate(const std::string& dir,
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
