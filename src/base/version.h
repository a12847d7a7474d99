#pragma once

#include <string_view>

namespace govesb {

// The release this binary belongs to (the project's version in CMake, e.g. "0.1.0"): what the
// admin API reports, what a backup's manifest and a data directory's format file name.
std::string_view GovesbVersion();

}  // namespace govesb
