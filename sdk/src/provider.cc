#include <string>
#include <utility>

#include "govesb/client.h"
#include "internal.h"
#include "wire/envelope.h"
#include "wire/json.h"

namespace govesb::sdk {

using internal::MakeError;

namespace {

// The reply's esbBody: the caller's JSON compacted, or, when it is not JSON, the text as a JSON
// string (a reply must stay a valid envelope whatever the provider's code passes).
std::string ReplyBody(std::string_view json_body) {
  if (json_body.find_first_not_of(" \t\r\n") == std::string_view::npos) return "{}";
  std::string out;
  if (wire::WriteCompact(json_body, out).ok()) return out;
  out.clear();
  wire::WriteString(json_body, out);
  return out;
}

std::string StringMember(const wire::IncomingEnvelope& envelope, std::string_view key) {
  const wire::JsonMember* m = envelope.Find(key);
  if (m == nullptr || m->type != wire::JsonType::kString) return "";
  auto decoded = wire::DecodeString(m->raw);
  return decoded.ok() ? std::move(decoded).value() : std::string();
}

}  // namespace

Result<Provider> Provider::Create(std::string_view private_key, std::string_view esb_public_key) {
  return Create(private_key, std::vector<std::string>{std::string(esb_public_key)});
}

Result<Provider> Provider::Create(std::string_view private_key,
                                  const std::vector<std::string>& esb_public_keys) {
  auto key = PrivateKey::Parse(private_key);
  if (!key.ok()) {
    return MakeError(ErrorKind::kInvalidArgument, "private_key: " + key.error().message);
  }
  if (esb_public_keys.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "esb_public_key: no bus key given");
  }
  std::vector<PublicKey> bus_keys;
  for (const std::string& text : esb_public_keys) {
    auto bus_key = PublicKey::Parse(text);
    if (!bus_key.ok()) {
      return MakeError(ErrorKind::kInvalidArgument, "esb_public_key: " + bus_key.error().message);
    }
    bus_keys.push_back(std::move(bus_key).value());
  }
  return Provider(std::move(key).value(), std::move(bus_keys));
}

Result<Delivery> Provider::Verify(std::string_view http_body) const {
  auto envelope = wire::ParseEnvelope(std::string(http_body));
  if (!envelope.ok()) {
    return MakeError(ErrorKind::kProtocol,
                     "the delivery is not a GovESB envelope: " + envelope.status().message());
  }
  bool verified = false;
  for (const PublicKey& bus_key : bus_keys_) {
    verified = verified || wire::VerifyEnvelope(*envelope, bus_key.impl().key).ok();
  }
  if (!verified) {
    return MakeError(ErrorKind::kVerification,
                     "the delivery's signature does not verify against the bus public key");
  }
  Delivery d;
  d.request_id = StringMember(*envelope, "requestId");
  if (envelope->Find("apiCode") != nullptr) {
    d.code_member = "apiCode";
  } else if (envelope->Find("pushCode") != nullptr) {
    d.code_member = "pushCode";
  } else {
    return MakeError(ErrorKind::kProtocol, "the delivery carries neither apiCode nor pushCode");
  }
  d.code = StringMember(*envelope, d.code_member);
  const wire::JsonMember* body = envelope->Find("esbBody");
  d.esb_body = body != nullptr ? std::string(body->raw) : "{}";
  return d;
}

std::string Provider::Success(std::string_view json_body) const {
  std::string data = "{\"success\":true,\"esbBody\":" + ReplyBody(json_body) + "}";
  return wire::SealEnvelope(data, key_.impl().key.SignBase64(data));
}

std::string Provider::Failure(std::string_view message, std::string_view json_body) const {
  std::string data = "{\"success\":false,\"message\":";
  wire::WriteString(message, data);
  data += ",\"esbBody\":" + ReplyBody(json_body) + "}";
  return wire::SealEnvelope(data, key_.impl().key.SignBase64(data));
}

}  // namespace govesb::sdk
