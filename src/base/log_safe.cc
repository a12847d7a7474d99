#include "base/log_safe.h"

#include <cstdint>

namespace govesb {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

// The length of the well-formed UTF-8 sequence of two bytes or more starting at in[i] (RFC
// 3629 table: no overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t Utf8SequenceLength(std::string_view in, size_t i, uint32_t& code_point) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(in[i + k]); };
  const uint8_t b0 = byte(0);
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (in.size() - i < len) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return 0;
  }
  code_point = b0 & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) code_point = (code_point << 6) | (byte(k) & 0x3F);
  return len;
}

// Characters kept out of logs although well-formed: C1 controls, line/paragraph separators
// and the bidi controls that can reorder what a reader sees (the "Trojan Source" set).
bool IsHiddenControl(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool IsPlainAscii(uint8_t c) { return c >= 0x20 && c < 0x7F && c != '\\' && c != '"'; }

}  // namespace

void AppendLogSafe(std::string& out, std::string_view in, size_t max_bytes) {
  const size_t start = out.size();
  out.reserve(start + (in.size() < max_bytes ? in.size() + 8 : max_bytes + 24));
  size_t i = 0;
  while (i < in.size()) {
    const size_t room = max_bytes - (out.size() - start);
    const auto c = static_cast<uint8_t>(in[i]);
    if (IsPlainAscii(c)) {
      // A run of plain characters goes in one piece, as far as the room allows.
      size_t end = i + 1;
      while (end < in.size() && IsPlainAscii(static_cast<uint8_t>(in[end]))) ++end;
      const size_t run = end - i;
      const size_t take = run < room ? run : room;
      out.append(in.data() + i, take);
      i += take;
      if (take < run) break;  // out of room
      continue;
    }
    // One escaped or multi-byte element: written whole or not at all.
    char piece[12];
    size_t piece_len = 0;
    size_t consumed = 1;
    uint32_t cp = 0;
    size_t seq = 0;
    if (c == '\\' || c == '"') {
      piece[0] = '\\';
      piece[1] = static_cast<char>(c);
      piece_len = 2;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      piece[0] = '\\';
      piece[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      piece_len = 2;
    } else if (c >= 0x80 && (seq = Utf8SequenceLength(in, i, cp)) != 0 && !IsHiddenControl(cp)) {
      if (seq > room) break;
      out.append(in.data() + i, seq);
      i += seq;
      continue;
    } else if (seq != 0) {  // well-formed but hidden: \u{XXXX}
      piece[0] = '\\';
      piece[1] = 'u';
      piece[2] = '{';
      for (int k = 0; k < 4; ++k) piece[3 + k] = kHexUpper[(cp >> (12 - 4 * k)) & 0xF];
      piece[7] = '}';
      piece_len = 8;
      consumed = seq;
    } else {  // a control character or a byte outside well-formed UTF-8
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = kHex[c >> 4];
      piece[3] = kHex[c & 0xF];
      piece_len = 4;
    }
    if (piece_len > room) break;
    out.append(piece, piece_len);
    i += consumed;
  }
  if (i < in.size()) {
    out += "\u2026(";
    out += std::to_string(in.size());
    out += " bytes)";
  }
}

void AppendJsonLogSafe(std::string& out, std::string_view in, size_t max_bytes) {
  const size_t start = out.size();
  out.reserve(start + (in.size() < max_bytes ? in.size() + 8 : max_bytes + 24));
  size_t i = 0;
  while (i < in.size()) {
    const size_t room = max_bytes - (out.size() - start);
    const auto c = static_cast<uint8_t>(in[i]);
    if (IsPlainAscii(c)) {
      size_t end = i + 1;
      while (end < in.size() && IsPlainAscii(static_cast<uint8_t>(in[end]))) ++end;
      const size_t run = end - i;
      const size_t take = run < room ? run : room;
      out.append(in.data() + i, take);
      i += take;
      if (take < run) break;
      continue;
    }
    char piece[8];
    size_t piece_len = 0;
    size_t consumed = 1;
    uint32_t cp = 0;
    size_t seq = 0;
    if (c == '\\' || c == '"') {
      piece[0] = '\\';
      piece[1] = static_cast<char>(c);
      piece_len = 2;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      piece[0] = '\\';
      piece[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      piece_len = 2;
    } else if (c >= 0x80 && (seq = Utf8SequenceLength(in, i, cp)) != 0 && !IsHiddenControl(cp)) {
      if (seq > room) break;
      out.append(in.data() + i, seq);
      i += seq;
      continue;
    } else {
      // \uXXXX: a control character, a hidden one, or U+FFFD for a byte outside UTF-8.
      if (seq != 0) {
        consumed = seq;
      } else if (c >= 0x80) {
        cp = 0xFFFD;
      } else {
        cp = c;
      }
      piece[0] = '\\';
      piece[1] = 'u';
      for (int k = 0; k < 4; ++k) piece[2 + k] = kHexUpper[(cp >> (12 - 4 * k)) & 0xF];
      piece_len = 6;
    }
    if (piece_len > room) break;
    out.append(piece, piece_len);
    i += consumed;
  }
  if (i < in.size()) {
    out += "\u2026(";
    out += std::to_string(in.size());
    out += " bytes)";
  }
}

std::string LogSafe(std::string_view untrusted, size_t max_bytes) {
  std::string out;
  AppendLogSafe(out, untrusted, max_bytes);
  return out;
}

}  // namespace govesb
