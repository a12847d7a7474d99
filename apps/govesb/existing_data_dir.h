#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "store/data_dir.h"

namespace govesb::apps {

// The data directory of an existing bus, for every command but `serve` and `init`: nothing is
// created. A missing directory (or one without the bus's keys) is an error that names the
// absolute path looked at and says how to point at the right one, so that a command run in
// another working directory never silently makes a second registry with a bus key of its own.
// `command` names the command in the message ("govesb admin").
Result<store::DataDir> OpenExistingDataDir(const std::string& path, std::string_view command);

}  // namespace govesb::apps
