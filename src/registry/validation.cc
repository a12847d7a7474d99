#include "registry/validation.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <cmath>
#include <string>

#include "registry/registry.h"
#include "schema/schema.h"

namespace govesb::registry {
namespace {

bool IsAsciiAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxVariantBytes = 32;

// Shortest text that reads back as `value` ("nan" and "inf" included).
std::string NumberText(double value) {
  char buffer[64];
  // Plain decimals ("2000000", "0.001") where they fit, else "1e+300", "nan", "inf".
  auto [end, ec] = std::abs(value) < 1e15 ? std::to_chars(buffer, buffer + sizeof(buffer), value,
                                                          std::chars_format::fixed)
                                          : std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : std::string("?");
}

}  // namespace

Status ValidateInstitutionCode(std::string_view code) {
  bool ok = code.size() >= 2 && code.size() <= 32;
  for (char c : code) ok = ok && (IsAsciiAlnum(c) || c == '_' || c == '-');
  if (!ok) {
    return InvalidArgument("invalid institution code '" + std::string(code) +
                           "': use 2-32 characters of A-Z a-z 0-9 _ -");
  }
  return Status::Ok();
}

Status ValidateServiceCode(std::string_view code, std::string_view what) {
  bool ok = code.size() >= 5 && code.size() <= 8;
  for (char c : code) ok = ok && IsAsciiAlnum(c);
  if (!ok) {
    return InvalidArgument("invalid " + std::string(what) + " '" + std::string(code) +
                           "': use 5-8 characters of A-Z a-z 0-9 (case-sensitive)");
  }
  return Status::Ok();
}

Status ValidateEndpoint(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("invalid endpoint '" + std::string(url) + "': " + std::string(why));
  };
  if (url.empty()) return bad("it is empty");
  if (url.size() > kMaxUrlBytes) return bad("longer than 2048 characters");
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return bad("not an absolute URL (" + parsed.error().message() + ")");
  const boost::urls::url_view& view = *parsed;
  if (view.scheme_id() != boost::urls::scheme::http &&
      view.scheme_id() != boost::urls::scheme::https) {
    return bad("the scheme must be http or https");
  }
  if (!view.has_authority() || view.encoded_host().empty()) return bad("it has no host");
  if (view.has_userinfo()) {
    // The bus would not send it, and the registry would show it wherever the endpoint shows.
    // Not echoed: this error may be logged.
    return InvalidArgument(
        "invalid endpoint (not repeated here: it holds credentials): a user name or password in "
        "the URL is not supported (it would be shown wherever the "
        "endpoint is shown, and is not sent): the bus's signature on each request is what "
        "identifies it to you");
  }
  if (view.has_port()) {
    // url_view::port_number() wraps modulo 2^16, so check the digits themselves.
    std::string_view port = view.port();
    bool valid = !port.empty() && port.size() <= 5;
    int number = 0;
    if (valid) {  // a longer port would overflow `number`
      for (char c : port) number = number * 10 + (c - '0');  // the grammar allows only digits
    }
    if (!valid || number < 1 || number > 65535) return bad("the port is not valid");
  }
  return Status::Ok();
}

Status ValidateTimeoutMs(int64_t timeout_ms) {
  if (timeout_ms < kMinApiTimeoutMs || timeout_ms > kMaxApiTimeoutMs) {
    return InvalidArgument("timeout " + std::to_string(timeout_ms) + " ms is out of range (" +
                           std::to_string(kMinApiTimeoutMs) + ".." +
                           std::to_string(kMaxApiTimeoutMs) + ")");
  }
  return Status::Ok();
}

Status ValidateRatePerSecond(double rate, std::string_view what) {
  if (rate == kRateDefault || rate == kRateUnlimited) return Status::Ok();
  if (!std::isfinite(rate) || rate < kMinRatePerSecond || rate > kMaxRatePerSecond) {
    return InvalidArgument(std::string(what) + " " + NumberText(rate) +
                           " is out of range: give requests per second from " +
                           NumberText(kMinRatePerSecond) + " to " + NumberText(kMaxRatePerSecond) +
                           ", 0 (the bus's default) or -1 (unlimited)");
  }
  return Status::Ok();
}

Status ValidateRateBurst(double burst, std::string_view what) {
  if (burst == kRateDefault) return Status::Ok();
  if (!std::isfinite(burst) || burst < kMinRateBurst || burst > kMaxRateBurst) {
    return InvalidArgument(std::string(what) + " " + NumberText(burst) +
                           " is out of range: give requests from " + NumberText(kMinRateBurst) +
                           " to " + NumberText(kMaxRateBurst) +
                           " or 0 (the bus's default); a burst cannot be unlimited (make the "
                           "rate unlimited instead)");
  }
  return Status::Ok();
}

Status ValidateSignatureVariantName(std::string_view variant) {
  bool ok = !variant.empty() && variant.size() <= kMaxVariantBytes;
  for (char c : variant) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    // Not echoed: the name may be anything, and it is bounded only here.
    return InvalidArgument("invalid signature variant name: use 1-32 characters of a-z 0-9 -");
  }
  return Status::Ok();
}

Result<std::string> NormalizeName(std::string_view name, std::string_view what) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t begin = name.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return InvalidArgument(std::string(what) + " is empty");
  name = name.substr(begin, name.find_last_not_of(kSpace) - begin + 1);
  if (name.size() > kMaxNameBytes) {
    return InvalidArgument(std::string(what) + " is longer than " + std::to_string(kMaxNameBytes) +
                           " bytes");
  }
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return InvalidArgument(std::string(what) + " contains control characters");
    }
  }
  return std::string(name);
}

namespace {

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool IsUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;  // continuation bytes
    uint32_t cp = 0;
    if (c < 0x80) {
      n = 0;
      cp = c;
    } else if ((c >> 5) == 0x6) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d >> 6) != 0x2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string KiB(size_t bytes) { return std::to_string(bytes / 1024) + " KB"; }

}  // namespace

Result<std::string> NormalizeText(std::string_view text, std::string_view what, size_t max_bytes,
                                  bool required) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) {
    if (required) return InvalidArgument(std::string(what) + " is required");
    return std::string();
  }
  text = text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
  if (text.size() > max_bytes) {
    return InvalidArgument(std::string(what) + " is longer than " + std::to_string(max_bytes) +
                           " bytes");
  }
  if (!IsUtf8(text)) return InvalidArgument(std::string(what) + " is not valid UTF-8 text");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t' && c != '\r') || u == 0x7f) {
      return InvalidArgument(std::string(what) + " contains control characters");
    }
  }
  return std::string(text);
}

Status ValidateJsonText(std::string_view text, std::string_view what, size_t max_bytes) {
  if (text.empty()) return Status::Ok();
  if (text.size() > max_bytes) {
    return InvalidArgument(std::string(what) + " is larger than " + KiB(max_bytes));
  }
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  if (ec) {
    return InvalidArgument(std::string(what) + " is not valid JSON: " + ec.message());
  }
  return Status::Ok();
}

Status ValidateOpenApiDocument(std::string_view text) {
  if (text.empty()) return Status::Ok();
  if (text.size() > kMaxOpenApiBytes) {
    return InvalidArgument("the OpenAPI document is larger than " + KiB(kMaxOpenApiBytes));
  }
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 64;
  boost::json::value doc = boost::json::parse(text, ec, {}, options);
  if (ec) return InvalidArgument("the OpenAPI document is not valid JSON: " + ec.message());
  const boost::json::object* object = doc.if_object();
  const boost::json::value* version = object != nullptr ? object->if_contains("openapi") : nullptr;
  if (version == nullptr || !version->is_string()) {
    return InvalidArgument(
        "the OpenAPI document must be a JSON object with an \"openapi\" member giving its "
        "version (e.g. \"3.0.3\"); YAML documents must be converted to JSON first");
  }
  return Status::Ok();
}

Status ValidateEmail(std::string_view email, std::string_view what) {
  const size_t at = email.find('@');
  bool ok = !email.empty() && email.size() <= 254 && at != std::string_view::npos && at > 0 &&
            at == email.rfind('@');
  if (ok) {
    std::string_view domain = email.substr(at + 1);
    ok = domain.size() >= 3 && domain.find('.') != std::string_view::npos &&
         domain.front() != '.' && domain.back() != '.';
  }
  for (char c : email) {
    auto u = static_cast<unsigned char>(c);
    ok = ok && u > 0x20 && u < 0x7f && c != ',' && c != ';' && c != '<' && c != '>';
  }
  if (!ok) {
    return InvalidArgument("invalid " + std::string(what) +
                           ": give one address such as name@institution.go.tz (at most 254 "
                           "characters, no spaces)");
  }
  return Status::Ok();
}

Status ValidatePhone(std::string_view phone) {
  if (phone.empty()) return Status::Ok();
  bool ok = phone.size() >= 6 && phone.size() <= 32;
  for (char c : phone) {
    ok = ok && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == ' ' || c == '(' || c == ')');
  }
  if (!ok) {
    return InvalidArgument("invalid telephone number: use 6-32 of 0-9 + - ( ) and spaces");
  }
  return Status::Ok();
}

Status ValidateAccessState(std::string_view state) {
  if (state.empty() || state == kAccessPending || state == kAccessApproved ||
      state == kAccessRefused || state == kAccessRevoked) {
    return Status::Ok();
  }
  return InvalidArgument("unknown state '" + std::string(state) + "'" +
                         ": use pending, approved, refused or revoked");
}

Status ValidatePurposeCode(std::string_view code) {
  const bool ok = !code.empty() && code.size() <= 32 && code[0] >= 'A' && code[0] <= 'Z' &&
                  std::all_of(code.begin(), code.end(), [](char c) {
                    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
                  });
  if (ok) return Status::Ok();
  std::string shown(code.substr(0, 40));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return InvalidArgument("a purpose code is 1 to 32 of A-Z, 0-9 and _, starting with a letter (" +
                         std::to_string(code.size()) + " characters given: '" + shown + "')");
}

}  // namespace govesb::registry

namespace govesb::registry {

Status ValidateContractSchema(std::string_view text, std::string_view what) {
  if (text.empty()) return Status::Ok();
  Result<std::shared_ptr<const schema::Schema>> compiled = schema::Schema::Compile(text);
  if (compiled.ok()) return Status::Ok();
  // Beyond a limit is bad input too (the admin API answers 400, not 429).
  return InvalidArgument(std::string(what) + ": " + compiled.status().message());
}

}  // namespace govesb::registry
