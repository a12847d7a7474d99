#include "evidence/search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <utility>

#include "evidence/archive.h"
#include "evidence/proof.h"
#include "evidence/query.h"
#include "evidence/records.h"
#include "evidence/test_log_fixture.h"
#include "evidence/test_records.h"

namespace govesb::evidence {
namespace {

class SearchTest : public EvidenceLogFixture {
 protected:
  // Appends `n` exchanges (four records each, one entry per exchange), numbered from
  // `first_exchange`, at 1000 ms apart, remembering them as `appended_` (seq order).
  void AddExchanges(int first_exchange, int n) {
    std::vector<Record> batch;
    for (int i = first_exchange; i < first_exchange + n; ++i) {
      const std::string id = "req-" + std::to_string(i);
      const std::string system = i % 3 == 0 ? "moh" : (i % 3 == 1 ? "tra" : "rita");
      const std::string user = i % 5 == 0 ? "person-" + std::to_string(i % 4) : "";
      const std::string code = user.empty() ? "BRTHCRT" : "NIDA01";
      const std::string outcome = i % 7 == 0 ? "PERMISSION_DENIED" : "ok";
      const int64_t at = 1'000'000 + int64_t{i} * 1000;
      std::vector<Record> steps = {
          Step(at, id, user.empty() ? "request" : "nida-request", system, "bus", code, user,
               outcome),
          Step(at + 1, id, "delivery", "bus", "provider", code, user, "ok"),
          Step(at + 2, id, "reply", "provider", "bus", code, user, "ok"),
          Step(at + 3, id, "response", "bus", system, code, user, outcome)};
      for (Record& r : steps) {
        appended_.push_back(r);
        batch.push_back(std::move(r));
      }
      if (batch.size() >= 400) {
        ASSERT_TRUE(AppendRecords(std::exchange(batch, {})).ok());
      }
    }
    if (!batch.empty()) {
      ASSERT_TRUE(AppendRecords(std::move(batch)).ok());
    }
  }

  // An admin action, as the admin API will record it.
  void AddAdmin(int64_t at, const std::string& account, const std::string& action) {
    Record r = Step(at, "adm-" + std::to_string(at), "admin", account, "bus", action, "", "ok");
    appended_.push_back(r);
    ASSERT_TRUE(AppendRecords({r}).ok());
  }

  // How far the log's own readers may read: its writer's committed point.
  std::optional<int64_t> Committed() { return log().durable_seq(); }

  // Writes one exchange of `n` records after the log's end as a batch of the bus's writer is
  // before its database COMMIT: in the segment files and fdatasync'ed, but not committed (a
  // failure of the COMMIT would cut it off again). Through a second SegmentWriter on the same
  // files, returned without Committed(); the log's own writer does not know of it.
  std::unique_ptr<SegmentWriter> WriteUncommitted(const std::string& request_id, int n) {
    auto opened = SegmentWriter::Open(SegmentDir(), SegmentWriter::Tip{}, /*sealed_through=*/0,
                                      /*database_through=*/std::numeric_limits<int64_t>::max(),
                                      SegmentWriter::Options{max_segment_bytes_});
    GOVESB_CHECK(opened.ok());
    std::unique_ptr<SegmentWriter> w = std::move(*opened);
    GOVESB_CHECK(w->tip().seq == log().durable_seq());
    std::string records(1, kCompactRowMarker);
    std::string hashes;
    Hash chain = w->tip().chain;
    for (int i = 0; i < n; ++i) {
      Record r = Step(1'000'000, request_id, "push", "rita", "bus", "BIRTHS", "", "ok");
      EncodeCompact(r, records);
      const Hash h = crypto::Sha256(CanonicalRecord(w->tip().seq + 1 + i, r));
      hashes.append(reinterpret_cast<const char*>(h.data()), h.size());
      chain = ChainLink(chain, h);
    }
    w->BeginBatch(/*with_database=*/true);
    w->Append(1'000'000, request_id, records, hashes, n, chain);
    GOVESB_CHECK(w->Flush().ok());
    return w;
  }

  // Whether the segment files hold an entry of `request_id` (committed or not).
  bool InTheFiles(const std::string& request_id) {
    bool found = false;
    GOVESB_CHECK(ForEachLiveEntry(SegmentDir(), 1, [&](const SegmentEntry& e) {
                   found = found || e.request_id == request_id;
                   return true;
                 }).ok());
    return found;
  }

  Status SealAndIndex(size_t chunk = 2048, int64_t now_ms = 1'700'000'000'000) {
    GOVESB_RETURN_IF_ERROR(log_->CheckpointFrom(*db_, now_ms));
    return log_->IndexSealed(*db_, chunk);
  }

  // What a search must return: the appended records that `keep` accepts, newest first.
  std::vector<int64_t> Expected(const std::function<bool(const Record&)>& keep) const {
    std::vector<int64_t> out;
    for (size_t i = appended_.size(); i-- > 0;) {
      if (keep(appended_[i])) out.push_back(static_cast<int64_t>(i) + 1);
    }
    return out;
  }

  // Every page of a search, followed by its cursors; checks each record against its text.
  std::vector<int64_t> AllPages(SearchFilter f, size_t* pages = nullptr) {
    return evidence::AllPages(
        [&](const SearchFilter& g) { return Search(*db_, g, archive_dir_, Committed()); },
        appended_, std::move(f), pages);
  }

  std::string archive_dir_ = dir_.path() + "/archive";
  std::vector<Record> appended_;
};

// The filters themselves are in the contract suite (store_contract_test.cc); here, the rows
// this adapter's indexing makes.
TEST_F(SearchTest, TheUserIndexHasOneRowPerExchangeOfAPerson) {
  Open(crypto::Curve::kSecp256k1);
  AddExchanges(0, 85);
  ASSERT_TRUE(SealAndIndex().ok());
  auto users = db_->Prepare("SELECT count(*) FROM evidence_user_index");
  ASSERT_TRUE(users.ok() && *users->Step());
  EXPECT_EQ(users->ColumnInt64(0), 17) << "one row per exchange of a person";
}

TEST_F(SearchTest, PagesNeverRepeatNorSkipAcrossTailIndexAndArchives) {
  max_segment_bytes_ = 64 << 10;  // many segment files, blocks cut at their ends
  Open(crypto::Curve::kP256);
  AddExchanges(0, 700);
  ASSERT_TRUE(SealAndIndex(/*chunk=*/100).ok());
  AddExchanges(700, 300);
  ASSERT_TRUE(SealAndIndex(2048, 1'750'000'000'000).ok());
  // The oldest checkpoint's records into an archive; newer ones stay live, some not sealed.
  auto archived = ArchiveSealed(*db_, ArchiveOptions{archive_dir_, 1'720'000'000'000, 200'000});
  ASSERT_TRUE(archived.ok()) << archived.status().message();
  ASSERT_EQ(archived->records, 2800);
  AddExchanges(1000, 40);  // not sealed
  AddAdmin(9'000'000, "admin-alice", "login");

  for (size_t page_size : {7u, 500u}) {
    SearchFilter f;
    f.page_size = page_size;
    EXPECT_EQ(AllPages(f), Expected([](const Record&) { return true; }))
        << "page size " << page_size;
  }
  SearchFilter person;
  person.user_id = "person-2";
  person.page_size = 1;
  EXPECT_EQ(AllPages(person), Expected([](const Record& r) { return r.user_id == "person-2"; }));
  SearchFilter old_request;
  old_request.request_id = "req-5";  // archived
  std::vector<int64_t> found = AllPages(old_request);
  EXPECT_EQ(found, Expected([](const Record& r) { return r.request_id == "req-5"; }));
  auto first = Search(*db_, old_request, archive_dir_, Committed());
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->records.empty());
  EXPECT_TRUE(first->records[0].archived);
  // A reading bound: short pages, each with a cursor, and still every record once.
  SearchFilter window;
  window.from_ms = 1'100'000;
  window.to_ms = 1'900'000;
  window.outcome = "PERMISSION_DENIED";
  window.page_size = 50;
  window.max_examined = 300;
  size_t pages = 0;
  EXPECT_EQ(AllPages(window, &pages), Expected([](const Record& r) {
              return r.at_ms >= 1'100'000 && r.at_ms < 1'900'000 &&
                     r.outcome == "PERMISSION_DENIED";
            }));
  EXPECT_GT(pages, 3u) << "the bound cut the reading into several calls";
}

TEST_F(SearchTest, IndexedLookupsReadOnlyTheirEntriesAndTheUnsealedTail) {
  Open(crypto::Curve::kSecp256k1);
  AddExchanges(0, 2000);
  ASSERT_TRUE(SealAndIndex().ok());
  AddExchanges(2000, 10);  // after the checkpoint: not indexed
  SearchFilter person;
  person.user_id = "person-1";
  person.page_size = 500;
  auto page = Search(*db_, person, archive_dir_, Committed());
  ASSERT_TRUE(page.ok()) << page.status().message();
  const std::vector<int64_t> expected =
      Expected([](const Record& r) { return r.user_id == "person-1"; });
  ASSERT_EQ(page->records.size(), expected.size());
  EXPECT_EQ(page->records.front().seq, expected.front()) << "the newest, from the tail";
  EXPECT_EQ(page->records.front().record.request_id, "req-2005");
  EXPECT_LE(page->examined, int64_t{40} + static_cast<int64_t>(expected.size()))
      << "the tail (40 records) and the person's own entries, not the whole log (8040)";
  SearchFilter exchange;
  exchange.request_id = "req-1234";
  page = Search(*db_, exchange, archive_dir_, Committed());
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 4u);
  EXPECT_EQ(page->records[0].record.kind, "response");
  EXPECT_LE(page->examined, 44);
  // A time window reads the blocks that meet it, not all of them.
  SearchFilter window;
  window.from_ms = 1'500'000;
  window.to_ms = 1'500'999;
  page = Search(*db_, window, archive_dir_, Committed());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->records.size(), 4u);
  EXPECT_LE(page->examined, 40 + 2 * 4 * 256) << "the tail and at most two blocks";
}

TEST_F(SearchTest, AnExistingLogIsIndexedAfterTheMigration) {
  Open(crypto::Curve::kSecp256k1);
  AddExchanges(0, 300);
  ASSERT_TRUE(SealAndIndex().ok());
  // The database as the version before migration 4 left it: request ids indexed, no search
  // tables.
  log_.reset();
  ASSERT_TRUE(db_->Exec("DROP TABLE evidence_user_index; DROP TABLE evidence_blocks;"
                        " DROP TABLE evidence_search_state;"
                        " UPDATE schema_versions SET version = 3 WHERE component = 'evidence'")
                  .ok());
  ASSERT_TRUE(MigrateEvidenceStore(*db_).ok());
  log_ = EvidenceLog::Open(*db_, *writer_, *signer_).value();
  SearchFilter person;
  person.user_id = "person-0";
  person.page_size = 500;
  const std::vector<int64_t> expected =
      Expected([](const Record& r) { return r.user_id == "person-0"; });
  auto before = Search(*db_, person, archive_dir_, Committed());
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_EQ(before->records.size(), expected.size()) << "read from the files meanwhile";
  EXPECT_EQ(before->examined, 1200);
  ASSERT_TRUE(log_->IndexSealed(*db_).ok()) << "nothing newly sealed, but not indexed yet";
  auto after = Search(*db_, person, archive_dir_, Committed());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->records.size(), expected.size());
  EXPECT_LT(after->examined, 100) << "through the new index";
  auto rows = db_->Prepare("SELECT count(*) FROM evidence_index");
  ASSERT_TRUE(rows.ok() && *rows->Step());
  EXPECT_EQ(rows->ColumnInt64(0), 300) << "request ids indexed once";
}

TEST_F(SearchTest, TheUnindexedTailIsReadNewestFirstUntilThePageIsFull) {
  Open(crypto::Curve::kSecp256k1);
  AddExchanges(0, 100);
  ASSERT_TRUE(log_->IndexCommitted(*db_).ok());
  AddExchanges(100, 2000);  // 8000 records, not indexed
  SearchFilter latest;
  latest.page_size = 50;
  auto page = Search(*db_, latest, archive_dir_, Committed());
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->records.size(), 50u);
  EXPECT_EQ(page->records.front().seq, 8400);
  EXPECT_LE(page->examined, 4 * 256) << "the newest run of entries, not the whole tail";
  SearchFilter exchange;
  exchange.request_id = "req-1234";
  page = Search(*db_, exchange, archive_dir_, Committed());
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 4u);
  EXPECT_EQ(page->records[0].record.kind, "response");
  exchange.max_examined = 100;  // met by the entries passed over: the one found still comes
  EXPECT_EQ(AllPages(exchange),
            Expected([](const Record& r) { return r.request_id == "req-1234"; }));
  // Every page, newest first, and with a reading bound that stops inside the tail: every
  // record once, in order.
  size_t unbounded_pages = 0;
  for (int64_t bound : {int64_t{0}, int64_t{700}}) {
    SearchFilter all;
    all.page_size = 300;
    all.max_examined = bound;
    EXPECT_EQ(AllPages(all), Expected([](const Record&) { return true; })) << bound;
    SearchFilter rare;  // one exchange in 35: two records of it
    rare.outcome = "PERMISSION_DENIED";
    rare.code = "NIDA01";
    rare.page_size = 20;
    rare.max_examined = bound;
    size_t pages = 0;
    EXPECT_EQ(AllPages(rare, &pages), Expected([](const Record& r) {
                return r.outcome == "PERMISSION_DENIED" && r.code == "NIDA01";
              }))
        << bound;
    if (bound == 0) {
      unbounded_pages = pages;
    } else {
      EXPECT_GT(pages, unbounded_pages) << "the bound cut the tail's reading";
    }
  }
}

// A committed record is cut off on opening only when the files were damaged after the last
// checkpoint (a torn end); records indexed before that must not stay in the indexes, which
// would then point at the records written later under the same numbers.
TEST_F(SearchTest, IndexRowsPastALogEndCutOffOnOpeningAreRemoved) {
  Open(crypto::Curve::kSecp256k1);
  AddExchanges(0, 50);
  ASSERT_TRUE(SealAndIndex().ok());
  AddExchanges(50, 30);  // records 201-320: committed, indexed, not sealed
  ASSERT_TRUE(log_->IndexCommitted(*db_).ok());
  // Damage in the entry of req-60 (records 241-244): it and all after it are cut off.
  log_.reset();
  auto files = ListSegments(SegmentDir()).value();
  ASSERT_EQ(files.size(), 1u);
  uint64_t damaged_at = 0;
  ASSERT_TRUE(ForEachSegmentEntry(files[0].path, [&](const SegmentEntry& e) -> Result<bool> {
                if (e.first_seq == 241) damaged_at = e.end - 40;  // in its hashes
                return true;
              }).ok());
  ASSERT_GT(damaged_at, 0u);
  {
    std::fstream f(files[0].path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(damaged_at));
    f.put('\x55');
  }
  log_ = EvidenceLog::Open(*db_, *writer_, *signer_).value();
  appended_.resize(240);
  // Other exchanges under the numbers cut off, then more.
  AddExchanges(500, 40);
  for (auto [table, column] : {std::pair{"evidence_index_state", "indexed_through"},
                               {"evidence_search_state", "indexed_through"}}) {
    auto state = db_->Prepare(std::string("SELECT ") + column + " FROM " + table);
    ASSERT_TRUE(state.ok() && *state->Step());
    EXPECT_LE(state->ColumnInt64(0), 240) << table;
  }
  auto rows = db_->Prepare(
      "SELECT (SELECT count(*) FROM evidence_index WHERE first_seq > 240),"
      " (SELECT count(*) FROM evidence_user_index WHERE first_seq > 240),"
      " (SELECT count(*) FROM evidence_blocks WHERE last_seq > 240)");
  ASSERT_TRUE(rows.ok() && *rows->Step());
  EXPECT_EQ(rows->ColumnInt64(0) + rows->ColumnInt64(1) + rows->ColumnInt64(2), 0);
  auto check = [&](const char* when) {
    SearchFilter all;
    all.page_size = 500;
    EXPECT_EQ(AllPages(all), Expected([](const Record&) { return true; })) << when;
    SearchFilter gone;
    gone.request_id = "req-70";  // cut off
    EXPECT_TRUE(AllPages(gone).empty()) << when;
    SearchFilter person;
    person.user_id = "person-1";  // some cut off, some new
    EXPECT_EQ(AllPages(person), Expected([](const Record& r) { return r.user_id == "person-1"; }))
        << when;
    auto found = FindLiveExchange(*db_, "req-510", log().durable_seq());
    ASSERT_TRUE(found.ok());
    ASSERT_EQ(found->size(), 1u) << when;
    EXPECT_EQ(found->front(), std::make_pair(int64_t{281}, int64_t{284})) << when;
    EXPECT_TRUE(FindLiveExchange(*db_, "req-70", log().durable_seq()).value().empty()) << when;
  };
  check("indexed up to the new end");
  ASSERT_TRUE(log_->IndexCommitted(*db_).ok());
  check("indexed again");
  ASSERT_TRUE(SealAndIndex().ok());
  check("sealed");
  auto report = Verify(*db_, signer_->public_key(), archive_dir_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
}

// Regression: the live log's tail was read to the end of the files, so a search, a query or a
// proof could return records of a batch written but not committed yet, which a failed COMMIT
// (or fdatasync) then cuts off again: records that never were. They stop at the committed
// point: the writer's durable_seq in its process, the database's record of its commits in
// another.
TEST_F(SearchTest, RecordsWrittenButNotCommittedAreNeitherSearchedNorQueriedNorProven) {
  Open(crypto::Curve::kSecp256k1);
  AddExchanges(0, 5);
  ASSERT_TRUE(SealAndIndex().ok());
  AddExchanges(5, 2);  // committed, not indexed: read from the files' tail
  const int64_t committed = log().durable_seq();
  ASSERT_EQ(committed, 28);
  auto in_flight = WriteUncommitted("in-flight", 3);
  ASSERT_TRUE(InTheFiles("in-flight")) << "the entry is there to be read";

  // In another process, the database's record of its commits: the seal's and the indexing's
  // batches wrote it (records 1-20); the appends since wrote no database row, so they are
  // counted at the next batch that does.
  ASSERT_EQ(CommittedThrough(*db_).value(), 20);
  struct Reader {
    const char* name;
    std::optional<int64_t> limit;
    int64_t newest;  // the newest record it may give
  };
  for (const Reader& reader : {Reader{"the writer's durable_seq", committed, committed},
                               Reader{"the database's record", std::nullopt, 20}}) {
    SCOPED_TRACE(reader.name);
    SearchFilter everything;
    everything.page_size = 500;
    auto page = Search(*db_, everything, archive_dir_, reader.limit);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_EQ(page->records.size(), static_cast<size_t>(reader.newest));
    EXPECT_EQ(page->records.front().seq, reader.newest);
    for (const FoundRecord& r : page->records) EXPECT_NE(r.record.request_id, "in-flight");
    SearchFilter by_id;
    by_id.request_id = "in-flight";
    EXPECT_TRUE(Search(*db_, by_id, archive_dir_, reader.limit)->records.empty());
    SearchFilter below_far;
    below_far.cursor = "s1000";  // a cursor past the end reads nothing past the committed point
    EXPECT_EQ(Search(*db_, below_far, archive_dir_, reader.limit)->records.front().seq,
              reader.newest);

    QueryFilter query_all;
    auto texts = QueryRecords(*db_, query_all, archive_dir_, reader.limit);
    ASSERT_TRUE(texts.ok()) << texts.status().ToString();
    EXPECT_EQ(texts->size(), static_cast<size_t>(reader.newest));
    QueryFilter query_id;
    query_id.request_id = "in-flight";
    EXPECT_TRUE(QueryRecords(*db_, query_id, archive_dir_, reader.limit)->empty());

    // Not "not sealed yet": there is no such exchange (yet).
    EXPECT_EQ(BuildProof(*db_, "in-flight", signer_->public_key(), archive_dir_, reader.limit)
                  .status()
                  .code(),
              StatusCode::kNotFound);
  }
  EXPECT_TRUE(FindLiveExchange(*db_, "in-flight", committed).value().empty());
  EXPECT_EQ(FindLiveExchange(*db_, "in-flight", committed + 3).value().size(), 1u)
      << "read past the committed point, it would be found";

  // Once the database records the batch's commit, a reader elsewhere sees it.
  {
    store::WriteContext ctx(*db_);
    ASSERT_TRUE(db_->Exec("BEGIN IMMEDIATE").ok());
    ASSERT_TRUE(in_flight->BeforeCommit(ctx).ok());
    ASSERT_TRUE(db_->Exec("COMMIT").ok());
    in_flight->Committed();
  }
  SearchFilter by_id;
  by_id.request_id = "in-flight";
  EXPECT_EQ(Search(*db_, by_id, archive_dir_)->records.size(), 3u);
  QueryFilter query_id;
  query_id.request_id = "in-flight";
  EXPECT_EQ(QueryRecords(*db_, query_id, archive_dir_)->size(), 3u);
}

// The bus's own store (the admin API's reads) bounds its reads by its writer's committed point.
TEST_F(SearchTest, TheStoreReadsNoRecordItsWriterHasNotCommitted) {
  Open(crypto::Curve::kP256);
  OpenStore();
  AddExchanges(0, 3);
  ASSERT_TRUE(store_->SealAll(1'700'000'000'000).ok());
  AddExchanges(3, 1);
  auto in_flight = WriteUncommitted("in-flight", 2);
  ASSERT_TRUE(InTheFiles("in-flight"));

  SearchFilter everything;
  everything.page_size = 500;
  auto page = store_->Search(everything);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->records.size(), 16u);
  for (const FoundRecord& r : page->records) EXPECT_NE(r.record.request_id, "in-flight");
  QueryFilter query_all;
  EXPECT_EQ(store_->Query(query_all)->size(), 16u);
  EXPECT_EQ(store_->BuildProof("in-flight", signer_->public_key()).status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(store_->BuildProof("req-1", signer_->public_key()).ok());
}

// Bounds shared by every adapter are in the contract suite; this adapter's cursors are the
// number of the last record given ("s<seq>"), and anything else is refused.
TEST_F(SearchTest, CursorsAreTheNumberOfTheLastRecordGiven) {
  Open(crypto::Curve::kSecp256k1);
  AddExchanges(0, 3);
  auto refused = [&](const std::function<void(SearchFilter&)>& set) {
    SearchFilter f;
    set(f);
    auto page = Search(*db_, f, archive_dir_, Committed());
    return !page.ok() && page.status().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused([](SearchFilter& f) { f.cursor = "12"; }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.cursor = "s-4"; }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.cursor = "s0"; }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.cursor = "s99999999999999999999"; }));
  SearchFilter fine;
  fine.page_size = kMaxSearchPageSize;
  fine.cursor = "s3";
  auto page = Search(*db_, fine, archive_dir_, Committed());
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].seq, 2);
}

}  // namespace
}  // namespace govesb::evidence
