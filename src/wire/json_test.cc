#include "wire/json.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace govesb::wire {
namespace {

using std::string_literals::operator""s;

// ---------------------------------------------------------------------------------------------
// ValidateJson

TEST(ValidateJsonTest, AcceptsValidDocuments) {
  const std::vector<std::string> accepted = {
      "{}",
      "[]",
      " \t\r\n{ } \n",
      "0",
      "-0",
      "-0.0e-0",
      "12345678901234567890123",
      "1.5E+10",
      "1e400",  // out of double range, still valid JSON
      "true",
      "false",
      "null",
      R"("")",
      R"("a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00")",
      R"("\ud800")",  // escaped lone surrogate: valid JSON text
      "\"\xC3\xA9\"",
      "\"\xE2\x82\xAC\"",
      "\"\xF0\x9F\x98\x80\"",
      "\"\xF4\x8F\xBF\xBF\"",  // U+10FFFF
      "\"\x7F\"",
      R"({"a":[1,2,{"b":null}],"c":{"d":"}{]["}})",
      R"({"a":1,"a":2})",  // duplicate keys are valid JSON
  };
  for (const std::string& text : accepted) {
    EXPECT_TRUE(ValidateJson(text).ok()) << text << ": " << ValidateJson(text).message();
  }
}

TEST(ValidateJsonTest, RejectsInvalidDocuments) {
  const std::vector<std::string> rejected = {
      "",
      "   ",
      "{",
      "}",
      "[1,]",         // trailing comma in array
      R"({"a":1,})",  // trailing comma in object
      R"({,"a":1})",
      "[,1]",
      "01",  // leading zero
      "-01",
      "00",
      "1.",
      ".5",
      "-",
      "+1",
      "1e",
      "1e+",
      "0x10",
      "NaN",
      "Infinity",
      "tru",
      "nul",
      "True",
      R"({"a" 1})",
      R"({a:1})",
      R"({'a':1})",
      R"(['a'])",
      R"("\x")",  // bad escape
      R"("\u12")",
      R"("\u12G4")",
      R"("\)",
      "\"abc",
      "\"a\nb\"",  // raw control characters in strings
      "\"a\tb\"",
      "\"a\x01\"",
      "\"\xED\xA0\x80\"",  // UTF-8-encoded surrogate U+D800
      "\"\xED\xBF\xBF\"",  // U+DFFF
      "\"\xC0\xAF\"",      // overlong '/'
      "\"\xC1\xBF\"",
      "\"\xE0\x80\xAF\"",      // overlong, 3 bytes
      "\"\xF0\x80\x80\xAF\"",  // overlong, 4 bytes
      "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
      "\"\xF5\x80\x80\x80\"",
      "\"\xFF\"",
      "\"\x80\"",  // lone continuation byte
      "\"\xC3\"",  // truncated sequence
      "\"\xE2\x82\"",
      "{} {}",  // trailing garbage
      "[1] x",
      "1 2",
      "{}\x00"s,
      "[1}",
      R"({"a":1])",
      "\xEF\xBB\xBF{}",  // BOM is not JSON
  };
  for (const std::string& text : rejected) {
    const Status status = ValidateJson(text);
    EXPECT_FALSE(status.ok()) << "accepted: " << text;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(ValidateJsonTest, ErrorsSayWhere) {
  EXPECT_EQ(ValidateJson("[1,]").message(),
            "unexpected character ']' (expected a value) at byte 3");
  EXPECT_EQ(ValidateJson("{\"a\":1} x").message(),
            "unexpected character 'x' (expected end of input after the JSON value) at byte 8");
  EXPECT_EQ(ValidateJson("\"\xC0\xAF\"").message(), "invalid UTF-8 at byte 1");
  EXPECT_EQ(ValidateJson("[1").message(), "unexpected end of input at byte 2");
}

// Strings are scanned 16 bytes at a time: whatever a string holds at whatever position (inside
// the first block, across a block boundary, in the last bytes scanned one at a time), the
// outcome and the byte an error names are those of a byte-at-a-time reading.
TEST(ValidateJsonTest, EveryPositionInALongStringIsSeen) {
  struct Case {
    std::string inserted;
    std::string error;  // "" when the text is valid; else the message without " at byte N"
  };
  const std::vector<Case> cases = {
      {"\\n", ""},
      {"\\u00e9", ""},
      {"\xC3\xA9", ""},          // é
      {"\xF0\x9F\x99\x82", ""},  // an emoji, 4 bytes
      {std::string(1, '\x01'), "unescaped control character in string"},
      {"\x1F", "unescaped control character in string"},
      {"\xFF", "invalid UTF-8"},
      {"\\x", "invalid escape \\character 'x' in string"},
  };
  for (const Case& c : cases) {
    for (size_t at = 0; at <= 40; ++at) {
      const std::string text =
          "\"" + std::string(at, 'a') + c.inserted + std::string(40 - at, 'b') + "\"";
      const Status status = ValidateJson(text);
      if (c.error.empty()) {
        EXPECT_TRUE(status.ok()) << "at " << at << ": " << status.message();
        auto members = ScanObject("{\"k\":" + text + "}");
        EXPECT_TRUE(members.ok()) << "at " << at;
      } else {
        EXPECT_EQ(status.message(), c.error + " at byte " + std::to_string(1 + at)) << "at " << at;
      }
    }
  }
  // A long string without a closing quote, and the quote as the last byte of a block.
  EXPECT_EQ(ValidateJson("\"" + std::string(47, 'x')).message(), "unterminated string at byte 48");
  EXPECT_TRUE(ValidateJson("\"" + std::string(15, 'x') + "\"").ok());
  EXPECT_TRUE(ValidateJson("\"" + std::string(31, 'x') + "\"").ok());
}

TEST(ValidateJsonTest, DepthBombFailsWithoutCrashing) {
  const std::string bomb(100000, '[');
  const Status status = ValidateJson(bomb);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("nesting deeper than 200"), std::string::npos)
      << status.message();

  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += "{\"a\":";
    return s;
  }();
  EXPECT_FALSE(ValidateJson(objects).ok());
  EXPECT_FALSE(ScanObject(objects).ok());
  std::string out = "keep";
  EXPECT_FALSE(WriteCompact(bomb, out).ok());
  EXPECT_EQ(out, "keep");
}

TEST(ValidateJsonTest, DepthLimitIsExact) {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(ValidateJson(nested(200)).ok());
  EXPECT_FALSE(ValidateJson(nested(201)).ok());
  EXPECT_TRUE(ValidateJson(nested(5), 5).ok());
  EXPECT_FALSE(ValidateJson(nested(6), 5).ok());
  // Deeper than the inline stack of the scanner.
  EXPECT_TRUE(ValidateJson(nested(1000), 1000).ok());
  EXPECT_FALSE(ValidateJson(nested(1000) + "]", 1000).ok());
  // Mixed containers at depth, closed in the right order only.
  EXPECT_TRUE(ValidateJson(R"([{"a":[{"b":[]}]}])").ok());
  EXPECT_FALSE(ValidateJson(R"([{"a":[{"b":[]]}])").ok());
}

// ---------------------------------------------------------------------------------------------
// ScanObject

TEST(ScanObjectTest, SpansAreExactSubstringsOfTheInput) {
  const std::string text =
      " {\n  \"apiCode\" :  \"ABC123\" ,\n  \"esbBody\": { \"a\" : [1, 2] , \"s\": \"}{\\\"\" },"
      "\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null,\"arr\":[ ]}\n";
  auto members = ScanObject(text);
  ASSERT_TRUE(members.ok()) << members.status().message();
  ASSERT_EQ(members->size(), 7u);
  const auto& m = *members;
  EXPECT_EQ(m[0].key, "apiCode");
  EXPECT_EQ(m[0].raw, "\"ABC123\"");
  EXPECT_EQ(m[0].type, JsonType::kString);
  EXPECT_EQ(m[1].key, "esbBody");
  EXPECT_EQ(m[1].raw, R"({ "a" : [1, 2] , "s": "}{\"" })");
  EXPECT_EQ(m[1].type, JsonType::kObject);
  EXPECT_EQ(m[2].raw, "-1.5e3");
  EXPECT_EQ(m[2].type, JsonType::kNumber);
  EXPECT_EQ(m[3].type, JsonType::kTrue);
  EXPECT_EQ(m[4].type, JsonType::kFalse);
  EXPECT_EQ(m[5].type, JsonType::kNull);
  EXPECT_EQ(m[6].raw, "[ ]");
  EXPECT_EQ(m[6].type, JsonType::kArray);
  for (const JsonMember& member : m) {
    // Views point into the input, not into copies.
    EXPECT_GE(member.raw.data(), text.data());
    EXPECT_LE(member.raw.data() + member.raw.size(), text.data() + text.size());
  }
}

TEST(ScanObjectTest, DecodesKeysAndKeepsDuplicatesInOrder) {
  auto members = ScanObject(R"({"a":1,"b\u00e9\n":2,"a":3})");
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 3u);
  EXPECT_EQ((*members)[1].key, "b\xC3\xA9\n");
  const JsonMember* a = FindMember(*members, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->raw, "3");  // the last one, like Jackson and JSON.parse
  EXPECT_EQ(FindMember(*members, "missing"), nullptr);
}

TEST(ScanObjectTest, IntoAReusedVectorLeavesNothingOfTheLastObject) {
  std::vector<JsonMember> members;
  ASSERT_TRUE(ScanObjectInto(R"({"a-long-key-of-some-length":1,"b":2,"c":3})", members).ok());
  ASSERT_EQ(members.size(), 3u);
  ASSERT_TRUE(ScanObjectInto(R"({"b\u00e9":[true]})", members).ok());
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].key, "b\xC3\xA9");
  EXPECT_EQ(members[0].raw, "[true]");
  EXPECT_EQ(members[0].type, JsonType::kArray);
  ASSERT_TRUE(ScanObjectInto("{}", members).ok());
  EXPECT_TRUE(members.empty());
  ASSERT_TRUE(ScanObjectInto(R"({"x":"y","a-long-key-of-some-length":null})", members).ok());
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].key, "x");
  EXPECT_EQ(members[1].key, "a-long-key-of-some-length");
  EXPECT_EQ(members[1].type, JsonType::kNull);
  EXPECT_FALSE(ScanObjectInto(R"({"x":1,})", members).ok());
}

TEST(ScanObjectTest, EmptyObject) {
  auto members = ScanObject(" { } ");
  ASSERT_TRUE(members.ok());
  EXPECT_TRUE(members->empty());
}

TEST(ScanObjectTest, RejectsNonObjectsAndInvalidValues) {
  EXPECT_FALSE(ScanObject("[]").ok());
  EXPECT_FALSE(ScanObject("\"x\"").ok());
  EXPECT_FALSE(ScanObject("").ok());
  EXPECT_FALSE(ScanObject(R"({"a":01})").ok());
  EXPECT_FALSE(ScanObject(R"({"a":1,})").ok());
  EXPECT_FALSE(ScanObject(R"({"a":1} {})").ok());
  EXPECT_FALSE(ScanObject("{\"a\":\"\xED\xA0\x80\"}").ok());
  EXPECT_FALSE(ScanObject("{\"\xFF\":1}").ok());
}

// ---------------------------------------------------------------------------------------------
// DecodeString

TEST(DecodeStringTest, Escapes) {
  EXPECT_EQ(*DecodeString(R"("plain")"), "plain");
  EXPECT_EQ(*DecodeString(R"("a\"b\\c\/d\b\f\n\r\t")"), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(*DecodeString(R"("\u00e9\u20AC")"), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(*DecodeString(R"("\uD83D\uDE00")"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(*DecodeString(R"("\u0000")"), "\0"s);
}

TEST(DecodeStringTest, LoneSurrogatesBecomeReplacementCharacter) {
  EXPECT_EQ(*DecodeString(R"("\ud800")"), "\xEF\xBF\xBD");
  EXPECT_EQ(*DecodeString(R"("\udc00x")"), "\xEF\xBF\xBDx");
  EXPECT_EQ(*DecodeString(R"("\ud800\u0041")"),
            "\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(*DecodeString(R"("\ud800\ud800\udc00")"), "\xEF\xBF\xBD\xF0\x90\x80\x80");
}

TEST(DecodeStringTest, RejectsNonTokens) {
  EXPECT_FALSE(DecodeString("abc").ok());
  EXPECT_FALSE(DecodeString(R"("abc)").ok());
  EXPECT_FALSE(DecodeString(R"("a"b")").ok());
  EXPECT_FALSE(DecodeString(R"("\q")").ok());
  EXPECT_FALSE(DecodeString("").ok());
}

// ---------------------------------------------------------------------------------------------
// WriteCompact

std::string Compact(std::string_view raw, Escaping escaping = Escaping::kJackson) {
  std::string out;
  const Status status = WriteCompact(raw, out, escaping);
  EXPECT_TRUE(status.ok()) << raw << ": " << status.message();
  return out;
}

TEST(WriteCompactTest, RemovesWhitespaceAndKeepsMemberOrder) {
  EXPECT_EQ(Compact(" { \"z\" : 1 ,\n\t\"a\" : [ 1 , 2 , { } , [ ] ] , \"m\" : { \"y\" : null , "
                    "\"x\" : true } }\r\n"),
            R"({"z":1,"a":[1,2,{},[]],"m":{"y":null,"x":true}})");
  EXPECT_EQ(Compact(R"({"a":1,"a":2})"), R"({"a":1,"a":2})");
  EXPECT_EQ(Compact("\"only a string\""), "\"only a string\"");
  EXPECT_EQ(Compact(" false "), "false");
}

TEST(WriteCompactTest, AppendsToExistingOutput) {
  std::string out = "prefix:";
  ASSERT_TRUE(WriteCompact("[ 1 ]", out).ok());
  EXPECT_EQ(out, "prefix:[1]");
}

TEST(WriteCompactTest, InvalidInputLeavesOutputUntouched) {
  std::string out = "prefix:";
  EXPECT_FALSE(WriteCompact(R"({"a":[1,2,)", out).ok());
  EXPECT_EQ(out, "prefix:");
  EXPECT_FALSE(WriteCompact("[1] [2]", out).ok());
  EXPECT_EQ(out, "prefix:");
}

TEST(WriteCompactTest, StringEscapesJacksonStyle) {
  EXPECT_EQ(Compact(R"("\u001f\u001F\u0001\u007f")"), "\"\\u001F\\u001F\\u0001\x7F\"");
  EXPECT_EQ(Compact(R"("\b\t\n\f\r")"), R"("\b\t\n\f\r")");
  EXPECT_EQ(Compact(R"("\u0008\u0009\u000a\u000C\u000d")"), R"("\b\t\n\f\r")");
  EXPECT_EQ(Compact(R"("a/b")"), R"("a/b")");
  EXPECT_EQ(Compact(R"("a\/b")"), R"("a/b")");
  EXPECT_EQ(Compact(R"("q\"b\\")"), R"("q\"b\\")");
  EXPECT_EQ(Compact(R"("\u0022\u005c")"), R"("\"\\")");
  EXPECT_EQ(Compact(R"("\u0041")"), R"("A")");
  EXPECT_EQ(Compact(R"({"k\/ey":"v"})"), R"({"k/ey":"v"})");
}

TEST(WriteCompactTest, NonAsciiRawOrEscaped) {
  const std::string raw_text = "\"caf\xC3\xA9 \xE2\x82\xAC\"";
  EXPECT_EQ(Compact(raw_text), raw_text);
  EXPECT_EQ(Compact(raw_text, Escaping::kAsciiEscaped), R"("caf\u00e9 \u20ac")");
  EXPECT_EQ(Compact(R"("caf\u00E9")"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(Compact(R"("caf\u00E9")", Escaping::kAsciiEscaped), R"("caf\u00e9")");
  // Emoji: surrogate pairs in, UTF-8 out (Jackson) or lowercase pairs out (escaped).
  EXPECT_EQ(Compact(R"("\uD83D\uDE00")"), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(Compact("\"\xF0\x9F\x98\x80\"", Escaping::kAsciiEscaped), R"("\ud83d\ude00")");
  EXPECT_EQ(Compact(R"("\uD83D\uDE00")", Escaping::kAsciiEscaped), R"("\ud83d\ude00")");
  // Lone surrogates become U+FFFD.
  EXPECT_EQ(Compact(R"("\ud800")"), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(Compact(R"("\ud800")", Escaping::kAsciiEscaped), R"("\ufffd")");
  // Keys too.
  EXPECT_EQ(Compact("{\"\xC3\xA9\":1}", Escaping::kAsciiEscaped), R"({"\u00e9":1})");
  // Control characters keep the Jackson spelling in the escaped variant.
  EXPECT_EQ(Compact(R"("\u001f\n")", Escaping::kAsciiEscaped), R"("\u001F\n")");
}

TEST(WriteCompactTest, IntegersKeptVerbatim) {
  EXPECT_EQ(Compact("12345678901234567890123"), "12345678901234567890123");
  EXPECT_EQ(Compact("-12345678901234567890123"), "-12345678901234567890123");
  EXPECT_EQ(Compact("0"), "0");
  EXPECT_EQ(Compact("-0"), "-0");
  EXPECT_EQ(Compact("[ 7 , -3 ]"), "[7,-3]");
}

TEST(WriteCompactTest, DoublesLikeJavaDoubleToString) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1.0", "1.0"},
      {"1e2", "100.0"},
      {"1E2", "100.0"},
      {"1.5E-5", "1.5E-5"},
      {"12345678.9", "1.23456789E7"},
      {"0.001", "0.001"},
      {"0.0001", "1.0E-4"},
      {"1.00", "1.0"},
      {"100.0", "100.0"},
      {"1234567.5", "1234567.5"},
      {"9999999.0", "9999999.0"},
      {"1e7", "1.0E7"},
      {"10000000.0", "1.0E7"},
      {"-2.5e10", "-2.5E10"},
      {"1.234e-5", "1.234E-5"},
      {"0.1", "0.1"},
      {"0.3", "0.3"},
      {"3.14159", "3.14159"},
      {"0.0", "0.0"},
      {"-0.0", "-0.0"},
      {"0e10", "0.0"},
      {"-0e-10", "-0.0"},
      {"1.7976931348623157e308", "1.7976931348623157E308"},
      {"4.9e-324", "4.9E-324"},  // Double.MIN_VALUE: Java prints two digits here
      {"5e-324", "4.9E-324"},
      {"1e23", "1.0E23"},
      {"2e-3", "0.002"},
      {"123.456", "123.456"},
      {"1e-400", "0.0"},  // underflows to zero, as in Java
      {"-1e-400", "-0.0"},
      {"1e400", "1e400"},  // too large for a double: original text kept
      {"-1.5e99999", "-1.5e99999"},
      {"0.000000000001e300", "1.0E288"},
      {"1000e-330", "0.0"},
      {"123456789012345678901234567890.0", "1.2345678901234568E29"},
  };
  for (const auto& [in, expected] : cases) EXPECT_EQ(Compact(in), expected) << in;
  EXPECT_EQ(Compact(R"({"amount": 1.50, "n": 2})"), R"({"amount":1.5,"n":2})");
}

TEST(FormatJavaDoubleTest, SpecialValues) {
  EXPECT_EQ(FormatJavaDouble(1.0 / 0.0), "Infinity");
  EXPECT_EQ(FormatJavaDouble(-1.0 / 0.0), "-Infinity");
  EXPECT_EQ(FormatJavaDouble(0.0 / 0.0), "NaN");
  EXPECT_EQ(FormatJavaDouble(2.0), "2.0");
  EXPECT_EQ(FormatJavaDouble(-0.5), "-0.5");
  EXPECT_EQ(FormatJavaDouble(1e-3), "0.001");
  EXPECT_EQ(FormatJavaDouble(9.999e-4), "9.999E-4");
}

// ---------------------------------------------------------------------------------------------
// WriteString, UTF-8 helpers

TEST(WriteStringTest, JacksonStyle) {
  std::string out;
  WriteString("a\"b\\c/d\x01\x1f\b\t\n\f\r\xC3\xA9", out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c/d\\u0001\\u001F\\b\\t\\n\\f\\r\xC3\xA9\"");
  out.clear();
  WriteString("", out);
  EXPECT_EQ(out, "\"\"");
  out.clear();
  WriteString("\xC3\xA9\xF0\x9F\x98\x80", out, Escaping::kAsciiEscaped);
  EXPECT_EQ(out, R"("\u00e9\ud83d\ude00")");
}

// Escaping goes character by character, so a string escapes as its parts do. Each byte that
// needs attention (every control byte, '"', '\\', a UTF-8 sequence, an invalid byte) is put at
// every position of a plain text long enough to be scanned in words, after every plain byte
// value: the fast scan for plain runs must stop exactly there.
TEST(WriteStringTest, EveryEscapeIsFoundAtEveryPosition) {
  auto inner = [](std::string_view s, Escaping e) {
    std::string out;
    WriteString(s, out, e);
    return out.substr(1, out.size() - 2);
  };
  std::vector<std::string> specials = {"\"", "\\", "\xC3\xA9", "\xFF", "\x7F"};
  for (int c = 0; c < 0x20; ++c) specials.push_back(std::string(1, static_cast<char>(c)));
  for (Escaping e : {Escaping::kJackson, Escaping::kAsciiEscaped}) {
    for (const std::string& special : specials) {
      for (int plain = 0x20; plain < 0x80; ++plain) {
        if (plain == '"' || plain == '\\') continue;
        for (size_t at = 0; at < 20; ++at) {
          std::string before(at, static_cast<char>(plain));
          std::string after(19 - at, 'x');
          std::string text = before + special + after;
          ASSERT_EQ(inner(text, e), inner(before, e) + inner(special, e) + inner(after, e))
              << "special byte " << static_cast<int>(static_cast<unsigned char>(special[0]))
              << " at " << at << " after " << plain;
        }
      }
    }
  }
}

TEST(WriteStringTest, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  WriteString(
      "a\xFF"
      "b\xC3",
      out);
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\"");
  EXPECT_TRUE(ValidateJson(out).ok());
}

TEST(WriteStringTest, RoundTripsThroughDecodeString) {
  const std::string text = "line\nquote\" slash/ back\\ \x01 \xE2\x82\xAC \xF0\x9F\x98\x80";
  std::string out;
  WriteString(text, out);
  ASSERT_TRUE(ValidateJson(out).ok());
  EXPECT_EQ(*DecodeString(out), text);
  out.clear();
  WriteString(text, out, Escaping::kAsciiEscaped);
  EXPECT_EQ(*DecodeString(out), text);
}

TEST(Utf8Test, IsValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii text that is longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("caf\xE9"));
  EXPECT_FALSE(IsValidUtf8("0123456789abcdef\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
}

TEST(Utf8Test, Latin1ToUtf8) {
  EXPECT_EQ(Latin1ToUtf8("caf\xE9"), "caf\xC3\xA9");
  EXPECT_EQ(Latin1ToUtf8("\xFF\x80 ascii"), "\xC3\xBF\xC2\x80 ascii");
  EXPECT_EQ(Latin1ToUtf8(""), "");
}

// ---------------------------------------------------------------------------------------------
// WriteXml

std::string Xml(std::string_view json, std::string_view element = "data") {
  std::string out;
  const Status status = WriteXml(json, element, out);
  EXPECT_TRUE(status.ok()) << json << ": " << status.message();
  return out;
}

TEST(WriteXmlTest, NodeHelperShapes) {
  EXPECT_EQ(Xml(R"({"apiCode":"ABC12","esbBody":{"name":"a<b&c>","n":1.50,"ok":true}})"),
            "<data><apiCode>ABC12</apiCode><esbBody><name>a&lt;b&amp;c&gt;</name><n>1.50</n>"
            "<ok>true</ok></esbBody></data>");
  EXPECT_EQ(Xml(R"({"list":[1,{"a":"x"},[2,3]],"gone":null,"empty":{},"blank":""})"),
            "<data><list>1</list><list><a>x</a></list><list>2</list><list>3</list>"
            "<empty></empty><blank></blank></data>");
  EXPECT_EQ(Xml(R"({"s":"\u00e9\n"})"), "<data><s>\xC3\xA9\n</s></data>");
  EXPECT_EQ(Xml("{}"), "<data></data>");
}

TEST(WriteXmlTest, InvalidJsonLeavesOutputUntouched) {
  std::string out = "x";
  EXPECT_FALSE(WriteXml(R"({"a":)", "data", out).ok());
  EXPECT_EQ(out, "x");
}

// JSON.stringify(JSON.parse(input)) as Node.js 18 computes it, for inputs that tell clients
// apart (made with `node -e`, see docs/serialisation.md): WriteEcmaScriptCompact must agree.
TEST(EcmaScriptCompact, AgreesWithNodeOnWhatTellsClientsApart) {
  const std::vector<std::pair<std::string, std::string>> golden = {
      {"{\"a\":1.0,\"b\":1.0E-4,\"c\":\"x\\u0001y\\u001Fz\",\"d\":100.0,\"e\":-0,\"f\":-0.0}",
       "{\"a\":1,\"b\":0.0001,\"c\":\"x\\u0001y\\u001fz\",\"d\":100,\"e\":0,\"f\":0}"},
      {"[1e21,1e20,123456789012345678901234,1e-7,1.5e-7,0.000001,12345678901234567890,"
       "9007199254740993]",
       "[1e+21,100000000000000000000,1.2345678901234569e+23,1e-7,1.5e-7,0.000001,"
       "12345678901234567000,9007199254740992]"},
      {"{\"b\":1,\"2\":2,\"1\":3,\"a\":4,\"b\":5,\"01\":6,\"4294967295\":7,\"4294967294\":8}",
       "{\"1\":3,\"2\":2,\"4294967294\":8,\"b\":5,\"a\":4,\"01\":6,\"4294967295\":7}"},
      {"\"\\ud83d\\ude00 \\ud800 \\udc00x \\u00e9 \xc3\xa9"
       " \\/ \\\" \\\\ \\b\\f\\n\\r\\t \\u007f \\u2028\"",
       "\"\xf0\x9f\x98\x80"
       " \\ud800 \\udc00x \xc3\xa9"
       " \xc3\xa9"
       " / \\\" \\\\ \\b\\f\\n\\r\\t \x7f"
       " \xe2\x80\xa8"
       "\""},
      {"{\"\\u0041\":1,\"A\":2,\"k\\ud800\":3,\"n\\u0000\":4}",
       "{\"A\":2,\"k\\ud800\":3,\"n\\u0000\":4}"},
      {" { \"deep\" : [ [ [ { } ] ] , [ ] , { \"x\" : null , \"t\" : true , \"f\" : false } ] } ",
       "{\"deep\":[[[{}]],[],{\"x\":null,\"t\":true,\"f\":false}]}"},
      {"[1e400,-1e400,1e-400,-1e-400,5e-324,1.7976931348623157e308,0.1,0.30000000000000004,2.5e-3,"
       "123.456e5]",
       "[null,null,0,0,5e-324,1.7976931348623157e+308,0.1,0.30000000000000004,0.0025,12345600]"},
      {"{\"__proto__\":1,\"constructor\":2,\"toString\":[3]}",
       "{\"__proto__\":1,\"constructor\":2,\"toString\":[3]}"},
      {"[-1.0E+2, 1E2, 0.0, 1.23456789e-6, 1.23456789e-7, 4.35, 1e+0]",
       "[-100,100,0,0.00000123456789,1.23456789e-7,4.35,1]"},
  };
  for (const auto& [input, expected] : golden) {
    std::string out = "prefix:";
    ASSERT_TRUE(WriteEcmaScriptCompact(input, out).ok()) << input;
    EXPECT_EQ(out, "prefix:" + expected) << input;
  }
}

TEST(EcmaScriptCompact, RefusesWhatIsNotJsonAndLeavesTheOutputAlone) {
  for (std::string_view bad : {"", "{", "[1,]", "{\"a\":01}", "\"\\x\"", "1 2"}) {
    std::string out = "kept";
    EXPECT_FALSE(WriteEcmaScriptCompact(bad, out).ok()) << bad;
    EXPECT_EQ(out, "kept");
  }
}

TEST(EcmaScriptCompact, NumbersAsNumberToString) {
  EXPECT_EQ(FormatEcmaScriptNumber(1.0), "1");
  EXPECT_EQ(FormatEcmaScriptNumber(-0.0), "0");
  EXPECT_EQ(FormatEcmaScriptNumber(1e21), "1e+21");
  EXPECT_EQ(FormatEcmaScriptNumber(1e-7), "1e-7");
  EXPECT_EQ(FormatEcmaScriptNumber(123e-20), "1.23e-18");
  EXPECT_EQ(FormatEcmaScriptNumber(0.000001), "0.000001");
  EXPECT_EQ(FormatEcmaScriptNumber(-1.5), "-1.5");
}

TEST(SignedStyle, TellsTheTwoFormsApartOnlyWhenTheTextSays) {
  EXPECT_EQ(SignedStyle(R"({"a":0.0001,"b":1})"), JsonStyle::kEcmaScript);
  EXPECT_EQ(SignedStyle(R"({"a":1.0E-4,"b":1.0})"), JsonStyle::kJackson);
  EXPECT_EQ(SignedStyle(R"({"c":"x\u001fy"})"), JsonStyle::kEcmaScript);
  EXPECT_EQ(SignedStyle(R"({"c":"x\u001Fy"})"), JsonStyle::kJackson);
  EXPECT_EQ(SignedStyle(R"({"b":1,"2":2})"), JsonStyle::kJackson);  // JSON.parse reorders
  // Nothing that tells them apart: the same text both ways.
  EXPECT_EQ(SignedStyle(R"({"apiCode":"BRTH01","esbBody":{"n":1,"ok":true,"s":"é"}})"),
            std::nullopt);
  EXPECT_EQ(SignedStyle(R"({"a":0.5})"), std::nullopt);      // "0.5" in both
  EXPECT_EQ(SignedStyle(R"({"2":2,"b":1})"), std::nullopt);  // already in JSON.parse order
  // Neither form (pretty-printed): no answer.
  EXPECT_EQ(SignedStyle("{ \"a\": 1.0 }"), std::nullopt);
  EXPECT_EQ(SignedStyle("not json 1.0"), std::nullopt);
  // The telling escape after a long run of plain bytes, and plain long strings holding what
  // would tell outside a string.
  const std::string run(37, 'x');
  EXPECT_EQ(SignedStyle(R"({"c":")" + run + R"(\u001fy"})"), JsonStyle::kEcmaScript);
  EXPECT_EQ(SignedStyle(R"({"c":")" + run + R"(\u001Fy"})"), JsonStyle::kJackson);
  EXPECT_EQ(SignedStyle(R"({"c":")" + run + R"(1.0E-4 \"q\" é","d":1})"), std::nullopt);
}

}  // namespace
}  // namespace govesb::wire
