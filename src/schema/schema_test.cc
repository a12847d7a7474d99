// The validator's API, its limits and what a violation says. The keyword cases themselves are
// data (suite_test.cc, testdata/).
#include "schema/schema.h"

#include <gtest/gtest.h>

#include <thread>

namespace govesb::schema {
namespace {

TEST(Schema, ViolationNamesTheValueAndTheKeyword) {
  auto s = Schema::Compile(R"({"properties": {"child": {"properties": {
      "birthDate": {"type": "string", "format": "date"}}}}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto r = (*s)->Validate(R"({"child": {"birthDate": "2024-02-30"}})");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->instance_path, "/child/birthDate");
  EXPECT_EQ((*r)->keyword_path, "#/properties/child/properties/birthDate/format");
  EXPECT_EQ((*r)->rule, "does not match format date");
  EXPECT_EQ((*r)->ToString(), "/child/birthDate: does not match format date");
  auto ok = (*s)->Validate(R"({"child": {"birthDate": "2024-02-29"}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->has_value());
}

TEST(Schema, AStringTheSchemaWantsIsShownQuotedAndCutWhenLong) {
  auto s = Schema::Compile(R"({"properties": {"kind": {"const": "birth"},
      "code": {"enum": ["A", "B"]}, "note": {"const": ")" +
                           std::string(70, 'x') + R"("}}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto kind = (*s)->Validate(R"({"kind": "death"})");
  ASSERT_TRUE(kind.ok() && kind->has_value());
  EXPECT_EQ((*kind)->rule, "must be \"birth\"");
  auto code = (*s)->Validate(R"({"code": "C"})");
  ASSERT_TRUE(code.ok() && code->has_value());
  EXPECT_NE((*code)->rule.find("\"A\""), std::string::npos) << (*code)->rule;
  auto note = (*s)->Validate(R"({"note": "y"})");
  ASSERT_TRUE(note.ok() && note->has_value());
  EXPECT_EQ((*note)->rule, "must be \"" + std::string(56, 'x') + "...");
}

TEST(Schema, ValidatesAnAlreadyParsedValue) {
  auto s = Schema::Compile(R"({"items": {"type": "integer"}})");
  ASSERT_TRUE(s.ok());
  auto tree = JsonTree::Parse(R"({"esbBody": [1, 2, "3"]})");
  ASSERT_TRUE(tree.ok());
  auto r = (*s)->Validate(*tree, tree->Member(0, "esbBody"));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->ToString(), "/2: must be integer, not string");
}

TEST(Schema, AValueThatIsNotJsonCannotBeJudged) {
  auto s = Schema::Compile("true");
  ASSERT_TRUE(s.ok());
  auto r = (*s)->Validate("{\"a\":");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(Schema, TooLargeIsRefused) {
  Limits limits;
  limits.max_text_bytes = 1024;
  std::string text = R"({"description": ")" + std::string(1100, 'x') + R"("})";
  auto s = Schema::Compile(text, limits);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.status().message(), "the schema is larger than 1 KB, the limit of this bus");
  // The default limit is 256 KB.
  EXPECT_FALSE(Schema::Compile(std::string(256 * 1024 + 1, ' ')).ok());
}

TEST(Schema, TooDeepIsRefused) {
  // 40 nested objects, each {"properties":{"a": ...}}: 80 levels of JSON.
  std::string text;
  for (int i = 0; i < 40; ++i) text += R"({"properties":{"a":)";
  text += "{}";
  for (int i = 0; i < 40; ++i) text += "}}";
  auto s = Schema::Compile(text);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.status().message().find("nested deeper than 64 levels, the limit of this bus"),
            std::string::npos)
      << s.status().message();
  // 30 of them (60 levels) are fine.
  std::string ok;
  for (int i = 0; i < 30; ++i) ok += R"({"properties":{"a":)";
  ok += "{}";
  for (int i = 0; i < 30; ++i) ok += "}}";
  EXPECT_TRUE(Schema::Compile(ok).ok());
}

TEST(Schema, TooManySubschemasAreRefusedWithThePlace) {
  Limits limits;
  limits.max_subschemas = 5;
  auto s =
      Schema::Compile(R"({"properties": {"a": {}, "b": {}, "c": {}, "d": {}, "e": {}}})", limits);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.status().message(),
            "#/properties/e: the schema has more than 5 subschemas, the limit of this bus");
}

TEST(Schema, LongPatternsAreRefused) {
  const std::string pattern(1001, 'a');
  auto s = Schema::Compile(R"({"properties": {"x": {"pattern": ")" + pattern + R"("}}})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.status().message(),
            "#/properties/x/pattern: the pattern is longer than 1000 bytes, the limit of this bus");
}

// A schema small enough to publish can still ask for a lot of work: each definition applies the
// next twice. The budget stops it instead of the bus.
TEST(Schema, ACheckTooCostlyIsNotJudged) {
  std::string defs;
  for (int i = 0; i < 30; ++i) {
    defs += "\"d" + std::to_string(i) + "\": {\"allOf\": [{\"$ref\": \"#/$defs/d" +
            std::to_string(i + 1) + "\"}, {\"$ref\": \"#/$defs/d" + std::to_string(i + 1) +
            "\"}]},";
  }
  defs += "\"d30\": {\"type\": \"integer\"}";
  auto s = Schema::Compile("{\"$defs\": {" + defs + "}, \"$ref\": \"#/$defs/d0\"}");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto r = (*s)->Validate("1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("more than 1000000 steps"), std::string::npos);
}

TEST(Schema, DeepValuesAreBounded) {
  auto s =
      Schema::Compile(R"({"$defs": {"n": {"items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::string deep = std::string(150, '[') + std::string(150, ']');
  auto fine = (*s)->Validate(deep);
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_FALSE(fine->has_value());
  auto too_deep = (*s)->Validate(std::string(250, '[') + std::string(250, ']'));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.status().code(), StatusCode::kInvalidArgument);  // deeper than the bus reads
}

TEST(Schema, OneCompiledSchemaServesManyThreads) {
  auto s = Schema::Compile(R"({"properties": {"nin": {"pattern": "^[0-9]{8}-[0-9]{5}$"}}})");
  ASSERT_TRUE(s.ok());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const bool good = (i + t) % 2 == 0;
        auto r = (*s)->Validate(good ? R"({"nin": "19900101-12345"})" : R"({"nin": "1990"})");
        if (!r.ok() || r->has_value() == good) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace govesb::schema
