#pragma once

#include <CLI/CLI.hpp>

namespace govesb::apps {

// Each Add*Command registers one top-level subcommand of the `govesb` binary. Argument parsing
// lives here; the work is done by the library modules.
void AddKeygenCommand(CLI::App& app);        // keygen_command.cc
void AddAdminCommand(CLI::App& app);         // admin_command.cc
void AddServeCommand(CLI::App& app);         // serve_command.cc
void AddCallCommand(CLI::App& app);          // call_command.cc
void AddDemoProviderCommand(CLI::App& app);  // demo_provider_command.cc
void AddBenchCommands(CLI::App& app);        // bench_command.cc: bench, bench-provider
void AddAuditCommand(CLI::App& app);         // audit_command.cc
void AddClusterCommand(CLI::App& app);       // cluster_command.cc
void AddInitCommand(CLI::App& app);          // init_command.cc
void AddConfigCommand(CLI::App& app);        // config_command.cc: config check
void AddBackupCommands(CLI::App& app);       // backup_command.cc: backup, restore

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed; the reason is on stderr
inline constexpr int kExitUsage = 2;    // the command line is wrong (CLI11's own errors)

}  // namespace govesb::apps
