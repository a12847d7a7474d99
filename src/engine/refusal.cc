#include "engine/refusal.h"

#include "wire/envelope.h"
#include "wire/json.h"
#include "wire/messages.h"

namespace govesb::engine {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kInternal:
      return 500;
    default:
      return 200;
  }
}

http::HttpResponse SignedResponse(int http_status, bool success, std::string_view request_id,
                                  std::string_view message, std::string_view esb_body_raw,
                                  const crypto::Signer& signer, Format format, SignedParts* parts,
                                  wire::JsonStyle style) {
  std::string data = wire::ResponseData(success, request_id, message, esb_body_raw,
                                        format == Format::kXml ? wire::JsonStyle::kJackson : style);
  http::HttpResponse r;
  r.status = http_status;
  if (format == Format::kXml) {
    auto xml = wire::DataJsonToXml(data, "data");
    if (xml.ok()) {
      const crypto::Sha256Digest digest = crypto::Sha256(*xml);
      std::string signature = signer.SignDigestBase64(digest);
      r.content_type = "application/xml";
      r.body = wire::SealXmlEnvelope(*xml, signature);
      if (parts != nullptr) *parts = SignedParts{std::move(*xml), std::move(signature), digest};
      return r;
    }
  }
  const crypto::Sha256Digest digest = crypto::Sha256(data);
  std::string signature = signer.SignDigestBase64(digest);
  r.body = wire::SealEnvelope(data, signature);  // the default Content-Type: application/json
  if (parts != nullptr) *parts = SignedParts{std::move(data), std::move(signature), digest};
  return r;
}

http::HttpResponse OAuthError(int http_status, std::string_view error,
                              std::string_view description) {
  std::string body = "{\"error\":";
  wire::WriteString(error, body);
  body += ",\"error_description\":";
  wire::WriteString(description, body);
  body += '}';
  http::HttpResponse r = http::HttpResponse::Json(http_status, std::move(body));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::HttpResponse Refuse(const Status& status, std::string_view request_id,
                          const crypto::Signer& signer, Format format, SignedParts* parts,
                          wire::JsonStyle style) {
  int http_status = HttpStatusFor(status.code());
  if (http_status == 401) {
    http::HttpResponse r = OAuthError(401, "invalid_token", status.message());
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return r;
  }
  return SignedResponse(http_status, false, request_id, status.message(), "", signer, format, parts,
                        style);
}

}  // namespace govesb::engine
