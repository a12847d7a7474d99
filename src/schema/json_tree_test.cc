#include "schema/json_tree.h"

#include <gtest/gtest.h>

#include <cmath>

namespace govesb::schema {
namespace {

TEST(JsonTree, TapeInDocumentOrder) {
  auto t = JsonTree::Parse(R"( {"a": [1, "x", {"b": null}], "c": true} )");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const auto& n = t->nodes();
  ASSERT_EQ(n.size(), 10u);
  EXPECT_EQ(n[0].type, JsonType::kObject);
  EXPECT_EQ(n[0].count, 2u);
  EXPECT_EQ(n[0].end, 10u);
  EXPECT_EQ(n[0].text, R"({"a": [1, "x", {"b": null}], "c": true})");
  EXPECT_EQ(t->String(1), "a");
  EXPECT_EQ(n[2].type, JsonType::kArray);
  EXPECT_EQ(n[2].count, 3u);
  EXPECT_EQ(n[2].end, 8u);
  EXPECT_EQ(n[3].number, 1);
  EXPECT_TRUE(n[3].integer_literal);
  EXPECT_EQ(t->String(4), "x");
  EXPECT_EQ(n[5].text, R"({"b": null})");
  EXPECT_EQ(t->Member(0, "c"), 9u);
  EXPECT_EQ(n[9].type, JsonType::kTrue);
  EXPECT_EQ(t->Member(0, "missing"), 0u);
}

TEST(JsonTree, EscapesAreDecodedAndDuplicatesKeepTheLast) {
  auto t = JsonTree::Parse(R"({"k\u00e9y": "a\"b\n\u00e9", "d": 1, "d": 2, "s": "\ud800"})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  MemberCursor m(*t, 0);
  EXPECT_EQ(m.key(), "k\xc3\xa9y");
  EXPECT_EQ(t->String(m.value()), "a\"b\n\xc3\xa9");
  EXPECT_EQ(t->at(t->Member(0, "d")).number, 2);
  EXPECT_EQ(t->String(t->Member(0, "s")), "\xef\xbf\xbd");  // a lone surrogate: U+FFFD, as wire
}

TEST(JsonTree, NumbersBeyondADouble) {
  auto t = JsonTree::Parse("[1e400, -1e400, 1e-400, 123456789012345678901234567890, 1.5E+2]");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(std::isinf(t->at(1).number) && t->at(1).number > 0);
  EXPECT_TRUE(std::isinf(t->at(2).number) && t->at(2).number < 0);
  EXPECT_EQ(t->at(3).number, 0);
  EXPECT_TRUE(t->at(4).integer_literal);
  EXPECT_DOUBLE_EQ(t->at(4).number, 1.2345678901234568e29);
  EXPECT_EQ(t->at(5).number, 150);
  EXPECT_FALSE(t->at(5).integer_literal);
}

// The tree accepts exactly what the wire layer accepts.
TEST(JsonTree, AcceptsWhatTheWireLayerAccepts) {
  const char* cases[] = {
      "{}", "[]", "0", "-0", "1.5e-3", "\"\"", "null", " true ", "[1,[2,[3]]]", R"({"a":{"b":{}}})",
      "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "1e", "[1 2]", "{\"a\" 1}", "{a:1}", "\"\x01\"",
      "\"\xc3\x28\"", "\"\xed\xa0\x80\"", "\"\\x\"", "\"\\u12\"", "[", "{\"a\":", "tru", "nul",
      "[1]]", "{} x", "\"\\ud83d\\ude00\"", "\"caf\xc3\xa9\"", "[-]", "-01", "1E+2", "[\"\t\"]",
      // Past the 8-byte skips of the scanner: the same rules at every position.
      "\"abcdefghijklmnop\xc3\xa9qrstuvwx\"", "\"abcdefghijklmnop\x01qrstuvwx\"",
      "\"abcdefghijklmnop\xc3\x28qrstuvwx\"", "\"abcdefghijklmnop\\\"qrstuvwxyz\"",
      "\"abcdefghijklmnopqrstuvwx\"", "\"abcdefghijklmnopqrstuvw\\\"", "\"abcdefghijklmnopq",
      "\"abcdefghijklmnop\xed\xa0\x80qrstuvwx\"", "\"abcdefgh\\u00e9ijklmnop\x7f\""};
  for (const char* text : cases) {
    EXPECT_EQ(JsonTree::Parse(text).ok(), wire::ValidateJson(text).ok()) << text;
  }
}

TEST(JsonTree, NestingIsBounded) {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  auto t = JsonTree::Parse(deep, 200);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("nesting deeper than 200"), std::string::npos);
  // A body of a hundred thousand brackets is an error, not a stack overflow.
  EXPECT_FALSE(JsonTree::Parse(std::string(100000, '['), 200).ok());
  EXPECT_TRUE(JsonTree::Parse(std::string(200, '[') + std::string(200, ']'), 200).ok());
}

TEST(JsonTree, EqualityAndHashFollowJsonSchema) {
  auto a = JsonTree::Parse(R"([1, 1.0, {"x": [1, "s"], "y": null}, {"y": null, "x": [1.0, "s"]},
                              {"x": 1, "x": 2}, {"x": 2}, "s", 100000000000000000001,
                              100000000000000000000, -0, 0])");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::vector<uint32_t> items;
  for (uint32_t i = 1, k = 0; k < a->at(0).count; ++k, i = a->at(i).end) items.push_back(i);
  auto eq = [&](int i, int j) { return JsonEqual(*a, items[i], *a, items[j]); };
  auto same_hash = [&](int i, int j) { return JsonHash(*a, items[i]) == JsonHash(*a, items[j]); };
  EXPECT_TRUE(eq(0, 1));
  EXPECT_TRUE(same_hash(0, 1));
  EXPECT_TRUE(eq(2, 3));  // member order does not matter
  EXPECT_TRUE(same_hash(2, 3));
  EXPECT_TRUE(eq(4, 5));  // the last duplicate counts
  EXPECT_TRUE(same_hash(4, 5));
  EXPECT_FALSE(eq(0, 6));
  EXPECT_FALSE(eq(7, 8));  // long integers compare exactly
  EXPECT_TRUE(eq(9, 10));
  EXPECT_TRUE(same_hash(9, 10));
}

TEST(JsonTree, CodePoints) {
  EXPECT_EQ(CodePoints(""), 0u);
  EXPECT_EQ(CodePoints("abc"), 3u);
  EXPECT_EQ(CodePoints("\xc3\xa9t\xc3\xa9"), 3u);
  EXPECT_EQ(CodePoints("\xf0\x9f\x98\x80"), 1u);
}

}  // namespace
}  // namespace govesb::schema
