#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/result.h"
#include "evidence/log.h"
#include "store/database.h"

namespace govesb::evidence {

// Bounds of a search's input: larger values are refused (kInvalidArgument), never truncated.
inline constexpr size_t kMaxSearchPageSize = 500;
inline constexpr size_t kMaxSearchValueBytes = 256;  // any one filter value
inline constexpr size_t kMaxSearchSystems = 1000;

// Which records a search returns (for the admin API and portal). Empty fields match
// everything; all given fields must match. Values are compared in code, never spliced into SQL.
struct SearchFilter {
  int64_t from_ms = 0;                                  // at >= from_ms
  int64_t to_ms = std::numeric_limits<int64_t>::max();  // at < to_ms
  // Records sent or received by any of these systems (client_ids): `from` or `to` is one of
  // them. An institution's view passes its systems.
  std::vector<std::string> systems;
  std::string code;        // apiCode or pushCode
  std::string outcome;     // "ok", or a failure's code name
  std::string kind;        // "request", "response", … "admin"
  std::string request_id;  // looked up in evidence_index
  std::string user_id;     // looked up in evidence_user_index
  std::string actor;       // the record's `from`: for admin records, the acting account
  size_t page_size = 100;  // 1 … kMaxSearchPageSize
  std::string cursor;      // "" for the first page, else a SearchPage::next_cursor
  // The most records one call reads (0: no bound). A selective filter over a large log may
  // then return a short page, with a cursor to go on from where it stopped.
  int64_t max_examined = 4'000'000;
};

// One record found, as recorded.
struct FoundRecord {
  int64_t seq = 0;
  Record record;          // CanonicalRecord(seq, record) is its text exactly as hashed
  bool archived = false;  // read from an archive file rather than the live log
};

struct SearchPage {
  // Newest first: descending seq (the log's order; records of one exchange in reverse).
  std::vector<FoundRecord> records;
  // Pass it back in SearchFilter::cursor for the records after these (older ones, the same
  // filter); "" when there are none. A page may be full and the next one empty, or (when the
  // reading bound was met) short and followed by more.
  std::string next_cursor;
  int64_t examined = 0;  // records read to make this page
};

// The records that match `filter`, newest first, a page at a time: from the live log (records
// not indexed yet, after the last checkpoint, by reading them; sealed ones through the indexes:
// evidence_index for a requestId, evidence_user_index for a userId, else evidence_blocks, whose
// time spans let a time range skip what it cannot hold) and then from the archives in
// `archive_dir` whose time span meets the range (read whole). Paging never repeats nor skips
// a record: a cursor is the number of the last record given, and the next page holds the
// matching records numbered below it. kInvalidArgument for input out of bounds or a cursor
// this function did not make.
Result<SearchPage> Search(store::Database& db, const SearchFilter& filter,
                          const std::string& archive_dir);

}  // namespace govesb::evidence
