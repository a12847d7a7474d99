#include "serve_options.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/temp_dir.h"
#include "config_file.h"

namespace govesb::apps {
namespace {

// docs/configuration.md's table of keys: "| `key` | default | `example` | meaning |".
std::map<std::string, std::string> DocumentedExamples() {
  std::ifstream in(std::string(GOVESB_SOURCE_DIR) + "/docs/configuration.md");
  EXPECT_TRUE(in) << "docs/configuration.md is missing";
  std::map<std::string, std::string> examples;
  auto quoted = [](const std::string& cell) {
    size_t open = cell.find('`');
    size_t close = open == std::string::npos ? open : cell.find('`', open + 1);
    return close == std::string::npos ? std::string() : cell.substr(open + 1, close - open - 1);
  };
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) cells.push_back(cell);
    if (cells.size() < 3) continue;
    examples[quoted(cells[0])] = quoted(cells[2]);
  }
  return examples;
}

std::string Quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// The serve command as `govesb serve` defines it, on a fresh CLI::App per test.
class ServeConfig : public ::testing::Test {
 protected:
  ServeConfig() {
    serve_ = app_.add_subcommand("serve");
    AddServeOptions(*serve_, args_);
  }
  std::string WriteFile(const std::string& text) {
    std::string path = dir_.path() + "/govesb.conf";
    std::ofstream(path) << text;
    return path;
  }
  // `govesb serve ARGS` up to where the bus would start.
  Status Serve(std::vector<std::string> args) {
    std::vector<const char*> argv = {"govesb", "serve"};
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
      app_.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      return InvalidArgument(e.what());
    }
    return PrepareServe(*serve_, args_);
  }

  TempDir dir_;
  CLI::App app_;
  CLI::App* serve_ = nullptr;
  ServeArgs args_;
};

TEST_F(ServeConfig, EveryServeOptionIsAKeyDocumentedWithAnExampleThatAFileSets) {
  std::map<std::string, std::string> examples = DocumentedExamples();
  std::vector<std::string> keys = ConfigKeys(*serve_);
  ASSERT_GT(keys.size(), 40u);
  std::string file;
  for (const std::string& key : keys) {
    auto documented = examples.find(key);
    if (documented == examples.end() || documented->second.empty()) {
      ADD_FAILURE() << "docs/configuration.md has no row with an example for `" << key << "`";
      continue;
    }
    file += key + " = " + Quote(documented->second) + "\n";
  }
  for (const auto& [key, example] : examples) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end())
        << "docs/configuration.md documents `" << key << "`, which serve does not have";
  }
  ParsedConfig parsed = ParseConfigText(file, "all.conf");
  ASSERT_TRUE(parsed.errors.empty()) << parsed.errors.front().message;
  std::vector<ConfigLineError> errors = ApplyConfig(*serve_, parsed.entries, "all.conf");
  for (const auto& e : errors) ADD_FAILURE() << e.message;
  for (CLI::Option* option : ConfigurableOptions(*serve_)) {
    const std::string& key = option->get_lnames()[0];
    EXPECT_EQ(option->count(), 1u) << key << " was not set from the file";
    if (option->count() == 1) {
      EXPECT_EQ(option->results()[0], examples[key]) << key;
    }
  }
}

TEST_F(ServeConfig, EveryNumericOptionRefusesTextNamingKeyAndLine) {
  int numeric = 0;
  for (CLI::Option* option : ConfigurableOptions(*serve_)) {
    std::string type = option->get_type_name();
    type = type.substr(0, type.find(':'));
    if (type != "INT" && type != "UINT" && type != "FLOAT") continue;
    ++numeric;
    const std::string& key = option->get_lnames()[0];
    CLI::App app;
    ServeArgs args;
    CLI::App* serve = app.add_subcommand("serve");
    AddServeOptions(*serve, args);
    ParsedConfig parsed = ParseConfigText("# line 1\n" + key + " = ten\n", "f.conf");
    std::vector<ConfigLineError> errors = ApplyConfig(*serve, parsed.entries, "f.conf");
    ASSERT_EQ(errors.size(), 1u) << key << " accepted 'ten'";
    std::string expected = type == "INT"    ? "an integer"
                           : type == "UINT" ? "a whole number (0 or more)"
                                            : "a number";
    EXPECT_EQ(errors[0].message, "f.conf:2: " + key + ": 'ten' is not " + expected);
  }
  EXPECT_GT(numeric, 25);
}

TEST_F(ServeConfig, AFilesValuesReachTheBusOptions) {
  std::string path = WriteFile(
      "data-dir = /var/lib/govesb\n"
      "listen = 0.0.0.0:9443\n"
      "admin-listen = off\n"
      "plain-http = true\n"
      "token-ttl = 600\n"
      "retry-base-ms = 200\n"
      "retry-max-ms = 5000\n"
      "rate-per-system = 50.5\n"
      "evidence-retention = 0.5\n"
      "replay-window = 0\n"
      "key-curve = prime256v1\n"
      "log-level = debug\n");
  Status prepared = Serve({"--config", path});
  ASSERT_TRUE(prepared.ok()) << prepared.message();
  const server::ServeOptions& o = args_.options;
  EXPECT_EQ(o.data_dir, "/var/lib/govesb");
  EXPECT_EQ(o.listen, "0.0.0.0:9443");
  EXPECT_EQ(o.admin_listen, "off");
  EXPECT_FALSE(o.admin_listen_optional);  // given, so it must work
  EXPECT_TRUE(o.plain_http);
  EXPECT_EQ(o.token_ttl, std::chrono::seconds(600));
  EXPECT_EQ(o.delivery.retry_base, std::chrono::milliseconds(200));
  EXPECT_EQ(o.delivery.retry_max, std::chrono::milliseconds(5000));
  EXPECT_EQ(o.guards.system_rate.per_second, 50.5);
  EXPECT_EQ(o.evidence_retention, std::chrono::hours(12));
  EXPECT_FALSE(o.guards.replay_enabled);
  EXPECT_EQ(o.key_curve, crypto::Curve::kP256);
  EXPECT_EQ(args_.log_level, "debug");
}

TEST_F(ServeConfig, FlagsOnTheCommandLineOverrideTheFile) {
  std::string path = WriteFile(
      "listen = 0.0.0.0:9000\n"
      "token-ttl = 600\n"
      "max-attempts = 5\n"
      "plain-http = true\n");
  Status prepared = Serve(
      {"--listen", "127.0.0.1:7000", "--config", path, "--token-ttl", "900", "--plain-http=false"});
  ASSERT_TRUE(prepared.ok()) << prepared.message();
  EXPECT_EQ(args_.options.listen, "127.0.0.1:7000");
  EXPECT_EQ(args_.options.token_ttl, std::chrono::seconds(900));
  EXPECT_FALSE(args_.options.plain_http);
  EXPECT_EQ(args_.options.delivery.max_attempts, 5);  // only in the file
}

TEST_F(ServeConfig, RefusesOutOfRangeAndMalformedValuesWithTheirLine) {
  std::string path = WriteFile(
      "# the bus\n"
      "token-ttl = 30\n"
      "listen = 8443\n"
      "admin-listen = nowhere\n"
      "key-curve = ed25519\n"
      "rate-per-system = nan\n"
      "liste = 0.0.0.0:1\n");
  Status prepared = Serve({"--config", path});
  EXPECT_EQ(prepared.message(),
            path + ":2: token-ttl: must be from 120 to 86400 (not 30)\n" + path +
                ":3: listen: must be HOST:PORT with a port from 0 to 65535 (not '8443')\n" + path +
                ":4: admin-listen: must be HOST:PORT with a port from 0 to 65535, or off (not "
                "'nowhere')\n" +
                path +
                ":5: key-curve: unsupported curve ed25519 (supported: secp256k1, prime256v1, "
                "secp521r1)\n" +
                path + ":6: rate-per-system: must be from 0 to 1000000 (not nan)\n" + path +
                ":7: unknown key 'liste' (did you mean 'listen'?)");
}

TEST_F(ServeConfig, TheSameChecksRefuseTheCommandLine) {
  Status prepared = Serve({"--token-ttl", "30"});
  EXPECT_EQ(prepared.message(), "--token-ttl: must be from 120 to 86400 (not 30)");
}

TEST_F(ServeConfig, ChecksSettingsThatInvolveSeveralOptions) {
  EXPECT_EQ(Serve({"--config", WriteFile("retry-base-ms = 2000\nretry-max-ms = 1000\n")}).message(),
            "--retry-max-ms (1000) must be at least --retry-base-ms (2000)");
  CLI::App app;
  ServeArgs args;
  CLI::App* serve = app.add_subcommand("serve");
  AddServeOptions(*serve, args);
  args.config_file = WriteFile("cluster = true\npostgres = host=db\n");
  EXPECT_EQ(PrepareServe(*serve, args).message(),
            "--cluster needs --postgres URL, --nats URL[,URL...], --node-id ID and --kek-file "
            "FILE (see docs/cluster.md)");
}

TEST_F(ServeConfig, AMissingFileIsAClearError) {
  EXPECT_EQ(Serve({"--config", dir_.path() + "/absent.conf"}).message(),
            "cannot read the configuration file " + dir_.path() +
                "/absent.conf: No such file or directory");
}

TEST_F(ServeConfig, TheShippedConfigurationIsValid) {
  Status prepared = Serve({"--config", std::string(GOVESB_SOURCE_DIR) + "/packaging/govesb.conf"});
  ASSERT_TRUE(prepared.ok()) << prepared.message();
  EXPECT_EQ(args_.options.data_dir, "/var/lib/govesb");
  EXPECT_FALSE(args_.options.plain_http);
  EXPECT_TRUE(args_.options.tls_cert.empty());  // the generated certificate until one is given
}

}  // namespace
}  // namespace govesb::apps
