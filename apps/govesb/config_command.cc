#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "serve_options.h"

namespace govesb::apps {

void AddConfigCommand(CLI::App& app) {
  auto* config = app.add_subcommand("config", "Configuration files of `govesb serve`");
  config->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* check = config->add_subcommand(
      "check",
      "Check a configuration file as `govesb serve --config FILE` would, without starting "
      "anything: prints OK, or each error with its line (exit 1)");
  check->add_option("FILE", *file, "The configuration file")->required();
  check->callback([file] {
    // The serve command's own options and checks, on a command of its own.
    CLI::App serve{"govesb serve"};
    ServeArgs args;
    AddServeOptions(serve, args);
    args.config_file = *file;
    Status checked = PrepareServe(serve, args);
    if (!checked.ok()) {
      PrintServeErrors(checked);
      throw CLI::RuntimeError(kExitFailure);
    }
    std::printf("%s: OK\n", file->c_str());
  });
}

}  // namespace govesb::apps
