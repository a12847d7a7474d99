#pragma once

// The canonical JSON of documents the bus signs as a whole (the subject access report,
// subject_report.h): RFC 8785, the JSON Canonicalization Scheme (JCS), for the values such
// documents hold. Pure functions, thread-safe.
//
// The form: no whitespace; object members sorted by their names compared as UTF-16 code units;
// strings with `"` and `\` escaped, U+0008, U+0009, U+000A, U+000C, U+000D as \b \t \n \f \r, the
// other characters below U+0020 as \u00xx (lowercase hex), everything else as raw UTF-8;
// integers in decimal without sign for zero or leading zeros. Numbers must be integers of at
// most 2^53 - 1 in magnitude (what every JSON implementation reads exactly): a fraction or a
// larger integer is refused rather than given a form that implementations disagree on. For such
// values this is byte for byte what `JSON.stringify` of a value whose keys were sorted gives,
// and Python's json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace govesb::evidence {

inline constexpr int64_t kMaxCanonicalInteger = (int64_t{1} << 53) - 1;

// The canonical text of `value`. kInvalidArgument naming the first member that cannot be put in
// canonical form (a fraction, an integer out of range, a string that is not UTF-8).
Result<std::string> CanonicalJson(const boost::json::value& value);

// `utf8` as a canonical JSON string (quotes included), appended to `out`. `utf8` must be valid
// UTF-8 (see ValidUtf8).
void AppendCanonicalString(std::string_view utf8, std::string& out);

// `text` with every byte that is not part of a well-formed UTF-8 sequence (overlong forms,
// surrogates and values above U+10FFFF included) replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);
bool IsValidUtf8(std::string_view text);

}  // namespace govesb::evidence
