#include "engine/stages.h"

#include "wire/json.h"

namespace govesb::engine {

namespace {

bool IsXml(std::string_view content_type) {
  return content_type.find("xml") != std::string_view::npos;
}

// A string member of data, decoded; empty when absent or not a string.
std::string StringMember(const wire::IncomingEnvelope& env, std::string_view key) {
  const wire::JsonMember* m = env.Find(key);
  if (m == nullptr || m->type != wire::JsonType::kString) return {};
  auto decoded = wire::DecodeString(m->raw);
  return decoded.ok() ? *decoded : std::string();
}

}  // namespace

Status ParseStage(ExchangeContext& x) {
  auto parsed = IsXml(x.request.content_type) ? wire::ParseXmlEnvelope(std::move(x.request.body))
                                              : wire::ParseEnvelope(std::move(x.request.body));
  if (!parsed.ok()) return InvalidArgument(parsed.status().message());
  x.envelope = std::move(parsed).value();
  return Status::Ok();
}

Status AuthenticateStage(ExchangeContext& x, const auth::TokenService& tokens,
                         std::shared_ptr<const registry::Snapshot> snapshot) {
  x.snapshot = std::move(snapshot);
  std::string token(auth::TokenFromAuthorization(x.request.authorization));
  if (token.empty()) token = StringMember(*x.envelope, "authorization");
  auto caller = tokens.Authenticate(token, *x.snapshot);
  if (!caller.ok()) return caller.status();
  x.caller = *caller;
  x.log.consumer = x.caller->client_id;
  return Status::Ok();
}

Status ClassifyStage(ExchangeContext& x) {
  const wire::IncomingEnvelope& env = *x.envelope;
  x.push_code = StringMember(env, "pushCode");
  x.api_code = StringMember(env, "apiCode");
  x.answered_request_id = StringMember(env, "requestId");
  x.log.user_id = StringMember(env, "userId");
  std::string_view path = x.request.Path();
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  bool async_path = path == "/engine/esb/async" || path == "/engine/esb/async-response";
  if (!x.push_code.empty()) {
    x.kind = Kind::kPush;
    x.log.api = x.push_code;
  } else if (async_path || (x.api_code.empty() && !x.answered_request_id.empty())) {
    x.kind = Kind::kAsyncAnswer;
  } else if (env.Find("userId") != nullptr) {
    x.kind = Kind::kNida;
  } else {
    x.kind = Kind::kPull;
  }
  x.log.kind = KindName(x.kind);
  if (x.kind == Kind::kPull || x.kind == Kind::kNida) {
    if (x.api_code.empty()) {
      return InvalidArgument(
          "data must carry apiCode (the code of the API to call) as a string, or pushCode to "
          "publish");
    }
    x.log.api = x.api_code;
  }
  if (x.kind == Kind::kAsyncAnswer &&
      (x.answered_request_id.empty() || x.answered_request_id.size() > 64)) {
    return InvalidArgument(
        "an asynchronous answer carries requestId (the id of the request being answered, as "
        "delivered), success, esbBody and optionally message");
  }
  return Status::Ok();
}

Status VerifyStage(ExchangeContext& x) {
  const registry::System& caller = *x.caller;
  if (!caller.public_key.has_value()) {
    return BadSignature("the public key registered for system " + caller.client_id +
                        " cannot be used; ask the bus operator to register it again");
  }
  auto variant = wire::VerifyEnvelope(*x.envelope, *caller.public_key, &x.data_sha256);
  if (!variant.ok()) {
    return BadSignature(
        "signature does not verify against the public key registered for system " +
        caller.client_id +
        ": sign the exact bytes of data with that system's private key (ECDSA with SHA-256, "
        "DER, base64)");
  }
  x.variant = *variant;
  x.verified = true;
  x.log.signature_variant = wire::SignatureVariantName(*variant);
  if (!wire::VerifiedTextIsPassedOn(*x.envelope, *variant)) {
    return BadSignature(
        "the signature verifies only over the ISO-8859-1 reading of the UTF-8 bytes sent, "
        "which is not the text the bus would pass on; sign exactly the bytes of data you send");
  }
  return Status::Ok();
}

Status AuthoriseStage(ExchangeContext& x) {
  const registry::Snapshot& snapshot = *x.snapshot;
  const registry::System& caller = *x.caller;
  if (x.kind == Kind::kAsyncAnswer) return Status::Ok();
  if (x.kind == Kind::kPush) {
    x.topic = snapshot.FindTopic(x.push_code);
    if (x.topic == nullptr) {
      return NotFound("unknown pushCode '" + x.push_code +
                      "': no push topic with this code is registered on the bus "
                      "(codes are case-sensitive)");
    }
    if (x.topic->publisher_system_id != caller.id) {
      return PermissionDenied("system " + caller.client_id +
                              " is not the publisher of push topic " + x.push_code +
                              "; only its publisher may push to it");
    }
    return Status::Ok();
  }
  x.api = snapshot.FindApi(x.api_code);
  if (x.api == nullptr) {
    return NotFound("unknown apiCode '" + x.api_code +
                    "': no API with this code is registered on the bus (codes are "
                    "case-sensitive)");
  }
  if (!snapshot.HasApprovedGrant(caller.id, x.api->id)) {
    return PermissionDenied("system " + caller.client_id + " has no approved access to API " +
                            x.api_code + "; ask the bus operator for a grant");
  }
  x.provider = snapshot.FindSystemById(x.api->provider_system_id);
  if (x.provider == nullptr || !x.provider->enabled) {
    return Unavailable("the provider of API " + x.api_code + " is disabled");
  }
  x.log.provider = x.provider->client_id;
  if (!x.provider->public_key.has_value()) {
    return Unavailable("the provider of API " + x.api_code +
                       " has no usable public key registered");
  }
  return Status::Ok();
}

}  // namespace govesb::engine
