#include "base/log_safe.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/log_safe_fmt.h"

namespace govesb {
namespace {

constexpr size_t kNoLimit = static_cast<size_t>(-1);

// What one byte on its own must become, written from the rules and not from the code.
std::string ExpectedAlone(int b) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (b == '\n') return "\\n";
  if (b == '\r') return "\\r";
  if (b == '\t') return "\\t";
  if (b == '\\') return "\\\\";
  if (b == '"') return "\\\"";
  if (b >= 0x20 && b < 0x7F) return std::string(1, static_cast<char>(b));
  return std::string("\\x") + kHex[b >> 4] + kHex[b & 0xF];
}

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

TEST(LogSafe, EveryByteAlone) {
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(LogSafe(std::string(1, static_cast<char>(b))), ExpectedAlone(b)) << "byte " << b;
  }
}

TEST(LogSafe, EveryByteAfterValidText) {
  const std::string prefix = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 ok";  // café € 😀 ok
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(LogSafe(prefix + static_cast<char>(b)), prefix + ExpectedAlone(b)) << "byte " << b;
  }
}

TEST(LogSafe, EveryByteAfterALeadByte) {
  for (int b = 0; b < 256; ++b) {
    const std::string in = Bytes({0xC3, b});
    if (b >= 0x80 && b <= 0xBF) {
      EXPECT_EQ(LogSafe(in), in) << "byte " << b;  // U+00C0..U+00FF, printable
    } else {
      EXPECT_EQ(LogSafe(in), "\\xc3" + ExpectedAlone(b)) << "byte " << b;
    }
  }
}

TEST(LogSafe, EveryCodePoint) {
  for (uint32_t cp = 0x80; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const bool hidden = (cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
                        (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
    const std::string out = LogSafe(Utf8(cp), kNoLimit);
    if (hidden) {
      char expected[16];
      std::snprintf(expected, sizeof expected, "\\u{%04X}", cp);
      ASSERT_EQ(out, expected) << "U+" << std::hex << cp;
    } else {
      ASSERT_EQ(out, Utf8(cp)) << "U+" << std::hex << cp;
    }
  }
}

TEST(LogSafe, IllFormedUtf8IsEscapedBytewise) {
  EXPECT_EQ(LogSafe(Bytes({0xC0, 0x80})), "\\xc0\\x80");                        // overlong NUL
  EXPECT_EQ(LogSafe(Bytes({0xE0, 0x80, 0xAF})), "\\xe0\\x80\\xaf");             // overlong '/'
  EXPECT_EQ(LogSafe(Bytes({0xF0, 0x80, 0x80, 0xAF})), "\\xf0\\x80\\x80\\xaf");  // overlong
  EXPECT_EQ(LogSafe(Bytes({0xED, 0xA0, 0x80})), "\\xed\\xa0\\x80");             // surrogate
  EXPECT_EQ(LogSafe(Bytes({0xF4, 0x90, 0x80, 0x80})), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  EXPECT_EQ(LogSafe(Bytes({0xE2, 0x82})), "\\xe2\\x82");                        // cut short
  EXPECT_EQ(LogSafe(Bytes({0xE2, 0x82, 'A'})), "\\xe2\\x82A");
  EXPECT_EQ(LogSafe(Bytes({0xF5, 0x80, 0x80, 0x80})), "\\xf5\\x80\\x80\\x80");
  // Surrogates and values past U+10FFFF in every form.
  for (uint32_t cp = 0xD800; cp <= 0xDFFF; ++cp) {
    const std::string in = Utf8(cp);
    ASSERT_EQ(LogSafe(in).find_first_of("\x80\xBF\xED"), std::string::npos);
  }
}

TEST(LogSafe, ForgedLogLineStaysOnOneLine) {
  const std::string api = "getX\n2024-01-01 [info] admin logged in\x1b[31m\r\xE2\x80\xAE\"";
  EXPECT_EQ(LogSafe(api), "getX\\n2024-01-01 [info] admin logged in\\x1b[31m\\r\\u{202E}\\\"");
}

// Each element of the input with what it must become: truncation may cut only between them.
struct Element {
  std::string in;
  std::string out;
};

TEST(LogSafe, TruncationCutsOnlyBetweenElements) {
  const std::vector<Element> elements = {{"ab", "ab"},
                                         {"\n", "\\n"},
                                         {"\xC3\xA9", "\xC3\xA9"},
                                         {"\x1b", "\\x1b"},
                                         {"c", "c"},
                                         {"\xE2\x80\xA8", "\\u{2028}"},
                                         {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
                                         {"\\", "\\\\"},
                                         {"\xFF", "\\xff"},
                                         {"d", "d"}};
  std::string input;
  std::string full;
  std::vector<size_t> boundaries = {0};
  for (const Element& e : elements) {
    input += e.in;
    const bool plain = e.out == e.in && static_cast<uint8_t>(e.in[0]) < 0x80;
    if (plain) {  // plain ASCII may be cut anywhere
      for (size_t k = 0; k < e.out.size(); ++k) boundaries.push_back(boundaries.back() + 1);
    } else {
      boundaries.push_back(boundaries.back() + e.out.size());
    }
    full += e.out;
  }
  ASSERT_EQ(LogSafe(input, kNoLimit), full);
  const std::string suffix = "\u2026(" + std::to_string(input.size()) + " bytes)";
  for (size_t max = 0; max <= full.size() + 2; ++max) {
    size_t cut = 0;
    for (size_t b : boundaries) {
      if (b <= max) cut = b;
    }
    const std::string expected = full.substr(0, cut) + (cut < full.size() ? suffix : "");
    EXPECT_EQ(LogSafe(input, max), expected) << "max " << max;
  }
}

TEST(LogSafe, ExactFitHasNoSuffix) {
  EXPECT_EQ(LogSafe("abc", 3), "abc");
  EXPECT_EQ(LogSafe("abcd", 3), "abc\u2026(4 bytes)");
  EXPECT_EQ(LogSafe("", 0), "");
  EXPECT_EQ(LogSafe("a", 0), "\u2026(1 bytes)");
}

TEST(LogSafe, AppendKeepsWhatIsThere) {
  std::string line = "api=\"";
  AppendLogSafe(line, "x\"y", 10);
  line += '"';
  EXPECT_EQ(line, "api=\"x\\\"y\"");
  // The limit counts only what is appended.
  std::string more = "0123456789";
  AppendLogSafe(more, "abcdef", 3);
  EXPECT_EQ(more, "0123456789abc\u2026(6 bytes)");
}

TEST(LogSafe, OneMegabyteInputIsBoundedAndClean) {
  std::mt19937 rng(13);
  std::string input(1 << 20, '\0');
  for (char& c : input) c = static_cast<char>(rng() & 0xFF);
  const std::string out = LogSafe(input);
  EXPECT_LE(out.size(), 256 + std::string("\u2026(1048576 bytes)").size());
  EXPECT_TRUE(out.ends_with("\u2026(1048576 bytes)"));
  const std::string all = LogSafe(input, kNoLimit);
  EXPECT_GE(all.size(), input.size());
  for (char c : all) {
    const auto b = static_cast<uint8_t>(c);
    ASSERT_TRUE(b >= 0x20 && b != 0x7F) << static_cast<int>(b);
  }
  EXPECT_EQ(all.find("\xE2\x80\xA8"), std::string::npos);
  // Escaping is idempotent only in the sense that its output needs no more than \\ and \".
  const std::string again = LogSafe(all, kNoLimit);
  std::string undoubled;
  for (size_t i = 0; i < again.size(); ++i) {
    if (again[i] == '\\') ++i;
    undoubled += again[i];
  }
  EXPECT_EQ(undoubled, all);
}

TEST(LogSafe, FormatsThroughFmt) {
  EXPECT_EQ(fmt::format("api={} n={}", Untrusted("a\nb\x1b"), 3), "api=a\\nb\\x1b n=3");
  EXPECT_EQ(fmt::format("{}", Untrusted("abcdef", 2)), "ab\u2026(6 bytes)");
}

}  // namespace
}  // namespace govesb
