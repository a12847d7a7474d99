#include "evidence/canonical_json.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <utility>
#include <vector>

namespace govesb::evidence {

namespace {

namespace json = boost::json;

// The code point of the well-formed UTF-8 sequence at text[i] and its length, or a length of 0
// when the bytes there are not one.
std::pair<char32_t, size_t> DecodeUtf8At(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return {b0, 1};
  size_t length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {0, 0};
  }
  if (i + length > text.size()) return {0, 0};
  for (size_t k = 1; k < length; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, length};
}

// A member name as UTF-16 code units, the order RFC 8785 sorts names in.
std::u16string Utf16(std::string_view utf8) {
  std::u16string out;
  for (size_t i = 0; i < utf8.size();) {
    auto [cp, length] = DecodeUtf8At(utf8, i);
    if (length == 0) {
      cp = 0xFFFD;
      length = 1;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += length;
  }
  return out;
}

Status Append(const json::value& v, std::string& out, std::string& where) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return Status::Ok();
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return Status::Ok();
    case json::kind::int64:
    case json::kind::uint64: {
      const bool in_range = v.is_int64() ? (v.get_int64() >= -kMaxCanonicalInteger &&
                                            v.get_int64() <= kMaxCanonicalInteger)
                                         : v.get_uint64() <= uint64_t{kMaxCanonicalInteger};
      if (!in_range) {
        return InvalidArgument("the integer at " + where +
                               " is larger than 2^53 - 1, which has no canonical form");
      }
      out += v.is_int64() ? std::to_string(v.get_int64()) : std::to_string(v.get_uint64());
      return Status::Ok();
    }
    case json::kind::double_:
      return InvalidArgument("the number at " + where +
                             " has a fraction or an exponent, which this canonical form does "
                             "not take");
    case json::kind::string: {
      const json::string& s = v.get_string();
      if (!IsValidUtf8(std::string_view(s))) {
        return InvalidArgument("the string at " + where + " is not UTF-8");
      }
      AppendCanonicalString(std::string_view(s), out);
      return Status::Ok();
    }
    case json::kind::array: {
      out += '[';
      const json::array& a = v.get_array();
      for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out += ',';
        const size_t mark = where.size();
        where += "[" + std::to_string(i) + "]";
        GOVESB_RETURN_IF_ERROR(Append(a[i], out, where));
        where.resize(mark);
      }
      out += ']';
      return Status::Ok();
    }
    case json::kind::object: {
      const json::object& o = v.get_object();
      std::vector<std::pair<std::u16string, const json::key_value_pair*>> members;
      members.reserve(o.size());
      for (const json::key_value_pair& m : o) {
        if (!IsValidUtf8(std::string_view(m.key()))) {
          return InvalidArgument("a member name in " + where + " is not UTF-8");
        }
        members.emplace_back(Utf16(m.key()), &m);
      }
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += ',';
        const json::key_value_pair& m = *members[i].second;
        AppendCanonicalString(std::string_view(m.key()), out);
        out += ':';
        const size_t mark = where.size();
        where += ".";
        where += std::string_view(m.key());
        GOVESB_RETURN_IF_ERROR(Append(m.value(), out, where));
        where.resize(mark);
      }
      out += '}';
      return Status::Ok();
    }
  }
  return InvalidArgument("unknown JSON value at " + where);
}

}  // namespace

Result<std::string> CanonicalJson(const boost::json::value& value) {
  std::string out;
  std::string where = "$";
  GOVESB_RETURN_IF_ERROR(Append(value, out, where));
  return out;
}

void AppendCanonicalString(std::string_view utf8, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : utf8) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = DecodeUtf8At(text, i).second;
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string ValidUtf8(std::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const size_t length = DecodeUtf8At(text, i).second;
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

}  // namespace govesb::evidence
