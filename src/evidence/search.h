#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "evidence/store.h"
#include "store/database.h"

namespace govesb::evidence {

// The records that match `filter`, newest first, a page at a time: from the live log (records
// not indexed yet, after the last checkpoint, by reading them; sealed ones through the indexes:
// evidence_index for a requestId, evidence_user_index for a userId, else evidence_blocks, whose
// time spans let a time range skip what it cannot hold) and then from the archives in
// `archive_dir` whose time span meets the range (read whole). Paging never repeats nor skips
// a record: a cursor is the number of the last record given, and the next page holds the
// matching records numbered below it. kInvalidArgument for input out of bounds or a cursor
// this function did not make. Only committed records are given: the files are read up to
// `committed_through` (records.h ReadLimit: the writer's durable_seq in its own process; nullopt,
// what the database recorded as committed).
Result<SearchPage> Search(store::Database& db, const SearchFilter& filter,
                          const std::string& archive_dir,
                          std::optional<int64_t> committed_through = std::nullopt);

// The bounds every adapter's search enforces (store.h): kInvalidArgument for a page size out of
// 1 … kMaxSearchPageSize, a time range that ends before it starts, too many systems, a value
// longer than kMaxSearchValueBytes. The cursor's form is the adapter's to check.
Status CheckSearchFilter(const SearchFilter& filter);

// A record from its canonical text (archives, PostgreSQL's rows, entries carried over from the
// first layout); nullopt when the text is not one. CanonicalRecord(seq, *RecordFromCanonical(t))
// gives t back.
std::optional<Record> RecordFromCanonical(std::string_view text);

}  // namespace govesb::evidence
