#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "crypto/keys.h"
#include "store/data_dir.h"

namespace govesb::apps {

// Where `govesb admin esb-key` finds the bus's keys, given by `admin` once its options are
// parsed (it checks them and fails the command itself when they are wrong).
struct EsbKeyWhere {
  bool json = false;
  bool on_cluster = false;
  // The data directory (embedded default), opened without creating anything.
  std::function<store::DataDir()> open_dir = nullptr;
  // The cluster's one bus key, from its secrets (--postgres with --kek-file).
  std::function<crypto::PublicKey()> cluster_key = nullptr;
};

// `govesb admin esb-key` (list the keys; --current prints the current public key alone) and
// its subcommands rotate, activate and discard (docs/key-rotation.md). esb_key_command.cc.
void AddEsbKeyCommand(CLI::App& admin, std::function<EsbKeyWhere()> where);

}  // namespace govesb::apps
