#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "evidence/store.h"
#include "store/database.h"

namespace govesb::evidence {

// The canonical texts of the matching records, oldest first (seq order): archived ones (read
// from `archive_dir`, only the files whose time span meets the range) and live ones up to the
// committed point (`committed_through`, as records.h ReadLimit: nullopt, what the database
// recorded as committed). Filters are applied to the records' own members, never spliced into
// SQL.
Result<std::vector<std::string>> QueryRecords(
    store::Database& db, const QueryFilter& filter, const std::string& archive_dir = "",
    std::optional<int64_t> committed_through = std::nullopt);

}  // namespace govesb::evidence
