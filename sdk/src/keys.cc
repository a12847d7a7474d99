#include "govesb/keys.h"

#include <memory>
#include <utility>

#include "internal.h"

namespace govesb::sdk {

using internal::FromStatus;

namespace {

crypto::Curve ToInternal(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1:
      return crypto::Curve::kSecp256k1;
    case Curve::kP256:
      return crypto::Curve::kP256;
    case Curve::kP521:
      return crypto::Curve::kP521;
  }
  return crypto::Curve::kSecp256k1;
}

Curve FromInternal(crypto::Curve curve) {
  switch (curve) {
    case crypto::Curve::kSecp256k1:
      return Curve::kSecp256k1;
    case crypto::Curve::kP256:
      return Curve::kP256;
    case crypto::Curve::kP521:
      return Curve::kP521;
  }
  return Curve::kSecp256k1;
}

}  // namespace

const char* CurveName(Curve curve) {
  // crypto::CurveName returns views of string literals: null-terminated.
  return crypto::CurveName(ToInternal(curve)).data();
}

Result<Curve> ParseCurve(std::string_view name) {
  auto curve = crypto::ParseCurveName(name);
  if (!curve.ok()) return FromStatus(ErrorKind::kInvalidArgument, curve.status());
  return FromInternal(*curve);
}

PublicKey::PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<PublicKey> PublicKey::Parse(std::string_view text) {
  auto key = crypto::PublicKey::FromText(text);
  if (!key.ok()) return FromStatus(ErrorKind::kInvalidArgument, key.status());
  return PublicKey(std::make_shared<const Impl>(Impl{std::move(key).value()}));
}

Curve PublicKey::curve() const { return FromInternal(impl_->key.curve()); }

std::string PublicKey::ToBase64() const { return impl_->key.SpkiBase64(); }

bool PublicKey::Verify(std::string_view message, std::string_view signature_base64) const {
  return impl_->key.VerifyBase64(message, signature_base64);
}

PrivateKey::PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<PrivateKey> PrivateKey::Generate(Curve curve) {
  auto key = crypto::PrivateKey::Generate(ToInternal(curve));
  if (!key.ok()) return FromStatus(ErrorKind::kInvalidArgument, key.status());
  return PrivateKey(std::make_shared<const Impl>(Impl{std::move(key).value()}));
}

Result<PrivateKey> PrivateKey::Parse(std::string_view text) {
  auto key = crypto::PrivateKey::FromText(text);
  if (!key.ok()) return FromStatus(ErrorKind::kInvalidArgument, key.status());
  return PrivateKey(std::make_shared<const Impl>(Impl{std::move(key).value()}));
}

Curve PrivateKey::curve() const { return FromInternal(impl_->key.curve()); }

std::string PrivateKey::ToBase64() const { return impl_->key.Pkcs8Base64(); }

PublicKey PrivateKey::public_key() const {
  return PublicKey(
      std::make_shared<const PublicKey::Impl>(PublicKey::Impl{impl_->key.public_key()}));
}

std::string PrivateKey::Sign(std::string_view message) const {
  return impl_->key.SignBase64(message);
}

}  // namespace govesb::sdk
