#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace govesb {

// Makes untrusted text (request fields, header values, peer-supplied names) safe to put in one
// log line, inside key="..." if wanted:
//   - control characters 0x00-0x1F and 0x7F become \n, \r, \t or \xHH (ESC is \x1b);
//   - bytes that are not part of well-formed UTF-8 (stray continuation bytes, overlong forms,
//     surrogates, code points above U+10FFFF, cut sequences) become \xHH, one per byte;
//   - well-formed UTF-8 is kept, except the characters that can fake or reorder a line:
//     C1 controls U+0080-U+009F, the line and paragraph separators U+2028/U+2029 and the bidi
//     controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), written \u{XXXX};
//   - a backslash is doubled and a double quote becomes \".
// The escaped text is cut at `max_bytes` bytes of output, never inside an escape or a UTF-8
// sequence; when anything was cut, "…(N bytes)" follows, N being the size of the original.
// So the result is at most max_bytes + 24 bytes long, whatever the input. Thread-safe, no I/O.
std::string LogSafe(std::string_view untrusted, size_t max_bytes = 256);

// The same, appended to `out` (no allocation when `out` has room).
void AppendLogSafe(std::string& out, std::string_view untrusted, size_t max_bytes = 256);

// The same text as the content of a JSON string (without the quotes): valid JSON on one line
// whatever the input. Quotes and backslashes are escaped as JSON does, control characters and
// the hidden characters above as \u00XX / \uXXXX, bytes outside well-formed UTF-8 as \uFFFD
// (one per byte); cut at `max_bytes` like AppendLogSafe.
void AppendJsonLogSafe(std::string& out, std::string_view untrusted, size_t max_bytes = 256);

// A view that formats through LogSafe: spdlog::info("api={}", Untrusted(api_code)) with
// base/log_safe_fmt.h included. Holds a view: use it within the call that formats it.
struct LogSafeView {
  std::string_view text;
  size_t max_bytes = 256;
};

inline LogSafeView Untrusted(std::string_view text, size_t max_bytes = 256) {
  return LogSafeView{text, max_bytes};
}

}  // namespace govesb
