#include "base/encoding.h"

#include <array>

namespace govesb {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(std::span<const uint8_t> in, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{in[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

std::array<int8_t, 256> MakeTable(const char* alphabet) {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}

// Decodes `in` byte by byte into `emit` (a callable taking one byte, false when it has no room
// for it); false on text that is not base64 or when `emit` refused a byte.
template <class Emit>
bool Decode(std::string_view in, const std::array<int8_t, 256>& table, bool skip_whitespace,
            Emit&& emit) {
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char ch : in) {
    auto c = static_cast<uint8_t>(ch);
    if (skip_whitespace && (c == ' ' || c == '\n' || c == '\r' || c == '\t')) continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad != 0) return false;  // data after padding
    int8_t v = table[c];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!emit(static_cast<uint8_t>((acc >> bits) & 0xff))) return false;
    }
  }
  return pad <= 2 && bits < 6;  // a lone 6-bit group is never valid
}

std::optional<std::string> Decode(std::string_view in, const std::array<int8_t, 256>& table,
                                  bool skip_whitespace) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  if (!Decode(in, table, skip_whitespace, [&](uint8_t b) {
        out.push_back(static_cast<char>(b));
        return true;
      })) {
    return std::nullopt;
  }
  return out;
}

const std::array<int8_t, 256>& StdTable() {
  static const auto table = MakeTable(kStd);
  return table;
}

}  // namespace

std::string Base64Encode(std::span<const uint8_t> bytes) { return Encode(bytes, kStd, true); }

std::optional<std::string> Base64Decode(std::string_view text) {
  return Decode(text, StdTable(), true);
}

std::optional<size_t> Base64DecodeInto(std::string_view text, std::span<uint8_t> out) {
  size_t n = 0;
  if (!Decode(text, StdTable(), true, [&](uint8_t b) {
        if (n == out.size()) return false;
        out[n++] = b;
        return true;
      })) {
    return std::nullopt;
  }
  return n;
}

std::string Base64UrlEncode(std::span<const uint8_t> bytes) { return Encode(bytes, kUrl, false); }

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  static const auto table = MakeTable(kUrl);
  return Decode(text, table, false);
}

void HexEncodeAppend(std::span<const uint8_t> bytes, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  char* o = out.data() + at;
  for (uint8_t b : bytes) {
    *o++ = kDigits[b >> 4];
    *o++ = kDigits[b & 15];
  }
}

std::string HexEncode(std::span<const uint8_t> bytes) {
  std::string out;
  HexEncodeAppend(bytes, out);
  return out;
}

namespace {

// The value of each hex digit, 0xff for any other byte: one load per digit, no branches on
// which range a digit is in (those mispredict on hashes, whose digits are random).
constexpr std::array<uint8_t, 256> kHexValues = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xff);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}();

}  // namespace

bool HexDecodeInto(std::string_view text, std::span<uint8_t> out) {
  if (text.size() != out.size() * 2) return false;
  uint8_t bad = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    uint8_t hi = kHexValues[static_cast<unsigned char>(text[2 * i])];
    uint8_t lo = kHexValues[static_cast<unsigned char>(text[2 * i + 1])];
    bad |= static_cast<uint8_t>((hi | lo) & 0xf0);
    out[i] = static_cast<uint8_t>((hi << 4) | (lo & 0x0f));
  }
  return bad == 0;
}

std::optional<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  if (!HexDecodeInto(text,
                     std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size()))) {
    return std::nullopt;
  }
  return out;
}

}  // namespace govesb
