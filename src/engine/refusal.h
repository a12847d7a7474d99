#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/keys.h"
#include "http/types.h"
#include "registry/model.h"
#include "wire/json.h"

namespace govesb::engine {

// The one place where failures become HTTP answers (see docs/errors.md):
//   kUnauthenticated                 -> 401, OAuth2-style JSON {"error","error_description"}
//   kInvalidArgument                 -> 400, signed envelope success:false (unreadable request)
//   kResourceExhausted               -> 429, signed envelope success:false (a rate limit;
//                                       the caller adds Retry-After)
//   kInternal                        -> 500, signed envelope success:false
//   everything else (business)       -> 200, signed envelope success:false
// Envelopes carry the requestId of the exchange and the status message, which tells the
// consumer what to fix.
int HttpStatusFor(StatusCode code);

enum class Format { kJson, kXml };

// XML when the Content-Type names xml (application/xml, text/xml ...), JSON otherwise: for
// requests and for providers' answers alike.
inline Format FormatOf(std::string_view content_type) {
  return content_type.find("xml") != std::string_view::npos ? Format::kXml : Format::kJson;
}

// What was signed in an answer: the data text and its signature (for the evidence log).
struct SignedParts {
  std::string data;
  std::string signature;
  crypto::Sha256Digest data_sha256{};  // of `data`, made for signing it
};

// A signed response envelope (contract 4.2) in the consumer's format, its JSON written in
// `style` (the form the consumer verifies: wire::JsonStyle). `parts`, when given, receives the
// signed data text and the signature.
http::HttpResponse SignedResponse(int http_status, bool success, std::string_view request_id,
                                  std::string_view message, std::string_view esb_body_raw,
                                  const crypto::Signer& signer, Format format,
                                  SignedParts* parts = nullptr,
                                  wire::JsonStyle style = wire::JsonStyle::kJackson);

// The answer for a failed exchange: 401 OAuth JSON or a signed success:false envelope.
http::HttpResponse Refuse(const Status& status, std::string_view request_id,
                          const crypto::Signer& signer, Format format, SignedParts* parts = nullptr,
                          wire::JsonStyle style = wire::JsonStyle::kJackson);

// The form the bus writes what it signs for `system` (its setting, or the learned one).
inline wire::JsonStyle StyleFor(const registry::System& system) {
  return wire::JsonStyleFromName(
      registry::EffectiveSerialisation(system.serialisation, system.serialisation_learned));
}

// OAuth2 error bodies for the token endpoint and for bearer-token failures.
http::HttpResponse OAuthError(int http_status, std::string_view error,
                              std::string_view description);

}  // namespace govesb::engine
