#include "crypto/payload_encryption.h"
#include "govesb/keys.h"
#include "internal.h"

namespace govesb::sdk {

Result<std::string> Encrypt(std::string_view plaintext, const PublicKey& recipient) {
  auto encrypted = crypto::EncryptPayload(plaintext, recipient.impl().key);
  if (!encrypted.ok()) return internal::FromStatus(ErrorKind::kInvalidArgument, encrypted.status());
  return std::move(encrypted).value();
}

Result<std::string> Decrypt(std::string_view encrypted_json, const PrivateKey& recipient) {
  auto decrypted = crypto::DecryptPayload(encrypted_json, recipient.impl().key);
  if (!decrypted.ok()) {
    // A tag that does not verify means a wrong key or tampered data: a verification failure.
    ErrorKind kind = decrypted.status().code() == StatusCode::kBadSignature
                         ? ErrorKind::kVerification
                         : ErrorKind::kInvalidArgument;
    return internal::FromStatus(kind, decrypted.status());
  }
  return std::move(decrypted).value();
}

}  // namespace govesb::sdk
