// The `govesb` binary: argument parsing only; see commands.h.
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"GovESB: the Government Enterprise Service Bus"};
  app.require_subcommand(1);
  govesb::apps::AddServeCommand(app);
  govesb::apps::AddInitCommand(app);
  govesb::apps::AddConfigCommand(app);
  govesb::apps::AddKeygenCommand(app);
  govesb::apps::AddAdminCommand(app);
  govesb::apps::AddCallCommand(app);
  govesb::apps::AddDemoProviderCommand(app);
  govesb::apps::AddBenchCommands(app);
  govesb::apps::AddAuditCommand(app);
  govesb::apps::AddClusterCommand(app);
  govesb::apps::AddBackupCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    // A command failed after printing its reason (commands throw CLI::RuntimeError(code)).
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? govesb::apps::kExitOk : govesb::apps::kExitUsage;
  }
  return govesb::apps::kExitOk;
}
