// Data-driven cases, one GoogleTest case per file (a ctest entry per case would cost the CI a
// process start each, hundreds of times):
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
#include <iostream>
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

// One file of cases: its label ("ref.json", "own/refs.json"), its path, and why it is skipped
// ("" when it runs).
struct SuiteFile {
  std::string label = std::string();
  fs::path path = fs::path();
  bool official = false;
  std::string skip = std::string();
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
  return out;
}

std::string Text(const JsonTree& t, uint32_t index) {
  const JsonNode& n = t.at(index);
  if (n.type == JsonType::kString && !n.escaped) return "\"" + std::string(n.text) + "\"";
  return std::string(n.text);
}

// Every file: the official suite's draft7 folder (an explicit skip reason for the files not
// run), then testdata/*.json but refused.json. A missing suite is one failing entry.
std::vector<SuiteFile> AllFiles() {
  std::vector<SuiteFile> out;
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
    SuiteFile f{.label = file, .path = draft / file, .official = true};
    if (auto it = SkippedFiles().find(file); it != SkippedFiles().end()) f.skip = it->second;
    if (file.starts_with("optional/format/") && file != "optional/format/date.json" &&
        file != "optional/format/date-time.json") {
      f.skip = "format " + fs::path(file).stem().string() +
               " is an annotation here (draft 2020-12); only date and date-time are asserted";
    }
    out.push_back(std::move(f));
  }
  if (files.empty()) out.push_back(SuiteFile{.label = "official suite missing"});
  std::vector<fs::path> own;
  for (const auto& e : fs::directory_iterator(GOVESB_SCHEMA_TESTDATA)) {
    if (e.path().extension() == ".json" && e.path().filename() != "refused.json") {
      own.push_back(e.path());
    }
  }
  std::sort(own.begin(), own.end());
  for (const fs::path& p : own) {
    out.push_back(SuiteFile{.label = "own/" + p.filename().string(), .path = p});
  }
  return out;
}

// GoogleTest prints a parameter in test names and failures: the file's label, not its bytes.
void PrintTo(const SuiteFile& f, std::ostream* out) { *out << f.label; }

class SuiteFileTest : public ::testing::TestWithParam<SuiteFile> {};

// Every case of the file: the schema compiles, the value is judged as the file says, and where
// the case names its "violation", the message is exactly that. Groups of the official suite in
// SkippedGroups() are not run; they are listed in the output with their reason.
TEST_P(SuiteFileTest, EveryCasePasses) {
  const SuiteFile& f = GetParam();
  if (f.path.empty()) {
    FAIL() << "the JSON-Schema-Test-Suite is not installed in " << GOVESB_JSON_SCHEMA_TEST_SUITE
           << " (Debian package json-schema-test-suite; scripts/setup installs it)";
  }
  if (!f.skip.empty()) GTEST_SKIP() << f.skip;
  const std::string text = ReadFile(f.path);
  Result<JsonTree> parsed = JsonTree::Parse(text);
  ASSERT_TRUE(parsed.ok()) << f.label << ": " << parsed.status().message();
  const JsonTree& t = *parsed;
  int ran = 0;
  int skipped = 0;
  uint32_t group = 1;
  for (uint32_t g = 0; g < t.at(0).count; ++g, group = t.at(group).end) {
    const std::string description(t.String(t.Member(group, "description")));
    const uint32_t tests = t.Member(group, "tests");
    if (f.official) {
      auto it = SkippedGroups().find(f.label + "/" + description);
      if (it != SkippedGroups().end()) {
        std::cout << "[ skipped  ] " << f.label << " / " << description << ": " << it->second
                  << " (" << t.at(tests).count << " cases)\n";
        skipped += static_cast<int>(t.at(tests).count);
        continue;
      }
    }
    const std::string schema_text = Text(t, t.Member(group, "schema"));
    auto schema = Schema::Compile(schema_text);
    ASSERT_TRUE(schema.ok()) << f.label << " / " << description << "\nschema: " << schema_text
                             << "\n"
                             << schema.status().ToString();
    uint32_t test = tests + 1;
    for (uint32_t k = 0; k < t.at(tests).count; ++k, test = t.at(test).end) {
      const std::string where = f.label + " / " + description + " / " +
                                std::string(t.String(t.Member(test, "description")));
      const std::string data = Text(t, t.Member(test, "data"));
      const bool valid = t.at(t.Member(test, "valid")).type == JsonType::kTrue;
      auto result = (*schema)->Validate(data);
      ASSERT_TRUE(result.ok()) << where << ": " << result.status().ToString();
      EXPECT_EQ(!result->has_value(), valid)
          << where << "\nschema: " << schema_text << "\ndata: " << data
          << (result->has_value() ? "\nviolation: " + (*result)->ToString() : std::string());
      if (uint32_t v = t.Member(test, "violation"); v != 0 && result->has_value()) {
        EXPECT_EQ((*result)->ToString(), t.String(v)) << where;
      }
      ++ran;
    }
  }
  std::cout << "[ cases    ] " << f.label << ": " << ran << " run, " << skipped << " skipped\n";
  EXPECT_GT(ran, 0) << f.label << " ran no case";
}

INSTANTIATE_TEST_SUITE_P(Files, SuiteFileTest, ::testing::ValuesIn(AllFiles()),
                         [](const ::testing::TestParamInfo<SuiteFile>& p) {
                           return Identifier(p.param.label);
                         });

// ---- schemas refused at publish ----

// testdata/refused.json: each schema is refused with kInvalidArgument, and the message holds
// the expected text (the place in the schema and what is wrong).
TEST(RefusedSchemas, AreRefusedNamingThePlace) {
  const std::string text = ReadFile(fs::path(GOVESB_SCHEMA_TESTDATA) / "refused.json");
  Result<JsonTree> parsed = JsonTree::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const JsonTree& t = *parsed;
  ASSERT_GT(t.at(0).count, 0u);
  uint32_t item = 1;
  for (uint32_t k = 0; k < t.at(0).count; ++k, item = t.at(item).end) {
    const std::string description(t.String(t.Member(item, "description")));
    const uint32_t raw = t.Member(item, "text");
    const std::string schema_text =
        raw != 0 ? std::string(t.String(raw)) : Text(t, t.Member(item, "schema"));
    const std::string error(t.String(t.Member(item, "error")));
    auto schema = Schema::Compile(schema_text);
    if (schema.ok()) {
      ADD_FAILURE() << description << ": " << schema_text << " was accepted";
      continue;
    }
    EXPECT_EQ(schema.status().code(), StatusCode::kInvalidArgument) << description;
    EXPECT_NE(schema.status().message().find(error), std::string::npos)
        << description << ": expected \"" << error << "\" in \"" << schema.status().message()
        << "\"";
  }
}

}  // namespace
}  // namespace govesb::schema
