#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "admin/journal.h"
#include "base/result.h"
#include "crypto/key_ring.h"

namespace govesb::apps {

// Where `govesb admin esb-key` finds the bus's keys (a data directory's key ring file, or a
// cluster's sealed key ring in PostgreSQL), given by `admin` once its options are parsed (it
// checks them and fails the command itself when they are wrong).
struct EsbKeyWhere {
  using Change = std::function<Result<crypto::KeyRing>(const crypto::KeyRing&)>;
  bool json = false;
  // The key ring as it is now.
  std::function<crypto::KeyRing()> read = nullptr;
  // Reads the ring, applies the change and stores the result (atomically, one change at a
  // time); returns the ring stored.
  std::function<crypto::KeyRing(const Change&)> update = nullptr;
  // Records an admin action of the operator at this machine (in the registry database, from
  // where the bus moves it into the evidence log).
  std::function<Status(const admin::Change&)> record = nullptr;
  // What a running bus does with a change ("a running bus on this directory ...").
  std::string picked_up_by = std::string();
};

// `govesb admin esb-key` (list the keys; --current prints the current public key alone) and
// its subcommands rotate, activate, discard and erase-retired (docs/key-rotation.md).
// esb_key_command.cc.
void AddEsbKeyCommand(CLI::App& admin, std::function<EsbKeyWhere()> where);

}  // namespace govesb::apps
