#include "engine/stages.h"

#include <algorithm>

#include "limits/rate.h"
#include "registry/validation.h"
#include "schema/json_tree.h"
#include "wire/json.h"

namespace govesb::engine {

namespace {

// A string member of data, decoded; empty when absent or not a string.
std::string StringMember(const wire::IncomingEnvelope& env, std::string_view key) {
  const wire::JsonMember* m = env.Find(key);
  if (m == nullptr || m->type != wire::JsonType::kString) return {};
  auto decoded = wire::DecodeString(m->raw);
  return decoded.ok() ? *decoded : std::string();
}

}  // namespace

Status ParseStage(ExchangeContext& x) {
  auto parsed = x.format == Format::kXml ? wire::ParseXmlEnvelope(std::move(x.request.body))
                                         : wire::ParseEnvelope(std::move(x.request.body));
  if (!parsed.ok()) return InvalidArgument(parsed.status().message());
  x.envelope = std::move(parsed).value();
  return Status::Ok();
}

Status AuthenticateStage(ExchangeContext& x, const auth::TokenService& tokens,
                         std::shared_ptr<const registry::Snapshot> snapshot) {
  x.snapshot = std::move(snapshot);
  std::string_view token = auth::TokenFromAuthorization(x.request.authorization);
  std::string from_envelope;  // the token in the envelope, when the header has none
  if (token.empty()) {
    from_envelope = StringMember(*x.envelope, "authorization");
    token = from_envelope;
  }
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

namespace {

std::string RateText(const limits::Rate& rate) {
  char text[96];
  std::snprintf(text, sizeof text, "%g requests per second (burst %g)", rate.per_second,
                rate.effective_burst());
  return text;
}

}  // namespace

Status AdmitStage(ExchangeContext& x, Guards& guards) {
  const registry::System& caller = *x.caller;
  const limits::Rate system_rate = guards.SystemRate(caller);
  if (!system_rate.unlimited()) {
    limits::Decision d = guards.system_rates().Admit(caller.id, system_rate);
    if (!d.allowed) {
      x.retry_after_seconds = limits::RetryAfterSeconds(d.retry_after);
      return ResourceExhausted("system " + caller.client_id + " sends more than its limit of " +
                               RateText(system_rate) + "; retry after " +
                               std::to_string(x.retry_after_seconds) + " s");
    }
  }
  if (x.kind != Kind::kPull && x.kind != Kind::kNida) return Status::Ok();
  const registry::Api* api = x.snapshot->FindApi(x.api_code);
  if (api == nullptr) return Status::Ok();  // the authorise stage refuses it
  const limits::Rate api_rate = guards.ApiRate(*api);
  if (api_rate.unlimited()) return Status::Ok();
  limits::Decision d = guards.api_rates().Admit(caller.id, api->id, api_rate);
  if (!d.allowed) {
    x.retry_after_seconds = limits::RetryAfterSeconds(d.retry_after);
    return ResourceExhausted("system " + caller.client_id + " calls API " + x.api_code +
                             " more often than its limit of " + RateText(api_rate) +
                             "; retry after " + std::to_string(x.retry_after_seconds) + " s");
  }
  return Status::Ok();
}

namespace {

std::string JoinCodes(const std::vector<std::string>& codes) {
  std::string out;
  for (const std::string& code : codes) {
    if (!out.empty()) out += ", ";
    out += code;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Status CheckPurpose(ExchangeContext& x, const registry::Snapshot::GrantTerms& grant) {
  const wire::JsonMember* member = x.envelope->Find("purpose");
  if (member == nullptr || member->type == wire::JsonType::kNull) {
    if (!grant.purpose_required) return Status::Ok();
    return PermissionDenied("the grant of API " + x.api_code + " to system " + x.caller->client_id +
                            " requires a declared purpose: put \"purpose\" in data, one of: " +
                            JoinCodes(grant.purposes));
  }
  if (member->type != wire::JsonType::kString) {
    return InvalidArgument("purpose must be a string: a purpose code such as TREATMENT");
  }
  auto code = wire::DecodeString(member->raw);
  if (!code.ok()) return InvalidArgument("purpose is not a valid string");
  if (Status valid = registry::ValidatePurposeCode(*code); !valid.ok()) return valid;
  if (std::find(grant.purposes.begin(), grant.purposes.end(), *code) == grant.purposes.end()) {
    return PermissionDenied("purpose " + *code + " is not allowed by the grant of API " +
                            x.api_code + " to system " + x.caller->client_id +
                            "; allowed: " + JoinCodes(grant.purposes));
  }
  x.log.purpose = std::move(*code);
  return Status::Ok();
}

Status VerifyStage(ExchangeContext& x) {
  const registry::System& caller = *x.caller;
  if (!caller.public_key.has_value()) {
    return BadSignature("the public key registered for system " + caller.client_id +
                        " cannot be used; ask the bus operator to register it again");
  }
  auto variant = wire::VerifyEnvelope(
      *x.envelope, *caller.public_key, &x.data_sha256,
      caller.signature_fallbacks ? wire::Fallbacks::kAllowed : wire::Fallbacks::kOff);
  if (!variant.ok()) {
    return BadSignature(
        "signature does not verify against the public key registered for system " +
        caller.client_id +
        ": sign the exact bytes of data with that system's private key (ECDSA with SHA-256, "
        "DER, base64)" +
        (caller.signature_fallbacks ? ""
                                    : "; this system's signatures must be over the exact bytes "
                                      "sent (the bus operator turned fallbacks off)"));
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
    if (!x.topic->enabled) {
      return FailedPrecondition("push topic " + x.push_code +
                                " is disabled on the bus: it takes no pushes until its publisher "
                                "or the bus operator enables it again");
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
  if (!x.api->enabled) {
    return FailedPrecondition("API " + x.api_code +
                              " is disabled on the bus: it takes no requests until its provider "
                              "or the bus operator enables it again");
  }
  const registry::Snapshot::GrantTerms* grant = snapshot.FindApprovedGrant(caller.id, x.api->id);
  if (grant == nullptr) {
    return PermissionDenied("system " + caller.client_id + " has no approved access to API " +
                            x.api_code + "; ask the bus operator for a grant");
  }
  if (Status s = CheckPurpose(x, *grant); !s.ok()) return s;
  x.grant = grant;
  x.provider = snapshot.FindSystemById(x.api->provider_system_id);
  if (x.provider == nullptr || !x.provider->enabled) {
    return Unavailable("the provider of API " + x.api_code + " is " +
                       (x.provider != nullptr && x.provider->institution_suspended
                            ? "suspended from the bus (its institution is suspended)"
                            : "disabled"));
  }
  x.log.provider = x.provider->client_id;
  if (!x.provider->public_key.has_value()) {
    return Unavailable("the provider of API " + x.api_code +
                       " has no usable public key registered");
  }
  return Status::Ok();
}

namespace {

// The body's verdict under `contract`: Ok, kInvalidArgument "<violation>" (also for a body that
// cannot be read or is nested too deeply), or kResourceExhausted (too costly to check).
Status Judge(const schema::Schema& contract, std::string_view esb_body_raw) {
  // The envelope kept only spans: this is the body's one parse into a tree.
  Result<schema::JsonTree> tree =
      schema::JsonTree::Parse(esb_body_raw.empty() ? std::string_view("{}") : esb_body_raw);
  if (!tree.ok()) return InvalidArgument(tree.status().message());
  Result<std::optional<schema::Violation>> verdict = contract.Validate(*tree);
  if (!verdict.ok()) return verdict.status();
  if (verdict->has_value()) return InvalidArgument((*verdict)->ToString());
  return Status::Ok();
}

}  // namespace

Status ValidateStage(ExchangeContext& x) {
  if (x.api == nullptr) return Status::Ok();  // pushes and asynchronous answers
  const registry::Api& api = *x.api;
  if (!api.contract_error.empty()) {
    return Unavailable("the contract published for API " + x.api_code +
                       " cannot be used by this bus, so its requests are refused; its provider "
                       "must publish it again (" +
                       api.contract_error + ")");
  }
  if (api.request_contract == nullptr) return Status::Ok();
  const wire::JsonMember* body = x.envelope->Find("esbBody");
  Status verdict = Judge(*api.request_contract, body != nullptr ? body->raw : std::string_view());
  if (verdict.ok()) return verdict;
  if (verdict.code() == StatusCode::kResourceExhausted) {
    return FailedPrecondition("esbBody could not be checked against the contract of API " +
                              x.api_code + ": " + verdict.message());
  }
  return InvalidArgument("esbBody does not match the contract of API " + x.api_code + ": " +
                         verdict.message());
}

Status CheckAnswerContract(const registry::Api& api, std::string_view esb_body_raw) {
  if (api.response_contract == nullptr) return Status::Ok();
  Status verdict = Judge(*api.response_contract, esb_body_raw);
  if (verdict.ok()) return verdict;
  return BadGateway(verdict.message());
}

Status ReplayStage(ExchangeContext& x, Guards& guards) {
  replay::ReplayWindow* window = guards.replay();
  if (window == nullptr) return Status::Ok();
  // The id the exchange is known by to its sender: the answered request for an async answer.
  const std::string& id = x.kind == Kind::kAsyncAnswer ? x.answered_request_id : x.log.request_id;
  std::optional<replay::Sighting> seen = window->Record(x.caller->id, x.data_sha256, id);
  if (!seen) {
    x.replay_recorded = true;
    return Status::Ok();
  }
  x.log.replay_of = seen->first_request_id;
  const bool refuse = x.kind == Kind::kPush || x.kind == Kind::kAsyncAnswer ||
                      (x.api != nullptr && x.api->replay_policy == registry::ReplayPolicy::kRefuse);
  if (!refuse) {
    guards.replays_recorded.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  guards.replays_refused.fetch_add(1, std::memory_order_relaxed);
  const int64_t window_s = guards.options().replay.window.count() / 1000;
  std::string what = x.kind == Kind::kPush          ? "push"
                     : x.kind == Kind::kAsyncAnswer ? "asynchronous answer"
                                                    : "request to API " + x.api_code;
  return AlreadyExists("replay refused: this " + what + " carries the same signed data as " +
                       (x.kind == Kind::kAsyncAnswer ? "the answer to request " : "request ") +
                       seen->first_request_id + ", already accepted; the bus does not accept " +
                       "the same signed data twice within " + std::to_string(window_s) +
                       " s (change the data, e.g. add a time or an id, to send it again)");
}

}  // namespace govesb::engine
