#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"

namespace govesb::http {

using FormFields = std::unordered_map<std::string, std::string>;

// application/x-www-form-urlencoded ('+' is a space, %XX escapes). Bounded by the body size.
Result<FormFields> ParseUrlEncodedForm(std::string_view body);

// multipart/form-data (RFC 7578) text fields; `content_type` is the full header value with the
// boundary parameter. File parts are ignored.
Result<FormFields> ParseMultipartForm(std::string_view content_type, std::string_view body);

struct BasicCredentials {
  std::string user;
  std::string password;
};
// "Basic base64(user:password)"; nullopt when the header is not Basic or malformed.
std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header);

}  // namespace govesb::http
