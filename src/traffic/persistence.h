#pragma once

// The table traffic_minutes, shared by the flush (persistence.cc) and the queries (query.cc).
// Internal to the module.

#include <string_view>

#include "base/result.h"
#include "store/database.h"
#include "traffic/counters.h"

namespace govesb::traffic::internal {

// The outcome columns, in Outcome order, then the rest, as selected by kSelectColumns.
inline constexpr std::string_view kSelectColumns =
    "minute, kind, code, consumer, provider, success, provider_declined, refused_auth, "
    "refused_limit, refused_invalid, refused_other, provider_failure, provider_timeout, "
    "bus_failure, request_bytes, response_bytes, bus_us_sum, provider_us_sum, latency, "
    "bus_time, provider_time";

// Reads a row selected with kSelectColumns. `histograms`: false to skip the bus and provider
// histograms (queries need only the total latency).
Result<MinuteRow> ReadRow(const store::Statement& s, bool histograms);

// Adds rows to the table (merging with rows already there) and deletes rows of minutes before
// `delete_before_minute` (none when negative), in one transaction. On PostgreSQL the rows are
// `node`'s (the key's last column; other nodes' rows are not touched but deleted by the
// retention all the same); on SQLite there is no node column and `node` is ignored.
Status AddRows(store::Database& db, const std::vector<MinuteRow>& rows,
               int64_t delete_before_minute, std::string_view node = {});

}  // namespace govesb::traffic::internal
