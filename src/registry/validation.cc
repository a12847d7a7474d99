#include "registry/validation.h"

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>
#include <string>

#include "registry/registry.h"

namespace govesb::registry {
namespace {

bool IsAsciiAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxUrlBytes = 2048;

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
