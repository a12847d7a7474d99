#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace govesb {

// Standard base64 (RFC 4648 section 4) with padding, on one line.
std::string Base64Encode(std::span<const uint8_t> bytes);
inline std::string Base64Encode(std::string_view bytes) {
  return Base64Encode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}
// Strict-enough decoding for keys and signatures from other encoders: ignores ASCII whitespace
// (line-wrapped PEM bodies), accepts missing padding, rejects any other non-alphabet byte.
std::optional<std::string> Base64Decode(std::string_view text);
// The same into `out` without allocating: the number of bytes decoded, or nothing when the text
// is not base64 or decodes to more than out.size() bytes.
std::optional<size_t> Base64DecodeInto(std::string_view text, std::span<uint8_t> out);

// URL-safe base64 without padding (RFC 4648 section 5), for tokens.
std::string Base64UrlEncode(std::span<const uint8_t> bytes);
inline std::string Base64UrlEncode(std::string_view bytes) {
  return Base64UrlEncode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Lowercase hex.
std::string HexEncode(std::span<const uint8_t> bytes);
// The same, appended to `out`.
void HexEncodeAppend(std::span<const uint8_t> bytes, std::string& out);
inline std::string HexEncode(std::string_view bytes) {
  return HexEncode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}
std::optional<std::string> HexDecode(std::string_view text);
// Decodes exactly out.size() bytes from 2 * out.size() hex digits (either case) without
// allocating; false (out unspecified) on a wrong length or a non-hex character.
bool HexDecodeInto(std::string_view text, std::span<uint8_t> out);

}  // namespace govesb
