#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/result.h"
#include "evidence/store.h"
#include "store/database.h"

namespace govesb::evidence {

// The canonical texts of the matching records, oldest first (seq order): archived ones (read
// from `archive_dir`, only the files whose time span meets the range) and live ones. Filters
// are applied to the records' own members, never spliced into SQL.
Result<std::vector<std::string>> QueryRecords(store::Database& db, const QueryFilter& filter,
                                              const std::string& archive_dir = "");

}  // namespace govesb::evidence
