#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/database.h"

namespace govesb::evidence {

// Which records `govesb audit query` returns. Empty fields match everything.
struct QueryFilter {
  int64_t from_ms = 0;                                  // at >= from_ms
  int64_t to_ms = std::numeric_limits<int64_t>::max();  // at < to_ms
  // Records sent or received by any of these systems (client_ids), e.g. an institution's.
  std::vector<std::string> systems;
  std::string code;     // apiCode or pushCode
  std::string outcome;  // "ok", or a failure's code name
  std::string user_id;  // "who accessed data about this person"
  std::string request_id;
  std::string kind;
  size_t limit = 100'000;
};

// The canonical texts of the matching records, oldest first (seq order): archived ones (read
// from `archive_dir`, only the files whose time span meets the range) and live ones. Filters
// are applied to the records' own members, never spliced into SQL.
Result<std::vector<std::string>> QueryRecords(store::Database& db, const QueryFilter& filter,
                                              const std::string& archive_dir = "");

}  // namespace govesb::evidence
