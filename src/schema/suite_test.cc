// Data-driven cases, one GoogleTest case each:
//   - the official JSON-Schema-Test-Suite as Debian packages it (json-schema-test-suite 2.0.0,
//     whose newest folder is draft7), for the keywords whose meaning draft 2020-12 kept; what it
//     tests that this validator does not implement, or that 2020-12 changed, is skipped with
//     the reason, listed below (never "skip on failure");
//   - testdata/*.json in the same format (2020-12 keywords, formats, this bus's messages: a case
//     may name its "violation" as the consumer would read it);
//   - testdata/refused.json: schemas refused at publish, with the place named in the error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "schema/schema.h"

namespace govesb::schema {
namespace {

namespace fs = std::filesystem;

// Files of the Debian suite not run, and why.
const std::map<std::string, std::string>& SkippedFiles() {
  static const std::map<std::string, std::string> kFiles = {
      {"additionalItems.json",
       "additionalItems is not a draft 2020-12 keyword (prefixItems/items; refused at publish)"},
      {"dependencies.json",
       "dependencies is not a draft 2020-12 keyword (dependentRequired/dependentSchemas: "
       "testdata/dependent.json)"},
      {"definitions.json", "validates against the remote draft-07 meta-schema (remote $ref)"},
      {"refRemote.json", "remote references are not supported (refused at publish)"},
      {"optional/content.json",
       "contentMediaType/contentEncoding are annotations in draft 2020-12, not asserted"},
      {"optional/ecmascript-regex.json", "format regex is an annotation here, not asserted"},
  };
  return kFiles;
}

// Groups (file/description) of the Debian suite not run, and why.
const std::map<std::string, std::string>& SkippedGroups() {
  static const std::map<std::string, std::string> kGroups = {
      {"items.json/an array of schemas for items",
       "items as an array is draft-07 (prefixItems in 2020-12; refused at publish)"},
      {"items.json/items with boolean schemas",
       "items as an array is draft-07 (prefixItems in 2020-12; refused at publish)"},
      {"ref.json/relative pointer ref to array",
       "items as an array is draft-07 (prefixItems in 2020-12; refused at publish)"},
      {"ref.json/ref overrides any sibling keywords",
       "draft-07 meaning; in 2020-12 $ref applies beside its siblings (testdata/refs.json)"},
      {"ref.json/remote ref, containing refs itself", "remote references are not supported"},
      {"ref.json/Recursive references between schemas",
       "$id inside a schema (a change of base URI) is not supported"},
  };
  return kGroups;
}

struct Case {
  std::string name = std::string();    // the GoogleTest name
  std::string where = std::string();   // file, group and case, for messages
  std::string schema = std::string();  // the schema's JSON text
  std::string data = std::string();    // the value's JSON text
  bool valid = false;
  std::string violation = std::string();  // expected Violation::ToString(), "" when not given
  std::string skip = std::string();       // the reason, when skipped
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Identifier(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.substr(0, 60);
}

std::string Text(const JsonTree& t, uint32_t index) {
  const JsonNode& n = t.at(index);
  if (n.type == JsonType::kString && !n.escaped) return "\"" + std::string(n.text) + "\"";
  return std::string(n.text);
}

// Adds the cases of one file in the suite's format; `skip_file` when the whole file is skipped.
void AddFile(const fs::path& path, const std::string& label, const std::string& skip_file,
             bool official, std::vector<Case>& out) {
  const std::string text = ReadFile(path);
  Result<JsonTree> parsed = JsonTree::Parse(text);
  if (!parsed.ok()) {
    out.push_back(Case{.name = Identifier(label) + "_unreadable",
                       .where = label,
                       .schema = "",
                       .data = parsed.status().message()});
    return;
  }
  // The texts must outlive the tree's views: copied into each case.
  const JsonTree& t = *parsed;
  uint32_t group = 1;
  for (uint32_t g = 0; g < t.at(0).count; ++g, group = t.at(group).end) {
    const std::string description(t.String(t.Member(group, "description")));
    const uint32_t tests = t.Member(group, "tests");
    std::string skip = skip_file;
    if (skip.empty() && official) {
      auto it = SkippedGroups().find(label + "/" + description);
      if (it != SkippedGroups().end()) skip = it->second;
    }
    uint32_t test = tests + 1;
    for (uint32_t k = 0; k < t.at(tests).count; ++k, test = t.at(test).end) {
      Case c;
      c.where = label + " / " + description + " / " +
                std::string(t.String(t.Member(test, "description")));
      c.name = Identifier(label) + "_" + std::to_string(g) + "_" + std::to_string(k) + "_" +
               Identifier(t.String(t.Member(test, "description")));
      c.schema = Text(t, t.Member(group, "schema"));
      c.data = Text(t, t.Member(test, "data"));
      c.valid = t.at(t.Member(test, "valid")).type == JsonType::kTrue;
      if (uint32_t v = t.Member(test, "violation"); v != 0) c.violation = std::string(t.String(v));
      c.skip = skip;
      out.push_back(std::move(c));
    }
  }
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  const fs::path suite = GOVESB_JSON_SCHEMA_TEST_SUITE;
  const fs::path draft = suite / "draft7";
  std::vector<std::string> files;
  if (!suite.empty() && fs::is_directory(draft)) {
    for (const auto& e : fs::recursive_directory_iterator(draft)) {
      if (e.path().extension() != ".json") continue;
      files.push_back(fs::relative(e.path(), draft).generic_string());
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    std::string skip;
    if (auto it = SkippedFiles().find(file); it != SkippedFiles().end()) skip = it->second;
    if (file.starts_with("optional/format/") && file != "optional/format/date.json" &&
        file != "optional/format/date-time.json") {
      skip = "format " + fs::path(file).stem().string() +
             " is an annotation here (draft 2020-12); only date and date-time are asserted";
    }
    AddFile(draft / file, file, skip, /*official=*/true, cases);
  }
  if (files.empty()) {
    cases.push_back(
        Case{.name = "official_suite_missing", .where = "the official JSON-Schema-Test-Suite"});
  }
  const fs::path own = GOVESB_SCHEMA_TESTDATA;
  std::vector<fs::path> own_files;
  for (const auto& e : fs::directory_iterator(own)) {
    if (e.path().extension() == ".json" && e.path().filename() != "refused.json") {
      own_files.push_back(e.path());
    }
  }
  std::sort(own_files.begin(), own_files.end());
  for (const fs::path& p : own_files) AddFile(p, "own/" + p.filename().string(), "", false, cases);
  return cases;
}

class SuiteCase : public ::testing::TestWithParam<Case> {};

TEST_P(SuiteCase, Validates) {
  const Case& c = GetParam();
  if (c.name == "official_suite_missing") {
    FAIL() << "the JSON-Schema-Test-Suite is not installed in " << GOVESB_JSON_SCHEMA_TEST_SUITE
           << " (Debian package json-schema-test-suite; scripts/setup installs it)";
  }
  if (c.schema.empty()) FAIL() << c.where << ": " << c.data;
  if (!c.skip.empty()) GTEST_SKIP() << c.skip;
  auto schema = Schema::Compile(c.schema);
  ASSERT_TRUE(schema.ok()) << c.where << "\nschema: " << c.schema << "\n"
                           << schema.status().ToString();
  auto result = (*schema)->Validate(c.data);
  ASSERT_TRUE(result.ok()) << c.where << ": " << result.status().ToString();
  EXPECT_EQ(!result->has_value(), c.valid)
      << c.where << "\nschema: " << c.schema << "\ndata: " << c.data
      << (result->has_value() ? "\nviolation: " + (*result)->ToString() : std::string());
  if (!c.violation.empty() && result->has_value()) {
    EXPECT_EQ((*result)->ToString(), c.violation) << c.where;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SuiteCase, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

// ---- schemas refused at publish ----

struct Refusal {
  std::string name = std::string();
  std::string text = std::string();
  std::string error = std::string();
};

std::vector<Refusal> AllRefusals() {
  const std::string text = ReadFile(fs::path(GOVESB_SCHEMA_TESTDATA) / "refused.json");
  Result<JsonTree> parsed = JsonTree::Parse(text);
  std::vector<Refusal> out;
  if (!parsed.ok()) return {Refusal{.name = "unreadable", .text = "", .error = ""}};
  const JsonTree& t = *parsed;
  uint32_t item = 1;
  for (uint32_t k = 0; k < t.at(0).count; ++k, item = t.at(item).end) {
    Refusal r;
    r.name = std::to_string(k) + "_" + Identifier(t.String(t.Member(item, "description")));
    const uint32_t raw = t.Member(item, "text");
    r.text = raw != 0 ? std::string(t.String(raw)) : Text(t, t.Member(item, "schema"));
    r.error = std::string(t.String(t.Member(item, "error")));
    out.push_back(std::move(r));
  }
  return out;
}

class RefusedSchema : public ::testing::TestWithParam<Refusal> {};

TEST_P(RefusedSchema, IsRefusedNamingThePlace) {
  const Refusal& r = GetParam();
  ASSERT_FALSE(r.error.empty()) << "testdata/refused.json is unreadable";
  auto schema = Schema::Compile(r.text);
  ASSERT_FALSE(schema.ok()) << r.text << " was accepted";
  EXPECT_EQ(schema.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(schema.status().message().find(r.error), std::string::npos)
      << "expected \"" << r.error << "\" in \"" << schema.status().message() << "\"";
}

INSTANTIATE_TEST_SUITE_P(Refused, RefusedSchema, ::testing::ValuesIn(AllRefusals()),
                         [](const ::testing::TestParamInfo<Refusal>& p) { return p.param.name; });

}  // namespace
}  // namespace govesb::schema
