// Token endpoint bodies (src/http/form.h): application/x-www-form-urlencoded, multipart/form-data
// and Basic authorization headers.
//
// Input: the first line is the multipart Content-Type header value, the rest its body; the
// whole input is also parsed as a urlencoded body and as an Authorization header.

#include <string>

#include "fuzz_common.h"
#include "http/form.h"

namespace http = govesb::http;
using govesb::fuzz::AsText;

namespace {

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);

  // Urlencoded: the fields parsed, encoded again, parse to the same fields.
  if (auto fields = http::ParseUrlEncodedForm(text); fields.ok()) {
    std::string encoded;
    for (const auto& [key, value] : *fields) {
      if (!encoded.empty()) encoded += '&';
      encoded += PercentEncode(key) + "=" + PercentEncode(value);
    }
    auto again = http::ParseUrlEncodedForm(encoded);
    GOVESB_FUZZ_CHECK(again.ok());
    GOVESB_FUZZ_CHECK(*again == *fields);
  }

  size_t eol = text.find('\n');
  std::string_view content_type =
      eol == std::string_view::npos ? "multipart/form-data; boundary=X" : text.substr(0, eol);
  std::string_view body = eol == std::string_view::npos ? text : text.substr(eol + 1);
  if (auto fields = http::ParseMultipartForm(content_type, body); fields.ok()) {
    for (const auto& [key, value] : *fields) {
      GOVESB_FUZZ_CHECK(key.size() <= body.size() && value.size() <= body.size());
    }
  }

  if (auto creds = http::ParseBasicAuthorization(text)) {
    GOVESB_FUZZ_CHECK(creds->user.size() + creds->password.size() <= text.size());
  }
  return 0;
}
