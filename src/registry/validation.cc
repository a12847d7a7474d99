#include "registry/validation.h"

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <cmath>
#include <string>

#include "registry/registry.h"

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

}  // namespace govesb::registry
