#include "wire/json.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace govesb::wire {
namespace {

// ---------------------------------------------------------------------------------------------
// Errors

std::string DescribeByte(std::string_view text, size_t at) {
  if (at >= text.size()) return "end of input";
  const auto c = static_cast<unsigned char>(text[at]);
  if (c >= 0x21 && c < 0x7f) return std::string("character '") + static_cast<char>(c) + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "byte 0x";
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
  return out;
}

Status ErrorAt(std::string what, size_t at) {
  what += " at byte ";
  what += std::to_string(at);
  return InvalidArgument(std::move(what));
}

Status Unexpected(std::string_view text, size_t at, std::string_view expectation = {}) {
  std::string what = "unexpected " + DescribeByte(text, at);
  if (!expectation.empty()) {
    what += " (expected ";
    what += expectation;
    what += ")";
  }
  return ErrorAt(std::move(what), at);
}

// ---------------------------------------------------------------------------------------------
// UTF-8

// Length of the well-formed UTF-8 sequence starting at text[i] (whose first byte is >= 0x80),
// or 0 when it is ill-formed (Unicode table 3-7: no overlongs, no surrogates, <= U+10FFFF).
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const size_t n = text.size();
  const auto b0 = static_cast<unsigned char>(text[i]);
  auto byte = [&](size_t k) -> unsigned { return static_cast<unsigned char>(text[i + k]); };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
    return i + k < n && byte(k) >= lo && byte(k) <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 == 0xee || b0 == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// Code point of a well-formed sequence of `len` bytes at text[i].
uint32_t DecodeUtf8(std::string_view text, size_t i, size_t len) {
  auto byte = [&](size_t k) -> uint32_t { return static_cast<unsigned char>(text[i + k]); };
  switch (len) {
    case 2:
      return ((byte(0) & 0x1f) << 6) | (byte(1) & 0x3f);
    case 3:
      return ((byte(0) & 0x0f) << 12) | ((byte(1) & 0x3f) << 6) | (byte(2) & 0x3f);
    default:
      return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3f) << 12) | ((byte(2) & 0x3f) << 6) |
             (byte(3) & 0x3f);
  }
}

}  // namespace

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

namespace {

constexpr uint32_t kReplacementCharacter = 0xfffd;

// ---------------------------------------------------------------------------------------------
// Escaping

void AppendHex4(uint32_t unit, const char* digits, std::string& out) {
  out += "\\u";
  out.push_back(digits[(unit >> 12) & 0xf]);
  out.push_back(digits[(unit >> 8) & 0xf]);
  out.push_back(digits[(unit >> 4) & 0xf]);
  out.push_back(digits[unit & 0xf]);
}

constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";

// Appends an ASCII character as it appears inside a Jackson-style JSON string.
void AppendAsciiEscaped(unsigned char c, std::string& out) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    default:
      if (c < 0x20) {
        AppendHex4(c, kUpperHex, out);
      } else {
        out.push_back(static_cast<char>(c));
      }
  }
}

// Appends any code point (a scalar value: never a surrogate) inside a JSON string.
void AppendCodePoint(uint32_t cp, Escaping escaping, std::string& out) {
  if (cp < 0x80) {
    AppendAsciiEscaped(static_cast<unsigned char>(cp), out);
  } else if (escaping == Escaping::kJackson) {
    AppendUtf8(cp, out);
  } else if (cp < 0x10000) {
    AppendHex4(cp, kLowerHex, out);
  } else {
    const uint32_t v = cp - 0x10000;
    AppendHex4(0xd800 | (v >> 10), kLowerHex, out);
    AppendHex4(0xdc00 | (v & 0x3ff), kLowerHex, out);
  }
}

inline bool NeedsEscapeAscii(unsigned char c) { return c == '"' || c == '\\' || c < 0x20; }

// The length of the leading run of bytes a JSON string carries as they are: ASCII other than
// controls, '"' and '\\'. Eight bytes at a time: in each 64-bit word a byte's high bit is set
// by `b - 0x20` when b < 0x20, by `(b ^ '"') - 1` when b == '"', likewise for '\\', and by b
// itself when b >= 0x80. A borrow only carries into the next byte from a byte that is flagged
// already, and every other false flag is on a byte >= 0x80, which ends the run too: so the
// lowest flagged byte is the first byte that ends the run.
size_t PlainRun(const char* p, size_t n) {
  size_t i = 0;
  if constexpr (std::endian::native == std::endian::little) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    for (; i + 8 <= n; i += 8) {
      uint64_t x = 0;
      std::memcpy(&x, p + i, 8);
      uint64_t flags = ((x - kOnes * 0x20) | ((x ^ (kOnes * '"')) - kOnes) |
                        ((x ^ (kOnes * '\\')) - kOnes) | x) &
                       kHigh;
      if (flags != 0) return i + static_cast<size_t>(std::countr_zero(flags)) / 8;
    }
  }
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (NeedsEscapeAscii(c) || c >= 0x80) break;
  }
  return i;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits at s[i..i+4) (already validated).
uint32_t Hex4(std::string_view s, size_t i) {
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) v = (v << 4) | static_cast<uint32_t>(HexValue(s[i + k]));
  return v;
}

// Decodes the escape sequence at content[i] (a backslash) of a validated string; advances i.
// Returns a scalar value: surrogate pairs combined, lone surrogates replaced by U+FFFD.
uint32_t DecodeEscape(std::string_view content, size_t& i) {
  const char e = content[i + 1];
  i += 2;
  switch (e) {
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'u':
      break;
    default:  // '"', '\\', '/'
      return static_cast<unsigned char>(e);
  }
  const uint32_t unit = Hex4(content, i);
  i += 4;
  if (unit < 0xd800 || unit > 0xdfff) return unit;
  if (unit >= 0xdc00) return kReplacementCharacter;  // a low surrogate first
  if (i + 6 <= content.size() && content[i] == '\\' && content[i + 1] == 'u') {
    const uint32_t low = Hex4(content, i + 2);
    if (low >= 0xdc00 && low <= 0xdfff) {
      i += 6;
      return 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
    }
  }
  return kReplacementCharacter;
}

// Re-spells the content (between the quotes) of a validated JSON string token, quotes added.
void AppendReencodedString(std::string_view content, Escaping escaping, std::string& out) {
  out.push_back('"');
  size_t i = 0;
  const size_t n = content.size();
  while (i < n) {
    size_t run = i;
    while (run < n) {
      const auto c = static_cast<unsigned char>(content[run]);
      if (c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(content.data() + i, run - i);
    i = run;
    if (i >= n) break;
    if (content[i] == '\\') {
      AppendCodePoint(DecodeEscape(content, i), escaping, out);
      continue;
    }
    const size_t len = Utf8SequenceLength(content, i);  // validated: never 0
    if (escaping == Escaping::kJackson) {
      out.append(content.data() + i, len);
    } else {
      AppendCodePoint(DecodeUtf8(content, i, len), escaping, out);
    }
    i += len;
  }
  out.push_back('"');
}

// Decodes the content of a validated JSON string token into UTF-8.
void AppendDecodedString(std::string_view content, std::string& out) {
  size_t i = 0;
  const size_t n = content.size();
  while (i < n) {
    const size_t backslash = content.find('\\', i);
    const size_t run_end = backslash == std::string_view::npos ? n : backslash;
    out.append(content.data() + i, run_end - i);
    i = run_end;
    if (i >= n) break;
    AppendUtf8(DecodeEscape(content, i), out);
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

// Java's Double.toString for a finite, non-zero value, from the shortest decimal digits.
std::string FormatJavaDecimal(bool negative, std::string_view digits, int exponent) {
  std::string out;
  out.reserve(digits.size() + 12);
  if (negative) out.push_back('-');
  const int k = static_cast<int>(digits.size());
  if (exponent >= -3 && exponent < 7) {
    if (exponent >= 0) {
      const int int_len = exponent + 1;
      if (k <= int_len) {
        out.append(digits);
        out.append(static_cast<size_t>(int_len - k), '0');
        out += ".0";
      } else {
        out.append(digits.substr(0, static_cast<size_t>(int_len)));
        out.push_back('.');
        out.append(digits.substr(static_cast<size_t>(int_len)));
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out.append(digits);
    }
  } else {
    out.push_back(digits[0]);
    out.push_back('.');
    if (k > 1) {
      out.append(digits.substr(1));
    } else {
      out.push_back('0');
    }
    out.push_back('E');
    out += std::to_string(exponent);
  }
  return out;
}

// Splits to_chars scientific output "-d.ddde+XX" into digits and decimal exponent.
void SplitScientific(std::string_view s, std::string& digits, int& exponent) {
  digits.clear();
  size_t i = s[0] == '-' ? 1 : 0;
  for (; i < s.size() && s[i] != 'e'; ++i) {
    if (s[i] != '.') digits.push_back(s[i]);
  }
  exponent = 0;
  if (i < s.size()) {
    ++i;
    if (s[i] == '+') ++i;
    std::from_chars(s.data() + i, s.data() + s.size(), exponent);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
}

// Whether a number token that does not fit a double is tiny (underflow) rather than huge.
bool IsUnderflow(std::string_view token) {
  size_t i = token[0] == '-' ? 1 : 0;
  int64_t magnitude = 0;  // decimal exponent of the first significant digit, before 'e'
  bool found = false;
  int64_t int_digits = 0;
  for (; i < token.size() && token[i] >= '0' && token[i] <= '9'; ++i, ++int_digits) {
    if (!found && token[i] != '0') {
      found = true;
      magnitude = -int_digits;  // fixed up once the integer part's length is known
    }
  }
  if (found) magnitude += int_digits - 1;
  if (i < token.size() && token[i] == '.') {
    ++i;
    for (int64_t j = 0; i < token.size() && token[i] >= '0' && token[i] <= '9'; ++i, ++j) {
      if (!found && token[i] != '0') {
        found = true;
        magnitude = -(j + 1);
      }
    }
  }
  if (!found) return true;  // all zeros: not out of range in practice
  int64_t exponent = 0;
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    bool negative = false;
    if (token[i] == '+' || token[i] == '-') negative = token[i++] == '-';
    for (; i < token.size(); ++i) {
      if (exponent < 1'000'000'000) exponent = exponent * 10 + (token[i] - '0');
    }
    if (negative) exponent = -exponent;
  }
  return magnitude + exponent < 0;
}

// Appends a non-integer JSON number token the way Jackson writes a Java double.
void AppendJavaDouble(std::string_view token, std::string& out) {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec == std::errc() && ptr == token.data() + token.size()) {
    out += FormatJavaDouble(value);
  } else if (ec == std::errc::result_out_of_range && IsUnderflow(token)) {
    out += token[0] == '-' ? "-0.0" : "0.0";
  } else {
    out.append(token);  // too large for a double: keep what the sender wrote
  }
}

// ---------------------------------------------------------------------------------------------
// The scanner: one iterative pass over a value, reporting tokens to a sink.

inline bool IsWhitespace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

inline void SkipWhitespace(std::string_view t, size_t& i) {
  while (i < t.size() && IsWhitespace(t[i])) ++i;
}

struct StringInfo {
  bool has_escape = false;
  bool has_non_ascii = false;
};

// The first index from i on (or t.size()) whose byte ends a run of plain string bytes: '"',
// '\\', a control character (< 0x20) or a byte of a non-ASCII sequence (>= 0x80). Bodies are
// mostly such runs, and every string of every request and answer passes here: 16 bytes at a
// time where SSE2 is there (every x86-64), one at a time elsewhere and for the last bytes.
inline size_t PlainStringEnd(std::string_view t, size_t i) {
  const size_t n = t.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (i + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i));
    // Signed bytes: those below 0x20 are the control characters and every byte >= 0x80.
    const __m128i stop =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_cmplt_epi8(v, space));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(mask));
    i += 16;
  }
#endif
  while (i < n) {
    const auto c = static_cast<unsigned char>(t[i]);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
    ++i;
  }
  return i;
}

// Scans the string token starting at t[i] == '"'; on success i is just past the closing quote.
Status ScanString(std::string_view t, size_t& i, StringInfo& info) {
  const size_t n = t.size();
  ++i;
  for (;;) {
    i = PlainStringEnd(t, i);
    if (i >= n) return ErrorAt("unterminated string", i);
    const auto c = static_cast<unsigned char>(t[i]);
    if (c == '"') {
      ++i;
      return Status::Ok();
    }
    if (c == '\\') {
      info.has_escape = true;
      if (i + 1 >= n) return ErrorAt("unterminated string", n);
      switch (t[i + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          i += 2;
          continue;
        case 'u':
          for (size_t k = 2; k < 6; ++k) {
            if (i + k >= n || HexValue(t[i + k]) < 0) {
              return ErrorAt("invalid \\u escape in string", i);
            }
          }
          i += 6;
          continue;
        default:
          return ErrorAt("invalid escape \\" + DescribeByte(t, i + 1) + " in string", i);
      }
    }
    if (c < 0x20) return ErrorAt("unescaped control character in string", i);
    const size_t len = Utf8SequenceLength(t, i);
    if (len == 0) return ErrorAt("invalid UTF-8", i);
    info.has_non_ascii = true;
    i += len;
  }
}

// Scans a number token at t[i]; sets is_integer when it has no fraction and no exponent.
Status ScanNumber(std::string_view t, size_t& i, bool& is_integer) {
  const size_t n = t.size();
  auto is_digit = [&](size_t k) { return k < n && t[k] >= '0' && t[k] <= '9'; };
  if (t[i] == '-') ++i;
  if (!is_digit(i)) return Unexpected(t, i, "a digit");
  if (t[i] == '0') {
    ++i;
  } else {
    while (is_digit(i)) ++i;
  }
  is_integer = true;
  if (i < n && t[i] == '.') {
    ++i;
    if (!is_digit(i)) return Unexpected(t, i, "a digit after '.'");
    while (is_digit(i)) ++i;
    is_integer = false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (!is_digit(i)) return Unexpected(t, i, "a digit in the exponent");
    while (is_digit(i)) ++i;
    is_integer = false;
  }
  return Status::Ok();
}

// A stack of one bit per open container (1 = object), without allocation up to 256 levels.
class ContainerStack {
 public:
  void Push(bool is_object) {
    const size_t word = depth_ / 64;
    const uint64_t bit = uint64_t{1} << (depth_ % 64);
    if (word >= kInlineWords && word - kInlineWords >= heap_.size()) heap_.push_back(0);
    uint64_t& w = word < kInlineWords ? inline_[word] : heap_[word - kInlineWords];
    w = is_object ? (w | bit) : (w & ~bit);
    ++depth_;
  }
  void Pop() { --depth_; }
  bool TopIsObject() const {
    const size_t index = depth_ - 1;
    const size_t word = index / 64;
    const uint64_t w = word < kInlineWords ? inline_[word] : heap_[word - kInlineWords];
    return (w >> (index % 64)) & 1;
  }
  size_t depth() const { return depth_; }

 private:
  static constexpr size_t kInlineWords = 4;
  std::array<uint64_t, kInlineWords> inline_{};
  std::vector<uint64_t> heap_;
  size_t depth_ = 0;
};

// Sink that ignores everything: plain validation.
struct NullSink {
  void Punct(char) {}
  void String(std::string_view, const StringInfo&) {}
  void Number(std::string_view, bool) {}
  void Literal(std::string_view) {}
};

// Sink that writes the compact Jackson-style form.
struct CompactWriter {
  std::string& out;
  Escaping escaping;

  void Punct(char c) { out.push_back(c); }
  void String(std::string_view token, const StringInfo& info) {
    if (!info.has_escape && (!info.has_non_ascii || escaping == Escaping::kJackson)) {
      out.append(token);  // already exactly what Jackson writes
    } else {
      AppendReencodedString(token.substr(1, token.size() - 2), escaping, out);
    }
  }
  void Number(std::string_view token, bool is_integer) {
    if (is_integer) {
      out.append(token);
    } else {
      AppendJavaDouble(token, out);
    }
  }
  void Literal(std::string_view token) { out.append(token); }
};

// Sink that writes the XML form of a JSON value (see WriteXml).
class XmlWriter {
 public:
  XmlWriter(std::string_view element, std::string& out) : element_(element), out_(out) {}

  void Punct(char c) {
    switch (c) {
      case '{': {
        std::string name(CurrentName());
        Open(name);
        frames_.push_back(Frame{true, std::move(name), {}, true});
        return;
      }
      case '[':
        frames_.push_back(Frame{false, std::string(CurrentName()), {}, false});
        return;
      case '}':
        Close(frames_.back().name);
        frames_.pop_back();
        return;
      case ']':
        frames_.pop_back();
        return;
      case ',':
        if (frames_.back().is_object) frames_.back().expecting_key = true;
        return;
      default:  // ':'
        return;
    }
  }
  void String(std::string_view token, const StringInfo& info) {
    scratch_.clear();
    const std::string_view content = token.substr(1, token.size() - 2);
    if (info.has_escape) {
      AppendDecodedString(content, scratch_);
    } else {
      scratch_.assign(content);
    }
    if (!frames_.empty() && frames_.back().is_object && frames_.back().expecting_key) {
      frames_.back().key = scratch_;
      frames_.back().expecting_key = false;
      return;
    }
    Leaf(scratch_);
  }
  void Number(std::string_view token, bool) { Leaf(token); }
  void Literal(std::string_view token) {
    if (token != "null") Leaf(token);
  }

 private:
  struct Frame {
    bool is_object;
    std::string name;  // element name of the object, or of each item of the array
    std::string key;   // current member name (objects)
    bool expecting_key;
  };

  std::string_view CurrentName() const {
    if (frames_.empty()) return element_;
    const Frame& top = frames_.back();
    return top.is_object ? std::string_view(top.key) : std::string_view(top.name);
  }
  void Open(std::string_view name) {
    out_.push_back('<');
    out_.append(name);
    out_.push_back('>');
  }
  void Close(std::string_view name) {
    out_ += "</";
    out_.append(name);
    out_.push_back('>');
  }
  void Leaf(std::string_view text) {
    const std::string_view name = CurrentName();
    Open(name);
    for (const char c : text) {
      switch (c) {
        case '&':
          out_ += "&amp;";
          break;
        case '<':
          out_ += "&lt;";
          break;
        case '>':
          out_ += "&gt;";
          break;
        default:
          out_.push_back(c);
      }
    }
    Close(name);
  }

  std::string_view element_;
  std::string& out_;
  std::vector<Frame> frames_;
  std::string scratch_;
};

// Parses `"key" :` at t[i] (after whitespace) inside an object.
template <typename Sink>
Status ScanMemberName(std::string_view t, size_t& i, Sink& sink) {
  SkipWhitespace(t, i);
  if (i >= t.size() || t[i] != '"') return Unexpected(t, i, "a member name");
  const size_t start = i;
  StringInfo info;
  GOVESB_RETURN_IF_ERROR(ScanString(t, i, info));
  sink.String(t.substr(start, i - start), info);
  SkipWhitespace(t, i);
  if (i >= t.size() || t[i] != ':') return Unexpected(t, i, "':'");
  sink.Punct(':');
  ++i;
  return Status::Ok();
}

// Scans exactly one value starting at t[i] (leading whitespace skipped), iteratively. On success
// i is just past the value and `type` is its type.
template <typename Sink>
Status ScanValue(std::string_view t, size_t& i, int max_depth, Sink& sink, JsonType& type) {
  const size_t n = t.size();
  ContainerStack stack;
  bool first = true;
  for (;;) {
    // A value is expected at i.
    SkipWhitespace(t, i);
    if (i >= n) return ErrorAt("unexpected end of input", i);
    const char c = t[i];
    JsonType this_type;
    bool opened = false;
    switch (c) {
      case '{':
      case '[': {
        this_type = c == '{' ? JsonType::kObject : JsonType::kArray;
        if (stack.depth() >= static_cast<size_t>(max_depth < 0 ? 0 : max_depth)) {
          return ErrorAt("nesting deeper than " + std::to_string(max_depth) + " levels", i);
        }
        const char close = c == '{' ? '}' : ']';
        sink.Punct(c);
        ++i;
        SkipWhitespace(t, i);
        if (i < n && t[i] == close) {
          sink.Punct(close);
          ++i;
        } else {
          stack.Push(c == '{');
          opened = true;
          if (c == '{') GOVESB_RETURN_IF_ERROR(ScanMemberName(t, i, sink));
        }
        break;
      }
      case '"': {
        this_type = JsonType::kString;
        const size_t start = i;
        StringInfo info;
        GOVESB_RETURN_IF_ERROR(ScanString(t, i, info));
        sink.String(t.substr(start, i - start), info);
        break;
      }
      case 't':
      case 'f':
      case 'n': {
        const std::string_view literal = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (t.substr(i, literal.size()) != literal) return Unexpected(t, i, "a value");
        this_type = c == 't' ? JsonType::kTrue : c == 'f' ? JsonType::kFalse : JsonType::kNull;
        sink.Literal(literal);
        i += literal.size();
        break;
      }
      default: {
        if (c != '-' && (c < '0' || c > '9')) return Unexpected(t, i, "a value");
        this_type = JsonType::kNumber;
        const size_t start = i;
        bool is_integer = false;
        GOVESB_RETURN_IF_ERROR(ScanNumber(t, i, is_integer));
        sink.Number(t.substr(start, i - start), is_integer);
        break;
      }
    }
    if (first) {
      type = this_type;
      first = false;
    }
    if (opened) continue;  // the first element or member value follows

    // A value is complete: close containers until one continues with ','.
    for (;;) {
      if (stack.depth() == 0) return Status::Ok();
      SkipWhitespace(t, i);
      const bool in_object = stack.TopIsObject();
      const char close = in_object ? '}' : ']';
      if (i < n && t[i] == ',') {
        sink.Punct(',');
        ++i;
        if (in_object) GOVESB_RETURN_IF_ERROR(ScanMemberName(t, i, sink));
        break;
      }
      if (i < n && t[i] == close) {
        sink.Punct(close);
        ++i;
        stack.Pop();
        continue;
      }
      if (i >= n) return ErrorAt("unexpected end of input", i);
      return Unexpected(t, i, in_object ? "',' or '}'" : "',' or ']'");
    }
  }
}

Status CheckNothingAfter(std::string_view t, size_t i) {
  SkipWhitespace(t, i);
  if (i < t.size()) return Unexpected(t, i, "end of input after the JSON value");
  return Status::Ok();
}

}  // namespace

std::string_view JsonTypeName(JsonType type) {
  switch (type) {
    case JsonType::kObject:
      return "object";
    case JsonType::kArray:
      return "array";
    case JsonType::kString:
      return "string";
    case JsonType::kNumber:
      return "number";
    case JsonType::kTrue:
      return "true";
    case JsonType::kFalse:
      return "false";
    case JsonType::kNull:
      return "null";
  }
  return "unknown";
}

Status ValidateJson(std::string_view text, int max_depth) {
  size_t i = 0;
  NullSink sink;
  JsonType type;
  GOVESB_RETURN_IF_ERROR(ScanValue(text, i, max_depth, sink, type));
  return CheckNothingAfter(text, i);
}

Result<std::vector<JsonMember>> ScanObject(std::string_view text, int max_depth) {
  std::vector<JsonMember> members;
  GOVESB_RETURN_IF_ERROR(ScanObjectInto(text, members, max_depth));
  return members;
}

Status ScanObjectInto(std::string_view text, std::vector<JsonMember>& members, int max_depth) {
  // Cleared by count, not clear(): the members kept keep their keys' capacity.
  size_t used = 0;
  const auto next_member = [&]() -> JsonMember& {
    if (used == members.size()) members.emplace_back();
    JsonMember& m = members[used++];
    m.key.clear();
    return m;
  };
  const size_t n = text.size();
  size_t i = 0;
  SkipWhitespace(text, i);
  if (i >= n) return ErrorAt("unexpected end of input", i);
  if (text[i] != '{') return Unexpected(text, i, "'{'");
  if (max_depth < 1)
    return ErrorAt("nesting deeper than " + std::to_string(max_depth) + " levels", i);
  ++i;
  SkipWhitespace(text, i);
  if (i < n && text[i] == '}') {
    ++i;
  } else {
    if (members.capacity() == 0) members.reserve(8);
    NullSink sink;
    for (;;) {
      SkipWhitespace(text, i);
      if (i >= n || text[i] != '"') return Unexpected(text, i, "a member name");
      const size_t key_start = i;
      StringInfo info;
      GOVESB_RETURN_IF_ERROR(ScanString(text, i, info));
      const std::string_view key_content = text.substr(key_start + 1, i - key_start - 2);
      JsonMember& member = next_member();
      if (info.has_escape) {
        AppendDecodedString(key_content, member.key);
      } else {
        member.key.assign(key_content);
      }
      SkipWhitespace(text, i);
      if (i >= n || text[i] != ':') return Unexpected(text, i, "':'");
      ++i;
      SkipWhitespace(text, i);
      const size_t value_start = i;
      GOVESB_RETURN_IF_ERROR(ScanValue(text, i, max_depth - 1, sink, member.type));
      member.raw = text.substr(value_start, i - value_start);
      SkipWhitespace(text, i);
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && text[i] == '}') {
        ++i;
        break;
      }
      if (i >= n) return ErrorAt("unexpected end of input", i);
      return Unexpected(text, i, "',' or '}'");
    }
  }
  members.resize(used);
  return CheckNothingAfter(text, i);
}

const JsonMember* FindMember(const std::vector<JsonMember>& members, std::string_view key) {
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key == key) return &*it;
  }
  return nullptr;
}

Result<std::string_view> DecodeStringView(std::string_view raw_token, std::string& storage) {
  if (raw_token.empty() || raw_token[0] != '"') return Unexpected(raw_token, 0, "'\"'");
  size_t i = 0;
  StringInfo info;
  GOVESB_RETURN_IF_ERROR(ScanString(raw_token, i, info));
  if (i != raw_token.size()) return Unexpected(raw_token, i, "end of the string token");
  const std::string_view content = raw_token.substr(1, raw_token.size() - 2);
  if (!info.has_escape) return content;
  storage.clear();
  storage.reserve(content.size());
  AppendDecodedString(content, storage);
  return std::string_view(storage);
}

Result<std::string> DecodeString(std::string_view raw_token) {
  std::string storage;
  GOVESB_ASSIGN_OR_RETURN(std::string_view decoded, DecodeStringView(raw_token, storage));
  if (decoded.data() == storage.data()) return storage;
  return std::string(decoded);
}

Status WriteCompact(std::string_view raw, std::string& out, Escaping escaping) {
  const size_t mark = out.size();
  out.reserve(mark + raw.size());
  CompactWriter writer{out, escaping};
  size_t i = 0;
  JsonType type;
  Status status = ScanValue(raw, i, kDefaultMaxDepth, writer, type);
  if (status.ok()) status = CheckNothingAfter(raw, i);
  if (!status.ok()) out.resize(mark);
  return status;
}

Status WriteXml(std::string_view json, std::string_view element, std::string& out) {
  const size_t mark = out.size();
  out.reserve(mark + json.size() * 2);
  XmlWriter writer(element, out);
  size_t i = 0;
  JsonType type;
  Status status = ScanValue(json, i, kDefaultMaxDepth, writer, type);
  if (status.ok()) status = CheckNothingAfter(json, i);
  if (!status.ok()) out.resize(mark);
  return status;
}

void WriteString(std::string_view utf8, std::string& out, Escaping escaping) {
  out.reserve(out.size() + utf8.size() + 2);
  out.push_back('"');
  size_t i = 0;
  const size_t n = utf8.size();
  while (i < n) {
    size_t run = i + PlainRun(utf8.data() + i, n - i);
    out.append(utf8.data() + i, run - i);
    i = run;
    if (i >= n) break;
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      AppendAsciiEscaped(c, out);
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(utf8, i);
    if (len == 0) {
      AppendCodePoint(kReplacementCharacter, escaping, out);
      ++i;
    } else if (escaping == Escaping::kJackson) {
      out.append(utf8.data() + i, len);
      i += len;
    } else {
      AppendCodePoint(DecodeUtf8(utf8, i, len), escaping, out);
      i += len;
    }
  }
  out.push_back('"');
}

std::string FormatJavaDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value < 0 ? "-Infinity" : "Infinity";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  char buffer[64];
  const auto shortest =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string digits;
  int exponent = 0;
  SplitScientific(std::string_view(buffer, static_cast<size_t>(shortest.ptr - buffer)), digits,
                  exponent);
  if (digits.size() == 1) {
    // Java picks, among the decimals of length 1 or 2 that round to the value, the closest one
    // (Double.MIN_VALUE is "4.9E-324", not "5.0E-324"). The correctly rounded 2-digit decimal
    // is the closest of length <= 2; take it when it still reads back as the same double.
    char two[64];
    const auto r = std::to_chars(two, two + sizeof(two), value, std::chars_format::scientific, 1);
    double back = 0;
    const auto parsed = std::from_chars(two, r.ptr, back);
    if (parsed.ec == std::errc() && back == value) {
      SplitScientific(std::string_view(two, static_cast<size_t>(r.ptr - two)), digits, exponent);
    }
  }
  return FormatJavaDecimal(value < 0, digits, exponent);
}

bool IsValidUtf8(std::string_view text) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string Latin1ToUtf8(std::string_view latin1) {
  std::string out;
  out.reserve(latin1.size() + latin1.size() / 8);
  for (const char ch : latin1) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

}  // namespace govesb::wire

// ---------------------------------------------------------------------------------------------
// ECMAScript: JSON.stringify(JSON.parse(text))

namespace govesb::wire {
namespace {

// Whether `key` is an array index (a canonical decimal of 0 … 2^32 - 2): ECMAScript objects
// list such own keys first, in ascending numeric order, before the others in insertion order.
bool IsArrayIndex(std::string_view key, uint32_t& index) {
  if (key.empty() || key.size() > 10) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  uint64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v >= 0xFFFFFFFFull) return false;
  index = static_cast<uint32_t>(v);
  return true;
}

// JSON.stringify's QuoteJSONString over the string JSON.parse made of the token content: `"` and
// `\` escaped, \b \t \n \f \r, other controls as \u00xx (lowercase hex), lone surrogates (which
// JSON.parse keeps from \uD8xx escapes) as \udxxx, everything else as UTF-8.
void AppendEcmaString(std::string_view content, std::string& out) {
  const auto escape_unit = [&](uint32_t unit) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kLowerHex[(unit >> shift) & 0xF]);
  };
  const auto append_code_point = [&](uint32_t cp) {
    switch (cp) {
      case '"':
        out += "\\\"";
        return;
      case '\\':
        out += "\\\\";
        return;
      case '\b':
        out += "\\b";
        return;
      case '\f':
        out += "\\f";
        return;
      case '\n':
        out += "\\n";
        return;
      case '\r':
        out += "\\r";
        return;
      case '\t':
        out += "\\t";
        return;
      default:
        break;
    }
    if (cp < 0x20 || (cp >= 0xd800 && cp <= 0xdfff)) {
      escape_unit(cp);
    } else {
      AppendUtf8(cp, out);
    }
  };
  out.push_back('"');
  size_t i = 0;
  const size_t n = content.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(content[i]);
    if (c == '\\') {
      const char e = content[i + 1];
      if (e != 'u') {
        uint32_t cp = static_cast<unsigned char>(e);
        if (e == 'b') cp = '\b';
        if (e == 'f') cp = '\f';
        if (e == 'n') cp = '\n';
        if (e == 'r') cp = '\r';
        if (e == 't') cp = '\t';
        append_code_point(cp);
        i += 2;
        continue;
      }
      const uint32_t unit = Hex4(content, i + 2);
      i += 6;
      if (unit >= 0xd800 && unit < 0xdc00 && i + 6 <= n && content[i] == '\\' &&
          content[i + 1] == 'u') {
        const uint32_t low = Hex4(content, i + 2);
        if (low >= 0xdc00 && low <= 0xdfff) {
          i += 6;
          append_code_point(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
          continue;
        }
      }
      append_code_point(unit);  // a lone surrogate stays one (escaped)
      continue;
    }
    if (c < 0x80) {
      append_code_point(c);
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(content, i);  // validated: never 0
    out.append(content.data() + i, len);
    i += len;
  }
  out.push_back('"');
}

// Writes a validated JSON text as JSON.stringify(JSON.parse(text)) would.
class EcmaWriter {
 public:
  EcmaWriter(std::string_view text, std::string& out) : t_(text), out_(out) {}

  void Value() {
    Skip();
    const char c = t_[i_];
    if (c == '{') {
      Object();
    } else if (c == '[') {
      Array();
    } else if (c == '"') {
      const std::string_view content = StringContent();
      AppendEcmaString(content, out_);
    } else if (c == 't') {
      out_ += "true";
      i_ += 4;
    } else if (c == 'f') {
      out_ += "false";
      i_ += 5;
    } else if (c == 'n') {
      out_ += "null";
      i_ += 4;
    } else {
      Number();
    }
  }

 private:
  void Skip() {
    while (i_ < t_.size() && IsWhitespace(t_[i_])) ++i_;
  }

  // The content of the string token at i_ (between its quotes); i_ after its closing quote.
  std::string_view StringContent() {
    const size_t start = ++i_;
    while (t_[i_] != '"') i_ += t_[i_] == '\\' ? 2 : 1;
    return t_.substr(start, i_++ - start);
  }

  void Number() {
    const size_t start = i_;
    while (i_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '-' ||
                              t_[i_] == '+' || t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
    }
    const std::string_view token = t_.substr(start, i_ - start);
    double value = 0;
    const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec == std::errc::result_out_of_range) {
      // Too large: Infinity, which JSON.stringify writes as null; too small: (-)0, written 0.
      const bool huge = !IsUnderflow(token);
      out_ += huge ? "null" : "0";
      return;
    }
    (void)ptr;
    out_ += FormatEcmaScriptNumber(value);
  }

  void Array() {
    ++i_;
    out_.push_back('[');
    Skip();
    if (t_[i_] == ']') {
      ++i_;
      out_.push_back(']');
      return;
    }
    for (bool first = true;; first = false) {
      if (!first) out_.push_back(',');
      Value();
      Skip();
      if (t_[i_++] == ']') break;
    }
    out_.push_back(']');
  }

  // Members are written to their own buffers first: a repeated key keeps its first place with
  // its last value, and array-index keys go first in numeric order (ECMAScript's own-property
  // order), as JSON.parse then JSON.stringify leave them.
  void Object() {
    ++i_;
    struct Member {
      std::string key;  // decoded
      std::string text;
      bool is_index = false;
      uint32_t index = 0;
    };
    std::vector<Member> members;
    Skip();
    if (t_[i_] == '}') {
      ++i_;
    } else {
      for (;;) {
        Skip();
        std::string key;
        AppendDecodedJsKey(StringContent(), key);
        Skip();
        ++i_;  // ':'
        std::string text;
        EcmaWriter nested(t_, text);
        nested.i_ = i_;
        nested.Value();
        i_ = nested.i_;
        auto same = std::find_if(members.begin(), members.end(),
                                 [&](const Member& m) { return m.key == key; });
        if (same != members.end()) {
          same->text = std::move(text);
        } else {
          Member m;
          m.is_index = IsArrayIndex(key, m.index);
          m.key = std::move(key);
          m.text = std::move(text);
          members.push_back(std::move(m));
        }
        Skip();
        if (t_[i_++] == '}') break;
      }
    }
    std::stable_partition(members.begin(), members.end(),
                          [](const Member& m) { return m.is_index; });
    const auto indexed =
        std::find_if(members.begin(), members.end(), [](const Member& m) { return !m.is_index; });
    std::sort(members.begin(), indexed,
              [](const Member& a, const Member& b) { return a.index < b.index; });
    out_.push_back('{');
    bool first = true;
    for (const Member& m : members) {
      if (!first) out_.push_back(',');
      first = false;
      WriteEcmaKey(m.key, out_);
      out_.push_back(':');
      out_ += m.text;
    }
    out_.push_back('}');
  }

  // Keys are compared and written as the strings JSON.parse made of them: decoded into UTF-8,
  // a lone surrogate kept as the 3-byte WTF-8 form of its unit so that it compares as itself.
  static void AppendDecodedJsKey(std::string_view content, std::string& out) {
    size_t i = 0;
    while (i < content.size()) {
      if (content[i] != '\\') {
        out.push_back(content[i++]);
        continue;
      }
      if (content[i + 1] != 'u') {
        size_t at = i;
        AppendUtf8(DecodeEscape(content, at), out);
        i = at;
        continue;
      }
      const uint32_t unit = Hex4(content, i + 2);
      if (unit >= 0xd800 && unit <= 0xdfff) {
        size_t at = i;
        const uint32_t cp = DecodeEscape(content, at);
        if (cp != kReplacementCharacter) {
          AppendUtf8(cp, out);
        } else {  // lone: keep the unit (written back as \udxxx)
          out.push_back(static_cast<char>(0xE0 | (unit >> 12)));
          out.push_back(static_cast<char>(0x80 | ((unit >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (unit & 0x3F)));
          at = i + 6;
        }
        i = at;
        continue;
      }
      size_t at = i;
      AppendUtf8(DecodeEscape(content, at), out);
      i = at;
    }
  }

  // A decoded key written back as JSON.stringify quotes it.
  static void WriteEcmaKey(std::string_view key, std::string& out) {
    std::string content;
    content.reserve(key.size());
    for (size_t i = 0; i < key.size();) {
      const auto c = static_cast<unsigned char>(key[i]);
      if (c == 0xED && i + 2 < key.size() &&
          (static_cast<unsigned char>(key[i + 1]) & 0xE0) == 0xA0) {
        // a kept lone surrogate: as an escape, which AppendEcmaString writes as \udxxx
        const uint32_t unit = 0xD000 | ((static_cast<unsigned char>(key[i + 1]) & 0x3F) << 6) |
                              (static_cast<unsigned char>(key[i + 2]) & 0x3F);
        content += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4) {
          content.push_back(kLowerHex[(unit >> shift) & 0xF]);
        }
        i += 3;
        continue;
      }
      if (c == '"' || c == '\\' || c < 0x20) {
        content += "\\u00";
        content.push_back(kLowerHex[c >> 4]);
        content.push_back(kLowerHex[c & 0xF]);
        ++i;
        continue;
      }
      content.push_back(key[i++]);
    }
    AppendEcmaString(content, out);
  }

  std::string_view t_;
  std::string& out_;
  size_t i_ = 0;
};

}  // namespace

std::string FormatEcmaScriptNumber(double value) {
  if (std::isnan(value) || std::isinf(value)) return "null";  // as JSON.stringify writes them
  if (value == 0) return "0";                                 // -0 too
  char buffer[32];
  const auto shortest =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string digits;
  int exponent = 0;
  SplitScientific(std::string_view(buffer, static_cast<size_t>(shortest.ptr - buffer)), digits,
                  exponent);
  // Number::toString: k digits, n = the position of the decimal point (exponent + 1).
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  std::string out;
  if (value < 0) out.push_back('-');
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(n - 1 >= 0 ? n - 1 : 1 - n);
  }
  return out;
}

void WriteEcmaScriptString(std::string_view utf8, std::string& out) {
  out.reserve(out.size() + utf8.size() + 2);
  out.push_back('"');
  size_t i = 0;
  const size_t n = utf8.size();
  while (i < n) {
    const size_t run = i + PlainRun(utf8.data() + i, n - i);
    out.append(utf8.data() + i, run - i);
    i = run;
    if (i >= n) break;
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
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
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += "\\u00";
          out.push_back(kLowerHex[c >> 4]);
          out.push_back(kLowerHex[c & 0xF]);
      }
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(utf8, i);
    if (len == 0) {
      AppendUtf8(kReplacementCharacter, out);
      ++i;
    } else {
      out.append(utf8.data() + i, len);
      i += len;
    }
  }
  out.push_back('"');
}

std::string_view JsonStyleName(JsonStyle style) {
  return style == JsonStyle::kEcmaScript ? "node" : "jackson";
}

JsonStyle JsonStyleFromName(std::string_view name) {
  return name == "node" ? JsonStyle::kEcmaScript : JsonStyle::kJackson;
}

std::optional<JsonStyle> SignedStyle(std::string_view raw) {
  // A first look for what could tell the forms apart: outside strings, a '.', 'e' or 'E' (a
  // number with a fraction or exponent), or a member name that is all digits; inside strings,
  // an escape other than the two forms share. Texts without any (the usual request) stop here.
  bool telling = false;
  bool in_string = false;
  for (size_t i = 0; i < raw.size() && !telling; ++i) {
    if (in_string) {
      i = PlainStringEnd(raw, i);  // to the next quote, escape or non-plain byte
      if (i >= raw.size()) break;
    }
    const char c = raw[i];
    if (in_string) {
      if (c == '\\') {
        const char e = i + 1 < raw.size() ? raw[i + 1] : '\0';
        telling = e == 'u' || e == '/';
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      // A member name made of digits (JSON.parse moves such members first).
      size_t j = i + 1;
      while (j < raw.size() && raw[j] >= '0' && raw[j] <= '9') ++j;
      if (j > i + 1 && j < raw.size() && raw[j] == '"') telling = true;
    } else if ((c == '.' || c == 'e' || c == 'E') && i > 0 && raw[i - 1] >= '0' &&
               raw[i - 1] <= '9') {
      telling = true;  // in a number ("true" and "false" have an 'e' too)
    }
  }
  if (!telling) return std::nullopt;
  std::string jackson;
  std::string ecma;
  if (!WriteCompact(raw, jackson, Escaping::kJackson).ok() ||
      !WriteEcmaScriptCompact(raw, ecma).ok()) {
    return std::nullopt;
  }
  const bool is_jackson = jackson == raw;
  const bool is_ecma = ecma == raw;
  if (is_jackson == is_ecma) return std::nullopt;
  return is_ecma ? JsonStyle::kEcmaScript : JsonStyle::kJackson;
}

Status WriteEcmaScriptCompact(std::string_view raw, std::string& out) {
  GOVESB_RETURN_IF_ERROR(ValidateJson(raw));
  const size_t mark = out.size();
  out.reserve(mark + raw.size());
  EcmaWriter(raw, out).Value();
  return Status::Ok();
}

}  // namespace govesb::wire
