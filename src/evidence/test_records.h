#pragma once

// Test-only: records of made-up exchanges, for the module's tests (search_test.cc and the
// store contract suite).

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "evidence/record.h"
#include "evidence/store.h"

namespace govesb::evidence {

// One step of an exchange, signed with a text derived from its request id.
inline Record Step(int64_t at, std::string request_id, std::string kind, std::string from,
                   std::string to, std::string code, std::string user_id, std::string outcome) {
  Record r;
  r.at_ms = at;
  r.request_id = std::move(request_id);
  r.kind = std::move(kind);
  r.from = std::move(from);
  r.to = std::move(to);
  r.code = std::move(code);
  r.user_id = std::move(user_id);
  r.outcome = std::move(outcome);
  r.error = r.outcome == "ok" ? "" : "refused";
  r.latency_us = 17;
  r.size = 321;
  AttachSigned(r, "data of " + r.request_id, "sig-" + r.request_id);
  return r;
}

// Every page of a search (`search(filter)` answers one page), following its cursors; checks each
// record against what was appended (`appended[seq - 1]`). `pages`: how many pages it took.
template <class SearchPageOf>
std::vector<int64_t> AllPages(SearchPageOf search, const std::vector<Record>& appended,
                              SearchFilter f, size_t* pages = nullptr) {
  std::vector<int64_t> seqs;
  for (size_t n = 1;; ++n) {
    Result<SearchPage> page = search(f);
    EXPECT_TRUE(page.ok()) << page.status().message();
    if (!page.ok() || n > 100'000) return seqs;
    EXPECT_LE(page->records.size(), f.page_size);
    for (const FoundRecord& r : page->records) {
      seqs.push_back(r.seq);
      EXPECT_EQ(CanonicalRecord(r.seq, r.record),
                CanonicalRecord(r.seq, appended.at(static_cast<size_t>(r.seq) - 1)))
          << "record " << r.seq << " comes back as it was recorded";
    }
    if (page->next_cursor.empty()) {
      if (pages != nullptr) *pages = n;
      return seqs;
    }
    f.cursor = page->next_cursor;
  }
}

}  // namespace govesb::evidence
