#pragma once

// Private to the crypto module: owning handles for the OpenSSL objects it uses. Not part of
// the module's contract; other modules must not include it.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace govesb::crypto::internal {

template <auto kFree>
struct FreeWith {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, FreeWith<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, FreeWith<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, FreeWith<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, FreeWith<BIO_free>>;
// BN_clear_free: the bignums we own are often private scalars.
using BignumPtr = std::unique_ptr<BIGNUM, FreeWith<BN_clear_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, FreeWith<ECDSA_SIG_free>>;
using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, FreeWith<PKCS8_PRIV_KEY_INFO_free>>;

// Memory that OpenSSL allocated for us with OPENSSL_malloc (a macro, hence no FreeWith).
struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
template <typename T>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree>;

// OpenSSL reports failures on a per-thread error queue. Our callers get a Status or a bool
// instead, so every entry point that may fail inside OpenSSL clears the queue on the way out;
// otherwise a stale error would surface in an unrelated later call on the same thread (TLS).
class ClearOpenSslErrorsOnExit {
 public:
  ClearOpenSslErrorsOnExit() = default;
  ClearOpenSslErrorsOnExit(const ClearOpenSslErrorsOnExit&) = delete;
  ClearOpenSslErrorsOnExit& operator=(const ClearOpenSslErrorsOnExit&) = delete;
  ~ClearOpenSslErrorsOnExit() { ERR_clear_error(); }
};

}  // namespace govesb::crypto::internal
