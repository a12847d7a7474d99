#include "config_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "base/temp_dir.h"

namespace govesb::apps {
namespace {

std::vector<std::string> Messages(const std::vector<ConfigLineError>& errors) {
  std::vector<std::string> messages;
  for (const auto& e : errors) messages.push_back(e.message);
  return messages;
}

TEST(ConfigSyntax, ReadsKeysValuesCommentsAndQuotes) {
  ParsedConfig parsed = ParseConfigText(
      "# a comment\n"
      "\n"
      "  listen = 0.0.0.0:8443   \n"
      "data-dir=/var/lib/govesb\r\n"
      "\tname = \"two words # not a comment\" # a comment\n"
      "quoted = \"a \\\"b\\\" \\\\ c\"\n"
      "literal = 'C:\\dir\\ #1'\n"
      "password = a#b   # the first # has no blank before it\n"
      "empty = \"\"\n"
      "    # an indented comment\n"
      "last = x",
      "f.conf");
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front().message;
  std::vector<ConfigEntry> expected = {{"listen", "0.0.0.0:8443", 3},
                                       {"data-dir", "/var/lib/govesb", 4},
                                       {"name", "two words # not a comment", 5},
                                       {"quoted", "a \"b\" \\ c", 6},
                                       {"literal", "C:\\dir\\ #1", 7},
                                       {"password", "a#b", 8},
                                       {"empty", "", 9},
                                       {"last", "x", 11}};
  ASSERT_EQ(parsed.entries.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(parsed.entries[i].key, expected[i].key);
    EXPECT_EQ(parsed.entries[i].value, expected[i].value) << expected[i].key;
    EXPECT_EQ(parsed.entries[i].line, expected[i].line) << expected[i].key;
  }
}

TEST(ConfigSyntax, NamesTheLineOfEachMalformedOne) {
  ParsedConfig parsed = ParseConfigText(
      "listen 0.0.0.0:8443\n"      // 1
      "= value\n"                  // 2
      "--listen = x\n"             // 3
      "lis ten = x\n"              // 4
      "name = \"open\n"            // 5
      "name = \"a\" b\n"           // 6
      "name =    \n"               // 7
      "name = \"a\\nb\"\n"         // 8
      "name = # only a comment\n"  // 9
      "ok = fine\n",               // 10
      "f.conf");
  EXPECT_EQ(Messages(parsed.errors),
            (std::vector<std::string>{
                "f.conf:1: expected `key = value`, found 'listen 0.0.0.0:8443'",
                "f.conf:2: no key before '='",
                "f.conf:3: write the key without the leading '--' ('listen')",
                "f.conf:4: 'lis ten' is not a key (letters, digits and - only)",
                "f.conf:5: name: the value has no closing \"",
                "f.conf:6: name: text after the closing quote (a comment starts with #)",
                "f.conf:7: name: no value (write \"\" for an empty one)",
                "f.conf:8: name: only \\\" and \\\\ may follow a backslash inside double quotes "
                "(single quotes take the text as it is)",
                "f.conf:9: name: no value (write \"\" for an empty one)"}));
  ASSERT_EQ(parsed.entries.size(), 1u);
  EXPECT_EQ(parsed.entries[0].line, 10);
}

// A command like `govesb serve`: values, a validated number, a flag, a repeatable option, an
// alias, and an option a file may not set.
struct Sample {
  std::string name = "default";
  int count = 1;
  int size = 0;
  bool verbose = false;
  std::vector<std::string> tags;
  std::string alias;
  std::string config;
};

class ConfigApply : public ::testing::Test {
 protected:
  ConfigApply() {
    cmd_ = app_.add_subcommand("run");
    cmd_->add_option("--name", s_.name);
    cmd_->add_option("--count", s_.count)->check(CLI::Range(1, 10));
    cmd_->add_option("--size", s_.size);
    cmd_->add_flag("--verbose", s_.verbose);
    cmd_->add_option("--tag", s_.tags);
    cmd_->add_option("--new-name,--old-name", s_.alias);
    cmd_->add_option("--config", s_.config)->configurable(false);
  }
  std::vector<std::string> Apply(const std::string& text) {
    ParsedConfig parsed = ParseConfigText(text, "f.conf");
    EXPECT_TRUE(parsed.errors.empty());
    return Messages(ApplyConfig(*cmd_, parsed.entries, "f.conf"));
  }
  void ParseCommandLine(std::vector<std::string> args) {
    std::vector<const char*> argv = {"prog", "run"};
    for (const auto& a : args) argv.push_back(a.c_str());
    app_.parse(static_cast<int>(argv.size()), argv.data());
  }

  CLI::App app_;
  CLI::App* cmd_ = nullptr;
  Sample s_;
};

TEST_F(ConfigApply, KeysAreTheLongOptionsButHelpAndUnconfigurableOnes) {
  EXPECT_EQ(ConfigKeys(*cmd_),
            (std::vector<std::string>{"name", "count", "size", "verbose", "tag", "new-name"}));
}

TEST_F(ConfigApply, SetsEachOptionThroughItsOwnConversion) {
  EXPECT_TRUE(Apply("name = from file\ncount = 7\nverbose = true\ntag = a\ntag = b\n"
                    "old-name = via alias\n")
                  .empty());
  EXPECT_EQ(s_.name, "from file");
  EXPECT_EQ(s_.count, 7);
  EXPECT_TRUE(s_.verbose);
  EXPECT_EQ(s_.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s_.alias, "via alias");
}

TEST_F(ConfigApply, AFlagIsTrueOrFalse) {
  s_.verbose = true;
  EXPECT_TRUE(Apply("verbose = false\n").empty());
  EXPECT_FALSE(s_.verbose);
  CLI::App other;
  bool flag = false;
  auto* cmd = other.add_subcommand("run");
  cmd->add_flag("--verbose", flag);
  ParsedConfig parsed = ParseConfigText("\nverbose = yes\n", "f.conf");
  EXPECT_EQ(Messages(ApplyConfig(*cmd, parsed.entries, "f.conf")),
            (std::vector<std::string>{"f.conf:2: verbose: 'yes' is not true or false"}));
  EXPECT_FALSE(flag);
}

TEST_F(ConfigApply, RefusesUnknownRepeatedAndRefusedValuesNamingKeyAndLine) {
  EXPECT_EQ(Apply("nmae = x\n"             // 1
                  "count = 11\n"           // 2
                  "config = other.conf\n"  // 3
                  "name = a\n"             // 4
                  "name = b\n"             // 5
                  "zzzzzz = 1\n"),         // 6
            (std::vector<std::string>{"f.conf:1: unknown key 'nmae' (did you mean 'name'?)",
                                      "f.conf:2: count: Value 11 not in range 1 to 10",
                                      "f.conf:3: 'config' cannot be set in a configuration file",
                                      "f.conf:5: 'name' is set again (first on line 4)",
                                      "f.conf:6: unknown key 'zzzzzz'"}));
  EXPECT_EQ(s_.count, 1);
  EXPECT_TRUE(s_.config.empty());
}

TEST_F(ConfigApply, RefusesAValueOfTheWrongTypeNamingKeyAndLine) {
  EXPECT_EQ(Apply("\n\nsize = many\n"),
            (std::vector<std::string>{"f.conf:3: size: 'many' is not an integer"}));
  EXPECT_EQ(s_.size, 0);
}

TEST_F(ConfigApply, TheCommandLineWinsOverTheFile) {
  ParseCommandLine({"--name", "from the command line", "--verbose"});
  EXPECT_TRUE(Apply("name = from the file\ncount = 3\nverbose = false\n").empty());
  EXPECT_EQ(s_.name, "from the command line");
  EXPECT_TRUE(s_.verbose);
  EXPECT_EQ(s_.count, 3);  // not on the command line: the file's
  // Unknown keys are refused even beside options the command line set.
  EXPECT_EQ(Apply("name = x\nnope = 1\n"),
            (std::vector<std::string>{"f.conf:2: unknown key 'nope' (did you mean 'name'?)"}));
}

TEST_F(ConfigApply, AFileReportsEveryErrorInLineOrderOrNamesAMissingFile) {
  TempDir dir;
  std::string path = dir.path() + "/bad.conf";
  std::ofstream(path) << "count = 0\nbroken line\nname = ok\nunknown = 1\n";
  Status applied = ApplyConfigFile(*cmd_, path);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.message(), path + ":1: count: Value 0 not in range 1 to 10\n" + path +
                                   ":2: expected `key = value`, found 'broken line'\n" + path +
                                   ":4: unknown key 'unknown'");
  Status missing = ApplyConfigFile(*cmd_, dir.path() + "/absent.conf");
  EXPECT_EQ(missing.message(), "cannot read the configuration file " + dir.path() +
                                   "/absent.conf: No such file or directory");
}

}  // namespace
}  // namespace govesb::apps
