#pragma once

// The options of `govesb serve`, in one place for the command line, the configuration file
// (--config, config_file.h) and `govesb config check`, which all go through the same
// definitions, conversions and checks.

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"
#include "server/bus_server.h"

namespace govesb::apps {

// What the options are parsed into; PrepareServe turns the raw numbers into `options`.
struct ServeArgs {
  std::string config_file;          // --config: settings read before the bus starts
  bool admin_listen_given = false;  // the default admin address may be taken: then a warning
  server::ServeOptions options;
  std::string curve = "secp256k1";
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  int64_t token_ttl_seconds = 3600;
  int64_t retry_base_ms = 1000;
  int64_t retry_max_ms = 600'000;
  int64_t delivery_timeout_ms = 30'000;
  int64_t answer_window_s = 86'400;
  int64_t checkpoint_interval_s = 60;
  int64_t tls_handshake_timeout_ms = 10'000;
  int64_t read_timeout_ms = 30'000;
  int64_t shutdown_delay_ms = 0;
  double evidence_retention_days = 30;
  double rate_per_system = 500;
  double burst_per_system = 1000;
  double rate_per_api = 0;
  double burst_per_api = 0;
  int64_t replay_window_s = 600;
  size_t replay_max_entries = 1'000'000;
  uint32_t token_free_failures = 5;
  uint32_t token_free_failures_per_address = 20;
  int64_t token_max_lock_s = 900;
  bool no_evidence = false;
  bool cluster = false;
  std::string nats;  // comma-separated URLs
  int64_t lease_ms = 6'000;
};

// Defines every option of `govesb serve` on `command`, bound to `args` (which must outlive
// it), with the checks of each single value as CLI11 validators, so that a value refused on
// the command line is refused with its line in a configuration file. `--config` is the one
// option a file cannot set. The defaults: ServeArgs's, and $GOVESB_DATA_DIR for --data-dir.
void AddServeOptions(CLI::App& command, ServeArgs& args);

// After CLI11 has parsed the command line of `command` (defined by AddServeOptions on
// `args`): applies args.config_file, if any, to the options the command line left unset, then
// checks the settings that involve several options and fills args.options. What `serve` does
// before it starts anything, and all that `config check` does.
Status PrepareServe(CLI::App& command, ServeArgs& args);

// Prints a PrepareServe error on stderr, "error: " before each of its lines.
void PrintServeErrors(const Status& status);

}  // namespace govesb::apps
