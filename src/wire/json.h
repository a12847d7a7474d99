#pragma once

// A small, allocation-light JSON layer for GovESB envelopes.
//
// The bus never builds a DOM on the request path: it validates the received text once, finds
// the members it needs as spans into the received bytes (JsonMember::raw), and re-serialises
// values in one pass when it must (WriteCompact). Signatures are computed over exact bytes, so
// keeping the original text of every value is the point, not an optimisation detail.
//
// Every function here is pure and thread-safe; nothing keeps state between calls.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace govesb::wire {

enum class JsonType { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull };

// "object", "array", "string", "number", "true", "false", "null".
std::string_view JsonTypeName(JsonType type);

// One member of a JSON object. `raw` points into the text that was scanned: it is only valid as
// long as that text is.
struct JsonMember {
  std::string key;       // decoded (escapes resolved), UTF-8
  std::string_view raw;  // exact text of the value, without surrounding whitespace
  JsonType type;
};

inline constexpr int kDefaultMaxDepth = 200;

// Strict RFC 8259 validation of exactly one value, whitespace around it allowed. Strings must be
// valid UTF-8 (no overlong forms, no UTF-8-encoded surrogates, nothing above U+10FFFF); escaped
// lone surrogates (\ud800) are valid JSON and accepted. Nesting deeper than `max_depth` is an
// error; the parser is iterative, so hostile input cannot exhaust the stack.
// Errors are kInvalidArgument with a message such as "unexpected character 'x' at byte 12".
Status ValidateJson(std::string_view text, int max_depth = kDefaultMaxDepth);

// The members of the object `text` (which must be exactly one object, whitespace around it
// allowed) in document order, every value validated. Duplicate keys are all kept, in order;
// FindMember returns the last one, like Jackson and JSON.parse.
// Allocates the vector and the decoded keys only.
Result<std::vector<JsonMember>> ScanObject(std::string_view text, int max_depth = kDefaultMaxDepth);
// The same into `members` (cleared first; its capacity, and its keys', reused): a caller that
// scans many objects keeps one vector. On error `members` is unspecified.
Status ScanObjectInto(std::string_view text, std::vector<JsonMember>& members,
                      int max_depth = kDefaultMaxDepth);

// The LAST member named `key`, or nullptr.
const JsonMember* FindMember(const std::vector<JsonMember>& members, std::string_view key);

// Decodes a raw JSON string token, quotes included, into UTF-8. \uXXXX escapes are resolved,
// surrogate pairs combined, lone surrogates become U+FFFD. The token is validated.
Result<std::string> DecodeString(std::string_view raw_token);
// The same without a copy when it can: the token's content itself when it has no escapes,
// else the decoded text, made in `storage`. The view is into `raw_token` or `storage`.
Result<std::string_view> DecodeStringView(std::string_view raw_token, std::string& storage);

// How WriteCompact and WriteString spell strings.
enum class Escaping {
  // Java Jackson ObjectMapper: escape `"` and `\`, control characters as \b \t \n \f \r or
  // \u00XX (uppercase hex), `/` not escaped, everything else (non-ASCII too) raw UTF-8.
  kJackson,
  // As kJackson, but every non-ASCII code point as \uXXXX (lowercase hex, surrogate pairs above
  // U+FFFF): the text clients sign when they ASCII-escape before signing.
  kAsciiEscaped,
};

// Appends the JSON value `raw` re-serialised compactly, in the style of Jackson's ObjectMapper:
// no whitespace, member order and duplicates preserved, strings as described by `escaping`,
// integers (no fraction, no exponent) kept digit for digit whatever their length ("-0" stays
// "-0"), other numbers parsed as IEEE doubles and printed like Java's Double.toString (JDK 19+:
// "1.0", "100.0", "0.001", "1.0E-4", "1.23456789E7"). A number too large for a double keeps its
// original text; one too small becomes "0.0" / "-0.0", as in Java.
// `raw` is validated in the same single pass; on error `out` is left as it was.
Status WriteCompact(std::string_view raw, std::string& out, Escaping escaping = Escaping::kJackson);

// Appends `utf8` as a quoted JSON string (Jackson style). Invalid UTF-8 sequences are written as
// U+FFFD so the output is always valid JSON.
void WriteString(std::string_view utf8, std::string& out, Escaping escaping = Escaping::kJackson);

// Formats `value` like Java's Double.toString (JDK 19+ shortest representation). Non-finite
// values give "NaN", "Infinity", "-Infinity" (not JSON; WriteCompact never produces them).
std::string FormatJavaDouble(double value);

// Appends the JSON value `raw` as Node.js (any ECMAScript engine) writes
// JSON.stringify(JSON.parse(raw)): what a client that verifies that way signs over. Numbers are
// parsed as doubles (integers too: beyond 2^53 they lose digits, as in JavaScript) and written
// by Number::toString ("1" for 1.0, "0.0001", "1e-7", "1e+21"; too large: null); a repeated
// member keeps its first place and its last value; members named by array indexes ("0", "7")
// come first, in numeric order; strings as in JSON.stringify (control characters \u00xx in
// lowercase hex, lone surrogates escaped). `raw` is validated first; on error `out` is as it was.
Status WriteEcmaScriptCompact(std::string_view raw, std::string& out);

// Number::toString of a double ("null" for NaN and the infinities, as JSON.stringify writes).
std::string FormatEcmaScriptNumber(double value);

// Appends `utf8` as a quoted JSON string as JSON.stringify writes it (control characters
// \u00xx in lowercase hex). Invalid UTF-8 sequences are written as U+FFFD.
void WriteEcmaScriptString(std::string_view utf8, std::string& out);

// The two ways GovESB clients re-serialise `data` before verifying the bus's signature: Java
// clients with Jackson (WriteCompact), Node clients with JSON.stringify(JSON.parse(...))
// (WriteEcmaScriptCompact). The bus writes what it signs in the form the receiving system
// verifies (docs/serialisation.md).
enum class JsonStyle { kJackson, kEcmaScript };
std::string_view JsonStyleName(JsonStyle style);     // "jackson" | "node"
JsonStyle JsonStyleFromName(std::string_view name);  // "node": kEcmaScript, else kJackson

// Which of the two forms a client's signed data text is in, when only one of them fits it
// exactly and it holds something that tells them apart (a number with a fraction or an
// exponent, a control character, a member order or repetition that JSON.parse changes);
// nullopt otherwise (most texts read the same both ways). Cheap when nothing tells them apart:
// one scan, no copies.
std::optional<JsonStyle> SignedStyle(std::string_view data_raw);

// Appends the JSON value `json` as XML in the form the Node and PHP helpers produce (contract
// section 7): an object is <element> holding one child element per member, in order; an array
// repeats <element> once per item; null writes nothing; a string, number or boolean is
// <element>text</element> with & < > escaped (numbers keep their JSON text); an empty object or
// string is <element></element>. `json` is validated in the same pass; on error `out` is left
// as it was.
Status WriteXml(std::string_view json, std::string_view element, std::string& out);

// Appends the code point `cp` (<= 0x10FFFF) encoded as UTF-8.
void AppendUtf8(uint32_t cp, std::string& out);

bool IsValidUtf8(std::string_view text);

// Reads every byte as an ISO-8859-1 character (U+0000..U+00FF) and encodes it as UTF-8.
std::string Latin1ToUtf8(std::string_view latin1);

}  // namespace govesb::wire
