#include "http/form.h"

#include "base/encoding.h"

namespace govesb::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) {
        return InvalidArgument("truncated %-escape in form data");
      }
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return InvalidArgument("bad %-escape in form data");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IEqualsPrefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// The value of parameter `name` in a header like `form-data; name="x"; filename="y"`.
std::optional<std::string> HeaderParam(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    std::string_view part = Trim(
        header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    pos = semi == std::string_view::npos ? header.size() : semi + 1;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(part.substr(0, eq));
    if (key.size() != name.size() || !IEqualsPrefix(key, name)) continue;
    std::string_view value = Trim(part.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return std::nullopt;
}

}  // namespace

Result<FormFields> ParseUrlEncodedForm(std::string_view body) {
  FormFields fields;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    std::string_view pair =
        body.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    pos = amp == std::string_view::npos ? body.size() + 1 : amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    GOVESB_ASSIGN_OR_RETURN(std::string key, PercentDecode(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      GOVESB_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1)));
    }
    fields.insert_or_assign(std::move(key), std::move(value));
  }
  return fields;
}

Result<FormFields> ParseMultipartForm(std::string_view content_type, std::string_view body) {
  auto boundary_param = HeaderParam(content_type, "boundary");
  if (!boundary_param || boundary_param->empty() || boundary_param->size() > 200) {
    return InvalidArgument("multipart/form-data without a valid boundary");
  }
  const std::string delimiter = "--" + *boundary_param;
  FormFields fields;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return InvalidArgument("multipart body has no boundary");
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") break;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return InvalidArgument("malformed multipart body");
    pos += 2;
    size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) {
      return InvalidArgument("malformed multipart part headers");
    }
    std::string_view headers = body.substr(pos, headers_end - pos);
    size_t content_begin = headers_end + 4;
    size_t next = body.find("\r\n" + delimiter, content_begin);
    if (next == std::string_view::npos) return InvalidArgument("unterminated multipart part");
    std::string_view content = body.substr(content_begin, next - content_begin);
    std::optional<std::string> name;
    bool is_file = false;
    size_t hpos = 0;
    while (hpos < headers.size()) {
      size_t eol = headers.find("\r\n", hpos);
      std::string_view line =
          headers.substr(hpos, eol == std::string_view::npos ? std::string_view::npos : eol - hpos);
      hpos = eol == std::string_view::npos ? headers.size() : eol + 2;
      if (IEqualsPrefix(line, "content-disposition:")) {
        std::string_view value = line.substr(20);
        name = HeaderParam(value, "name");
        is_file = HeaderParam(value, "filename").has_value();
      }
    }
    if (name && !is_file) fields.insert_or_assign(*name, std::string(content));
    pos = next + 2;
  }
  return fields;
}

std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header) {
  header = Trim(header);
  if (!IEqualsPrefix(header, "basic ")) return std::nullopt;
  auto decoded = Base64Decode(Trim(header.substr(6)));
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  BasicCredentials creds;
  // RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic encoding; GovESB
  // clients send them raw. Decode only when it changes nothing harmful: ids and secrets are
  // alphanumeric (and '-'), so a raw value decodes to itself.
  auto user = PercentDecode(decoded->substr(0, colon));
  auto pass = PercentDecode(decoded->substr(colon + 1));
  creds.user = user.ok() ? *user : decoded->substr(0, colon);
  creds.password = pass.ok() ? *pass : decoded->substr(colon + 1);
  return creds;
}

}  // namespace govesb::http
