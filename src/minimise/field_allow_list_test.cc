#include "minimise/field_allow_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wire/json.h"

namespace govesb::minimise {
namespace {

std::shared_ptr<const FieldAllowList> Compiled(std::vector<std::string> paths) {
  auto list = FieldAllowList::Compile(paths);
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  return list.ok() ? *list : nullptr;
}

struct Filtered {
  std::string body;
  Withheld withheld;
};

Filtered FilterBody(const FieldAllowList& list, std::string_view body) {
  Filtered f;
  Status s = list.Filter(body, f.body, f.withheld);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(wire::ValidateJson(f.body).ok()) << f.body;
  return f;
}

TEST(FieldPathTest, PointersAndDottedPathsNameTheSameMembers) {
  EXPECT_EQ(*ParseFieldPath("mother.name"), (std::vector<std::string>{"mother", "name"}));
  EXPECT_EQ(*ParseFieldPath("/mother/name"), (std::vector<std::string>{"mother", "name"}));
  EXPECT_EQ(*ParseFieldPath("/a~1b/c~0d"), (std::vector<std::string>{"a/b", "c~d"}));
  EXPECT_EQ(*ParseFieldPath("/x.y"), (std::vector<std::string>{"x.y"}));
  EXPECT_EQ(*ParseFieldPath("jina_la_kwanza"), (std::vector<std::string>{"jina_la_kwanza"}));
  EXPECT_EQ(FieldPointer(*ParseFieldPath("/a~1b/c~0d")), "/a~1b/c~0d");
}

TEST(FieldPathTest, BadPathsAreRefusedNamingTheProblem) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "empty"},
      {"a..b", "empty member"},
      {"/a//b", "empty member"},
      {"/", "empty member"},
      {"a.", "empty member"},
      {"/a~2", "~0"},
      {"/a~", "~0"},
      {"children[].name", "arrays need no index"},
      {"children.*.name", "arrays need no index"},
      {"children[0].name", "arrays need no index"},
      {"a\nb", "control character"},
      {std::string("a\xff", 2), "UTF-8"},
      {std::string(kMaxFieldPathBytes + 1, 'a'), "longer than"},
      {"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q", "deeper than"},
  };
  for (const auto& [path, why] : bad) {
    auto parsed = ParseFieldPath(path);
    ASSERT_FALSE(parsed.ok()) << path;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(why), std::string::npos)
        << path << ": " << parsed.status().message();
  }
}

TEST(FieldAllowListTest, CompileRefusesEmptyTooManyAndBadPaths) {
  EXPECT_FALSE(FieldAllowList::Compile(std::vector<std::string>{}).ok());
  std::vector<std::string> many(kMaxFieldPaths + 1, "a");
  EXPECT_FALSE(FieldAllowList::Compile(many).ok());
  auto bad = FieldAllowList::Compile(std::vector<std::string>{"name", "a..b"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("a..b"), std::string::npos);
}

TEST(FieldAllowListTest, OverlappingPathsMergeAndAreListedAsPointers) {
  auto list = Compiled({"mother.name", "mother", "child.name", "/child/birth~1date", "child.name"});
  EXPECT_EQ(list->Pointers(),
            (std::vector<std::string>{"/child/birth~1date", "/child/name", "/mother"}));
}

TEST(FieldAllowListTest, KeepsAllowedFieldsRemovesTheRestAndNamesThem) {
  auto list = Compiled({"name", "mother.name", "children.name", "birth.place"});
  const std::string body = R"({"name":"Asha","nin":"19900101-12345-00001-12",)"
                           R"("mother":{"name":"Neema","nin":"X","phone":"+255"},)"
                           R"("children":[{"name":"Juma","nin":"C1"},{"nin":"C2"},7,)"
                           R"([{"name":"Nested","school":"S"}]],"birth":{"place":"Dodoma",)"
                           R"("date":"1990-01-01"},"extra":{"deep":[1,2]}})";
  Filtered f = FilterBody(*list, body);
  EXPECT_EQ(f.body, R"({"name":"Asha","mother":{"name":"Neema"},"children":[{"name":"Juma"},{},)"
                    R"([{"name":"Nested"}]],"birth":{"place":"Dodoma"}})");
  EXPECT_EQ(f.withheld.paths, (std::vector<std::string>{
                                  "/nin", "/mother/nin", "/mother/phone", "/children/*/nin",
                                  "/children/*", "/children/*/*/school", "/birth/date", "/extra"}));
  EXPECT_FALSE(f.withheld.more);
  EXPECT_EQ(f.withheld.ToJson(),
            R"(["/nin","/mother/nin","/mother/phone","/children/*/nin","/children/*",)"
            R"("/children/*/*/school","/birth/date","/extra"])");
}

TEST(FieldAllowListTest, KeptValuesAreCopiedByteForByte) {
  auto list = Compiled({"a", "b", "e\"sc"});
  Filtered f = FilterBody(
      *list, R"({ "a" : 1.0E-4 , "b":"t\u00e9\n\"x", "e\"sc": [1.0, {"k":null}], "z":0 })");
  EXPECT_EQ(f.body, R"({"a":1.0E-4,"b":"t\u00e9\n\"x","e\"sc":[1.0, {"k":null}]})");
  EXPECT_EQ(f.withheld.paths, (std::vector<std::string>{"/z"}));
}

TEST(FieldAllowListTest, AScalarWhereMembersAreExpectedIsWithheldWhole) {
  auto list = Compiled({"address.street"});
  Filtered f = FilterBody(*list, R"({"address":"Plot 5, Dodoma","other":1})");
  EXPECT_EQ(f.body, "{}");
  EXPECT_EQ(f.withheld.paths, (std::vector<std::string>{"/address", "/other"}));
  Filtered scalar = FilterBody(*list, R"("the whole answer")");
  EXPECT_EQ(scalar.body, "null");
  EXPECT_EQ(scalar.withheld.paths, (std::vector<std::string>{""}));
  Filtered null_body = FilterBody(*list, "null");
  EXPECT_EQ(null_body.body, "null");
  EXPECT_TRUE(null_body.withheld.empty());
}

TEST(FieldAllowListTest, AnArrayBodyIsFilteredElementByElement) {
  auto list = Compiled({"name"});
  Filtered f = FilterBody(*list, R"([{"name":"A","x":1},{"name":"B"},"s"])");
  EXPECT_EQ(f.body, R"([{"name":"A"},{"name":"B"}])");
  EXPECT_EQ(f.withheld.paths, (std::vector<std::string>{"/*/x", "/*"}));
}

TEST(FieldAllowListTest, MembersWithOddNamesAndDuplicates) {
  auto list = Compiled({"/a~1b", "/caf\xC3\xA9", "d"});
  Filtered f = FilterBody(*list, "{\"a/b\":1,\"a~b\":2,\"caf\\u00e9\":3,\"d\":4,\"d\":5}");
  // Names compare decoded: "caf\u00e9" is the allowed "café". Both "d" are kept (a reader
  // takes the last, as before filtering).
  EXPECT_EQ(f.body, "{\"a/b\":1,\"caf\\u00e9\":3,\"d\":4,\"d\":5}");
  EXPECT_EQ(f.withheld.paths, (std::vector<std::string>{"/a~0b"}));
}

TEST(FieldAllowListTest, WithheldNamesAreBoundedInNumberAndLength) {
  auto list = Compiled({"keep"});
  std::string body = "{\"keep\":1";
  for (int i = 0; i < 50; ++i) body += ",\"f" + std::to_string(i) + "\":" + std::to_string(i);
  body += ",\"" + std::string(500, 'n') + "\":0}";
  Filtered f = FilterBody(*list, body);
  EXPECT_EQ(f.body, R"({"keep":1})");
  EXPECT_EQ(f.withheld.paths.size(), kMaxWithheldRecorded);
  EXPECT_TRUE(f.withheld.more);
  EXPECT_NE(f.withheld.ToJson().find("\"+more\"]"), std::string::npos);

  Filtered long_name = FilterBody(*list, "{\"" + std::string(500, 'n') + "\":0}");
  ASSERT_EQ(long_name.withheld.paths.size(), 1u);
  EXPECT_EQ(long_name.withheld.paths[0].size(), kMaxWithheldPathBytes);
}

TEST(FieldAllowListTest, BadJsonIsAnErrorAndWritesNothing) {
  auto list = Compiled({"a"});
  std::string out = "kept";
  Withheld w;
  EXPECT_EQ(list->Filter("{\"a\":", out, w).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, "kept");
  EXPECT_TRUE(w.empty());
}

TEST(FieldAllowListTest, ResponseDataKeepsItsOtherMembers) {
  auto list = Compiled({"name"});
  Withheld w;
  auto data = FilterResponseData(
      R"({"success":true,"requestId":"r1","message":"Success","esbBody":{"name":"A","nin":"N"}})",
      *list, w);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data,
            R"({"success":true,"requestId":"r1","message":"Success","esbBody":{"name":"A"}})");
  EXPECT_EQ(w.paths, (std::vector<std::string>{"/nin"}));
  Withheld none;
  EXPECT_FALSE(FilterResponseData(R"({"success":true})", *list, none).ok());
  EXPECT_FALSE(FilterResponseData(R"({"esbBody":{},"esbBody":{"nin":1}})", *list, none).ok());
}

}  // namespace
}  // namespace govesb::minimise
