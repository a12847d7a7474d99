// `govesb init`: makes a new bus data directory (the bus's signing key, the token and evidence
// secrets, the database with the registry's schemas), so that systems can be registered with
// `govesb admin` before the bus first starts. Only `init` and `serve` create a data directory;
// every other command refuses a missing one (existing_data_dir.h).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "accounts/accounts.h"
#include "commands.h"
#include "crypto/keys.h"
#include "store/data_dir.h"

namespace govesb::apps {

namespace {

struct InitArgs {
  std::string data_dir = "./govesb-data";
  std::string curve = "secp256k1";
  bool json = false;
};

[[noreturn]] void Fail(const Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

void RunInit(const InitArgs& args) {
  spdlog::set_default_logger(spdlog::stderr_color_st("govesb-init"));
  auto curve = crypto::ParseCurveName(args.curve);
  if (!curve.ok()) Fail(curve.status());
  // An existing directory is opened as it is (its key keeps its own curve): init is idempotent.
  const bool existed = store::DataDir::Open({.path = args.data_dir, .create = false}).ok();
  auto dir = store::DataDir::Open({.path = args.data_dir, .key_curve = *curve, .create = true});
  if (!dir.ok()) Fail(dir.status());
  auto db = dir->OpenDatabase();
  if (!db.ok()) Fail(db.status());
  if (Status migrated = accounts::MigrateAccountsStore(**db); !migrated.ok()) Fail(migrated);

  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(dir->path(), ec);
  const std::string path = ec ? dir->path() : absolute.lexically_normal().string();
  const crypto::PublicKey key = dir->bus_key().public_key();
  if (args.json) {
    boost::json::object out;
    out["data_dir"] = path;
    out["created"] = !existed;
    out["public_key"] = key.SpkiBase64();
    out["esb_public_key"] = key.SpkiBase64();
    out["curve"] = crypto::CurveName(key.curve());
    std::cout << boost::json::serialize(out) << "\n";
    return;
  }
  std::cout << (existed ? "govesb: already a bus data directory: " : "govesb: created ") << path
            << "\n"
            << "govesb: bus public key (" << crypto::CurveName(key.curve())
            << "): " << key.SpkiBase64() << "\n"
            << "next: govesb admin --data-dir " << path << " institution add ...\n"
            << "      govesb serve --data-dir " << path << "\n";
}

}  // namespace

void AddInitCommand(CLI::App& app) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Create a new bus data directory (keys, database) for registering systems before the "
      "first start; an existing one is left as it is");
  cmd->add_option("--data-dir", args->data_dir, "The data directory to create")
      ->envname("GOVESB_DATA_DIR")
      ->capture_default_str();
  cmd->add_option("--key-curve", args->curve,
                  "Curve of the bus signing key: secp256k1, prime256v1 or secp521r1")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { RunInit(*args); });
}

}  // namespace govesb::apps
