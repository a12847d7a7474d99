// The JSON layer (src/wire/json.h): validation, object scanning, string decoding, compact
// re-serialisation in both escapings, XML conversion, and the properties that tie them.

#include <cmath>
#include <cstring>
#include <string>

#include "fuzz_common.h"
#include "wire/json.h"

namespace wire = govesb::wire;
using govesb::fuzz::AsText;

namespace {

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

void CheckCompact(std::string_view text, bool valid, wire::Escaping escaping) {
  std::string out = "prefix";
  govesb::Status s = wire::WriteCompact(text, out, escaping);
  // One grammar: WriteCompact accepts exactly what ValidateJson accepts.
  GOVESB_FUZZ_CHECK(s.ok() == valid);
  if (!s.ok()) {
    GOVESB_FUZZ_CHECK(out == "prefix");  // on error `out` is left as it was
    return;
  }
  std::string_view compact = std::string_view(out).substr(6);
  // The output is valid JSON, and writing it again changes nothing.
  GOVESB_FUZZ_CHECK(wire::ValidateJson(compact).ok());
  std::string again;
  GOVESB_FUZZ_CHECK(wire::WriteCompact(compact, again, escaping).ok());
  GOVESB_FUZZ_CHECK(again == compact);
  if (escaping == wire::Escaping::kAsciiEscaped) GOVESB_FUZZ_CHECK(IsAscii(compact));
  GOVESB_FUZZ_CHECK(wire::IsValidUtf8(compact));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);

  const bool valid = wire::ValidateJson(text).ok();
  CheckCompact(text, valid, wire::Escaping::kJackson);
  CheckCompact(text, valid, wire::Escaping::kAsciiEscaped);
  // A shallow limit must never accept what the default refuses.
  if (wire::ValidateJson(text, 3).ok()) GOVESB_FUZZ_CHECK(valid);

  auto members = wire::ScanObject(text);
  if (members.ok()) {
    GOVESB_FUZZ_CHECK(valid);
    for (const wire::JsonMember& m : *members) {
      GOVESB_FUZZ_CHECK(wire::IsValidUtf8(m.key));
      GOVESB_FUZZ_CHECK(wire::ValidateJson(m.raw).ok());
      GOVESB_FUZZ_CHECK(wire::FindMember(*members, m.key) != nullptr);
      if (m.type == wire::JsonType::kString) {
        auto decoded = wire::DecodeString(m.raw);
        GOVESB_FUZZ_CHECK(decoded.ok());
      }
    }
    std::string xml;
    GOVESB_FUZZ_CHECK(wire::WriteXml(text, "data", xml).ok());
  }

  // Strings: decode, write back in either escaping, decode again: the same text.
  auto decoded = wire::DecodeString(text);
  if (decoded.ok()) {
    GOVESB_FUZZ_CHECK(valid);
    GOVESB_FUZZ_CHECK(wire::IsValidUtf8(*decoded));
    for (auto escaping : {wire::Escaping::kJackson, wire::Escaping::kAsciiEscaped}) {
      std::string written;
      wire::WriteString(*decoded, written, escaping);
      auto back = wire::DecodeString(written);
      GOVESB_FUZZ_CHECK(back.ok());
      GOVESB_FUZZ_CHECK(*back == *decoded);
    }
  }

  // Any bytes written as a string give valid JSON.
  std::string written;
  wire::WriteString(text, written);
  GOVESB_FUZZ_CHECK(wire::ValidateJson(written).ok());
  if (wire::IsValidUtf8(text)) GOVESB_FUZZ_CHECK(*wire::DecodeString(written) == text);
  GOVESB_FUZZ_CHECK(wire::IsValidUtf8(wire::Latin1ToUtf8(text)));

  // Java's Double.toString: the shortest text that reads back as the same double.
  if (size == sizeof(double)) {
    double value;
    std::memcpy(&value, data, sizeof value);
    std::string formatted = wire::FormatJavaDouble(value);
    if (std::isfinite(value)) {
      GOVESB_FUZZ_CHECK(std::strtod(formatted.c_str(), nullptr) == value);
    }
  }
  return 0;
}
