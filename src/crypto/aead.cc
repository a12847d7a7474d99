#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <memory>

#include "crypto/primitives.h"

namespace govesb::crypto {

namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status CheckSizes(std::string_view key, std::string_view iv) {
  if (key.size() != kAesKeyBytes) return InvalidArgument("an AES-256 key must be 32 bytes");
  if (iv.size() != kGcmIvBytes) return InvalidArgument("a GCM IV must be 12 bytes");
  return Status::Ok();
}

}  // namespace

Result<std::string> GcmSeal(std::string_view key, std::string_view iv, std::string_view plaintext,
                            std::string_view aad) {
  GOVESB_RETURN_IF_ERROR(CheckSizes(key, iv));
  std::string sealed(kGcmTagBytes + plaintext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), U(key), U(iv), nullptr) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() && (EVP_EncryptUpdate(ctx.get(), out + kGcmTagBytes, &len, U(plaintext),
                                                static_cast<int>(plaintext.size())) != 1 ||
                              static_cast<size_t>(len) != plaintext.size())) ||
      EVP_EncryptFinal_ex(ctx.get(), out + kGcmTagBytes + plaintext.size(), &len) != 1 ||
      len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kGcmTagBytes), out) !=
          1) {
    return Internal("AES-256-GCM encryption failed");
  }
  return sealed;
}

Result<std::string> GcmOpen(std::string_view key, std::string_view iv,
                            std::string_view tag_and_ciphertext, std::string_view aad) {
  GOVESB_RETURN_IF_ERROR(CheckSizes(key, iv));
  if (tag_and_ciphertext.size() < kGcmTagBytes) {
    return InvalidArgument("the sealed data is shorter than the 16-byte GCM tag");
  }
  const std::string_view ciphertext = tag_and_ciphertext.substr(kGcmTagBytes);
  std::string plaintext(ciphertext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), U(key), U(iv), nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kGcmTagBytes),
                          const_cast<char*>(tag_and_ciphertext.data())) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1) ||
      (!ciphertext.empty() && (EVP_DecryptUpdate(ctx.get(), out, &len, U(ciphertext),
                                                 static_cast<int>(ciphertext.size())) != 1 ||
                               static_cast<size_t>(len) != ciphertext.size()))) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Internal("AES-256-GCM decryption failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + ciphertext.size(), &len) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());  // unauthenticated: never released
    return BadSignature("does not decrypt: wrong key or tampered data");
  }
  return plaintext;
}

Result<std::string> SealWithKey(std::string_view key, std::string_view plaintext,
                                std::string_view aad) {
  std::array<uint8_t, kGcmIvBytes> iv{};
  RandomBytes(iv);
  const std::string_view iv_text(reinterpret_cast<const char*>(iv.data()), iv.size());
  GOVESB_ASSIGN_OR_RETURN(std::string sealed, GcmSeal(key, iv_text, plaintext, aad));
  return std::string(iv_text) + sealed;
}

Result<std::string> OpenWithKey(std::string_view key, std::string_view sealed,
                                std::string_view aad) {
  if (sealed.size() < kGcmIvBytes + kGcmTagBytes) {
    return InvalidArgument("the sealed data is too short to hold an IV and a GCM tag");
  }
  return GcmOpen(key, sealed.substr(0, kGcmIvBytes), sealed.substr(kGcmIvBytes), aad);
}

}  // namespace govesb::crypto
