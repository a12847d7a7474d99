// The contract of EvidenceStore (store.h): every adapter must pass these tests. An adapter
// joins by giving a harness (how to open it on fresh storage, reopen it, break its appends and
// change a stored record as an intruder would) and one line in kAdapters at the bottom.
// Tests that look at one adapter's tables or files stay in that adapter's own tests.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/temp_dir.h"
#include "crypto/keys.h"
#include "evidence/pg_store.h"
#include "evidence/proof.h"
#include "evidence/records.h"
#include "evidence/segments.h"
#include "evidence/sqlite_store.h"
#include "evidence/store.h"
#include "evidence/test_records.h"
#include "postgres/test_server.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::evidence {
namespace {

// One adapter on storage of its own (fresh, empty, migrated), for one test.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual EvidenceStore& store() = 0;
  virtual crypto::PublicKey bus_key() = 0;
  // Closes the store and opens it again on the same storage, as after a restart.
  virtual void Reopen() = 0;
  // A real fault from which appends fail until Reopen (no fake: the adapter's own machinery).
  virtual void BreakAppends() = 0;
  // Changes the stored text of record `seq` (its `"at"` value), leaving its stored hash and
  // everything else as it was: what someone with write access to the storage could do.
  virtual void ChangeRecord(int64_t seq) = 0;
  // Whether the adapter archives (Archive); one that does not must say so with
  // kFailedPrecondition, and the archive test checks that instead.
  virtual bool CanArchive() const { return true; }
};

struct Adapter {
  const char* name;
  std::function<std::unique_ptr<StoreHarness>()> make;
};

// ---- SQLite + segment files ----

class SqliteHarness final : public StoreHarness {
 public:
  SqliteHarness()
      : key_(crypto::PrivateKey::Generate(crypto::Curve::kP256).value()), signer_(key_) {
    path_ = dir_.path() + "/e.db";
    {
      auto db = store::Database::Open(path_).value();
      GOVESB_CHECK(MigrateEvidenceStore(*db).ok());
    }
    Open();
  }
  ~SqliteHarness() override {
    store_.reset();  // before its writer
  }

  EvidenceStore& store() override { return *store_; }
  crypto::PublicKey bus_key() override { return signer_.public_key(); }
  void Reopen() override {
    store_.reset();
    writer_->Stop();
    Open();
  }
  // The group-commit writer stopped (as at shutdown): its jobs never run.
  void BreakAppends() override { writer_->Stop(); }
  void ChangeRecord(int64_t seq) override {
    auto db = store::Database::Open(path_).value();
    // The entries, rewritten with their records as canonical texts (a form the log reads).
    std::vector<std::string> owned;  // the entries' bytes, kept alive for WriteSegmentFile
    std::vector<SegmentEntry> entries;
    const std::string dir = SegmentDirFor(path_);
    GOVESB_CHECK(ForEachLiveEntry(dir, 1, [&](const SegmentEntry& e) {
                   SegmentEntry copy = e;
                   owned.emplace_back(e.request_id);
                   owned.emplace_back(e.hashes);
                   owned.emplace_back(e.chain);
                   entries.push_back(copy);
                   return true;
                 }).ok());
    std::vector<std::string> records(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string joined;
      GOVESB_CHECK(ForEachLiveRecord(*db, entries[i].first_seq, entries[i].last_seq,
                                     [&](const StoredRecord& r) -> Result<bool> {
                                       std::string text(r.text);
                                       if (r.seq == seq) {
                                         const size_t at = text.find("\"at\":") + 5;
                                         text[at] = text[at] == '9' ? '1' : text[at] + 1;
                                       }
                                       if (!joined.empty()) joined += '\n';
                                       joined += text;
                                       return true;
                                     })
                       .ok());
      records[i] = std::move(joined);
    }
    // Views into `owned` and `records`, which stay put from here on.
    for (size_t i = 0; i < entries.size(); ++i) {
      entries[i].request_id = owned[3 * i];
      entries[i].hashes = owned[3 * i + 1];
      entries[i].chain = owned[3 * i + 2];
      entries[i].records = records[i];
    }
    const std::vector<SegmentFile> files = ListSegments(dir).value();
    for (const SegmentFile& f : files) std::filesystem::remove(f.path);
    GOVESB_CHECK(
        WriteSegmentFile(dir + "/" + SegmentFileName(entries.front().first_seq), entries).ok());
  }

 private:
  void Open() {
    writer_ = store::GroupCommitWriter::Open(path_).value();
    store_ = SqliteEvidenceStore::Open(path_, *writer_, signer_,
                                       {.archive_dir = dir_.path() + "/archive"})
                 .value();
  }

  TempDir dir_;
  std::string path_;
  crypto::PrivateKey key_;
  crypto::LocalSigner signer_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<SqliteEvidenceStore> store_;
};

// ---- PostgreSQL (one chain of a cluster's) ----

class PostgresHarness final : public StoreHarness {
 public:
  PostgresHarness()
      : key_(crypto::PrivateKey::Generate(crypto::Curve::kP256).value()), signer_(key_) {
    conninfo_ = postgres::testing::FreshDatabase();
    GOVESB_CHECK(!conninfo_.empty());
    {
      auto db = store::Database::OpenPostgres(conninfo_).value();
      GOVESB_CHECK(MigrateEvidenceStore(*db).ok());
    }
    Open();
  }
  ~PostgresHarness() override { store_.reset(); }

  EvidenceStore& store() override { return *store_; }
  crypto::PublicKey bus_key() override { return signer_.public_key(); }
  void Reopen() override {
    store_.reset();
    writer_->Stop();
    Open();
  }
  // The group-commit writer stopped (as at shutdown): its jobs never run.
  void BreakAppends() override { writer_->Stop(); }
  // An UPDATE of the stored text, as someone with write access to the database could make.
  void ChangeRecord(int64_t seq) override {
    auto db = store::Database::OpenPostgres(conninfo_).value();
    auto read = db->Prepare("SELECT record FROM evidence_records WHERE node = 'node-a' AND seq = ?")
                    .value();
    GOVESB_CHECK(read.Bind(1, seq).ok());
    GOVESB_CHECK(read.Step().value());
    std::string text = read.ColumnText(0);
    const size_t at = text.find("\"at\":") + 5;
    text[at] = text[at] == '9' ? '1' : text[at] + 1;
    auto update =
        db->Prepare("UPDATE evidence_records SET record = ? WHERE node = 'node-a' AND seq = ?")
            .value();
    GOVESB_CHECK(update.Bind(1, text).ok());
    GOVESB_CHECK(update.Bind(2, seq).ok());
    GOVESB_CHECK(update.Run().ok());
  }
  bool CanArchive() const override { return false; }

 private:
  void Open() {
    writer_ =
        store::GroupCommitWriter::Start(store::Database::OpenPostgres(conninfo_).value()).value();
    store_ =
        PgEvidenceStore::Open(conninfo_, *writer_, signer_, {.node_id = "node-a", .postgres = {}})
            .value();
  }

  std::string conninfo_;
  crypto::PrivateKey key_;
  crypto::LocalSigner signer_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<PgEvidenceStore> store_;
};

// ---- the contract ----

// The four steps of exchange `i` (a synchronous call), at 1'000'000 + 1000 i ms.
std::vector<Record> Exchange(int i) {
  const std::string id = "req-" + std::to_string(i);
  const std::string system = i % 3 == 0 ? "moh" : (i % 3 == 1 ? "tra" : "rita");
  const std::string user = i % 5 == 0 ? "person-" + std::to_string(i % 4) : "";
  const std::string code = user.empty() ? "BRTHCRT" : "NIDA01";
  const std::string outcome = i % 7 == 0 ? "PERMISSION_DENIED" : "ok";
  const int64_t at = 1'000'000 + int64_t{i} * 1000;
  return {
      Step(at, id, user.empty() ? "request" : "nida-request", system, "bus", code, user, outcome),
      Step(at + 1, id, "delivery", "bus", "provider", code, user, "ok"),
      Step(at + 2, id, "reply", "provider", "bus", code, user, "ok"),
      Step(at + 3, id, "response", "bus", system, code, user, outcome)};
}

class EvidenceStoreContract : public ::testing::TestWithParam<Adapter> {
 protected:
  void SetUp() override { harness_ = GetParam().make(); }

  EvidenceStore& store() { return harness_->store(); }

  // Appends and waits for `done`.
  Status Append(std::vector<Record> records) {
    std::promise<Status> p;
    auto f = p.get_future();
    store().Append(Prepare(records), [&p](Status s) { p.set_value(std::move(s)); });
    Status s = f.get();
    if (s.ok()) appended_.insert(appended_.end(), records.begin(), records.end());
    return s;
  }
  void AddExchanges(int first, int n) {
    for (int i = first; i < first + n; ++i) ASSERT_TRUE(Append(Exchange(i)).ok());
  }

  // Every record, oldest first, as canonical texts.
  std::vector<std::string> All() {
    auto all = store().Query(QueryFilter{});
    GOVESB_CHECK(all.ok());
    return *all;
  }
  VerifyReport Check() {
    auto report = store().Verify(harness_->bus_key());
    GOVESB_CHECK(report.ok());
    return *report;
  }
  std::vector<std::string> RequestIds(const QueryFilter& filter) {
    auto found = store().Query(filter);
    EXPECT_TRUE(found.ok()) << found.status().message();
    std::vector<std::string> ids;
    if (!found.ok()) return ids;
    for (const std::string& text : *found) {
      ids.push_back(CanonicalMember(text, "requestId").value_or("?"));
    }
    return ids;
  }

  // What a search must return: the appended records that `keep` accepts, newest first.
  std::vector<int64_t> Expected(const std::function<bool(const Record&)>& keep) const {
    std::vector<int64_t> out;
    for (size_t i = appended_.size(); i-- > 0;) {
      if (keep(appended_[i])) out.push_back(static_cast<int64_t>(i) + 1);
    }
    return out;
  }
  // Every page of a search, following its cursors; checks each record against what was appended.
  std::vector<int64_t> AllPages(SearchFilter f) {
    return evidence::AllPages([&](const SearchFilter& g) { return store().Search(g); }, appended_,
                              std::move(f));
  }

  std::unique_ptr<StoreHarness> harness_;
  std::vector<Record> appended_;  // in seq order: appended_[seq - 1]
};

TEST_P(EvidenceStoreContract, AppendsAreDurableAndInOrderAcrossReopen) {
  EXPECT_TRUE(Check().intact) << "an empty log";
  AddExchanges(0, 2);
  // Appends submitted one after another without waiting are numbered in that order.
  std::vector<std::future<Status>> pending;
  for (int i = 2; i < 6; ++i) {
    auto p = std::make_shared<std::promise<Status>>();
    pending.push_back(p->get_future());
    std::vector<Record> steps = Exchange(i);
    appended_.insert(appended_.end(), steps.begin(), steps.end());
    store().Append(Prepare(steps), [p](Status s) { p->set_value(std::move(s)); });
  }
  for (auto& f : pending) ASSERT_TRUE(f.get().ok());
  std::promise<Status> empty;
  store().Append(PreparedRecords(), [&empty](Status s) { empty.set_value(std::move(s)); });
  EXPECT_TRUE(empty.get_future().get().ok()) << "nothing to append: Ok";

  harness_->Reopen();
  AddExchanges(6, 1);  // the chain goes on after the restart
  const std::vector<std::string> texts = All();
  ASSERT_EQ(texts.size(), appended_.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(texts[i], CanonicalRecord(static_cast<int64_t>(i) + 1, appended_[i])) << i;
  }
  ASSERT_TRUE(store().Seal(1'800'000'000'000).ok());
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 28);
  EXPECT_EQ(r.checkpoints, 1);
  EXPECT_EQ(r.unsealed, 0);
}

TEST_P(EvidenceStoreContract, AFailedAppendWritesNothing) {
  AddExchanges(0, 1);
  harness_->BreakAppends();
  std::promise<Status> p;
  store().Append(Prepare(Exchange(1)), [&p](Status s) { p.set_value(std::move(s)); });
  Status failed = p.get_future().get();
  EXPECT_FALSE(failed.ok());
  harness_->Reopen();
  EXPECT_EQ(All().size(), 4u) << "none of the failed append's records";
  AddExchanges(2, 1);
  const std::vector<std::string> texts = All();
  ASSERT_EQ(texts.size(), 8u);
  EXPECT_EQ(texts[4], CanonicalRecord(5, Exchange(2)[0])) << "numbered on, with no gap";
  QueryFilter failed_one;
  failed_one.request_id = "req-1";
  EXPECT_TRUE(RequestIds(failed_one).empty());
  ASSERT_TRUE(store().Seal(1'800'000'000'000).ok());
  EXPECT_TRUE(Check().intact) << Check().problem;
}

TEST_P(EvidenceStoreContract, ASealCoversExactlyWhatWasDurable) {
  AddExchanges(0, 3);
  ASSERT_TRUE(store().Seal(1'800'000'000'000).ok());
  ASSERT_TRUE(store().Seal(1'800'000'000'001).ok()) << "nothing new: no checkpoint, no error";
  auto checkpoints = store().Checkpoints();
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 1u);
  EXPECT_EQ((*checkpoints)[0].first, 1);
  EXPECT_EQ((*checkpoints)[0].last, 12);
  AddExchanges(3, 1);
  EXPECT_EQ(Check().unsealed, 4);
  ASSERT_TRUE(store().Seal(1'800'000'000'002).ok());
  // SealAll waits for appends submitted before it: this one is not waited for here.
  std::promise<Status> in_flight;
  store().Append(Prepare(Exchange(4)), [&in_flight](Status s) { in_flight.set_value(s); });
  ASSERT_TRUE(store().SealAll(1'800'000'000'003).ok());
  ASSERT_TRUE(in_flight.get_future().get().ok());
  checkpoints = store().Checkpoints();
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 3u);
  EXPECT_EQ((*checkpoints)[1].first, 13);
  EXPECT_EQ((*checkpoints)[1].last, 16);
  EXPECT_EQ((*checkpoints)[2].first, 17);
  EXPECT_EQ((*checkpoints)[2].last, 20);
  auto after = store().Checkpoints(16);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].last, 20);
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 20);
  EXPECT_EQ(r.checkpoints, 3);
  EXPECT_EQ(r.unsealed, 0);
}

TEST_P(EvidenceStoreContract, ProgressSaysHowFarRecordsAreDurableIndexedAndSealed) {
  EXPECT_EQ(store().Progress().committed_seq, 0);
  EXPECT_EQ(store().Progress().last_checkpoint_ms, 0) << "no checkpoint yet";
  AddExchanges(0, 2);
  LogProgress p = store().Progress();
  EXPECT_EQ(p.committed_seq, 8);
  EXPECT_EQ(p.sealed_seq, 0);
  ASSERT_TRUE(store().IndexCommitted().ok());
  EXPECT_EQ(store().Progress().indexed_seq, 8);
  ASSERT_TRUE(store().Seal(1'800'000'000'000).ok());
  p = store().Progress();
  EXPECT_EQ(p.sealed_seq, 8);
  EXPECT_EQ(p.last_checkpoint_ms, 1'800'000'000'000);
  AddExchanges(2, 1);
  p = store().Progress();
  EXPECT_EQ(p.committed_seq, 12);
  EXPECT_EQ(p.sealed_seq, 8) << "the new exchange waits for the next checkpoint";
  harness_->Reopen();
  p = store().Progress();
  EXPECT_EQ(p.sealed_seq, 8) << "read again when the store opens";
  EXPECT_EQ(p.last_checkpoint_ms, 1'800'000'000'000);
  EXPECT_GE(p.committed_seq, 8);
}

TEST_P(EvidenceStoreContract, VerifyFindsAndLocatesAChangedRecord) {
  AddExchanges(0, 3);
  ASSERT_TRUE(store().Seal(1'800'000'000'000).ok());
  AddExchanges(3, 1);
  ASSERT_TRUE(Check().intact);
  harness_->ChangeRecord(6);
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 6) << r.problem;
  EXPECT_FALSE(r.problem.empty());
}

TEST_P(EvidenceStoreContract, AProofOfAnExchangeChecksOfflineWithTheBusKey) {
  AddExchanges(0, 4);
  ASSERT_TRUE(store().Seal(1'800'000'000'000).ok());
  AddExchanges(4, 3);
  ASSERT_TRUE(store().Seal(1'800'000'000'001).ok());
  AddExchanges(7, 1);
  auto proof = store().BuildProof("req-5", harness_->bus_key());
  ASSERT_TRUE(proof.ok()) << proof.status().message();
  auto first = store().BuildProof("req-0", harness_->bus_key());
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto report = CheckProof(*proof, std::nullopt);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->request_id, "req-5");
  ASSERT_EQ(report->records.size(), 4u);
  EXPECT_NE(report->records[2].find("\"kind\":\"reply\""), std::string::npos);
  EXPECT_EQ(report->checkpoints, std::vector<int64_t>{2});
  EXPECT_TRUE(CheckProof(*proof, harness_->bus_key()).ok()) << "with the key the auditor holds";
  EXPECT_TRUE(CheckProof(*first, harness_->bus_key()).ok()) << "first checkpoint";
  auto other = crypto::PrivateKey::Generate(crypto::Curve::kP256).value();
  EXPECT_FALSE(CheckProof(*proof, other.public_key()).ok());
  // Not sealed yet, then sealed; unknown.
  EXPECT_EQ(store().BuildProof("req-7", harness_->bus_key()).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store().Seal(1'800'000'000'002).ok());
  EXPECT_TRUE(store().BuildProof("req-7", harness_->bus_key()).ok());
  EXPECT_EQ(store().BuildProof("nope", harness_->bus_key()).status().code(), StatusCode::kNotFound);
}

TEST_P(EvidenceStoreContract, SearchFindsEveryFilterBeforeAndAfterIndexing) {
  AddExchanges(0, 60);
  ASSERT_TRUE(
      Append({Step(2'000'000, "adm-1", "admin", "admin-alice", "bus", "system.suspend", "", "ok")})
          .ok());
  ASSERT_TRUE(
      Append({Step(2'000'500, "adm-2", "admin", "admin-bob", "bus", "api.add", "", "ok")}).ok());
  struct Case {
    const char* name;
    std::function<void(SearchFilter&)> set;
    std::function<bool(const Record&)> keep;
  };
  const std::vector<Case> cases = {
      {"everything", [](SearchFilter&) {}, [](const Record&) { return true; }},
      {"time", [](SearchFilter& f) { f.from_ms = 1'010'002, f.to_ms = 1'020'001; },
       [](const Record& r) { return r.at_ms >= 1'010'002 && r.at_ms < 1'020'001; }},
      {"systems",
       [](SearchFilter& f) {
         f.systems = {"tra", "nobody"};
       },
       [](const Record& r) { return r.from == "tra" || r.to == "tra"; }},
      {"code", [](SearchFilter& f) { f.code = "NIDA01"; },
       [](const Record& r) { return r.code == "NIDA01"; }},
      {"outcome", [](SearchFilter& f) { f.outcome = "PERMISSION_DENIED"; },
       [](const Record& r) { return r.outcome == "PERMISSION_DENIED"; }},
      {"kind", [](SearchFilter& f) { f.kind = "admin"; },
       [](const Record& r) { return r.kind == "admin"; }},
      {"actor", [](SearchFilter& f) { f.actor = "admin-bob"; },
       [](const Record& r) { return r.from == "admin-bob"; }},
      {"request id", [](SearchFilter& f) { f.request_id = "req-42"; },
       [](const Record& r) { return r.request_id == "req-42"; }},
      {"user id", [](SearchFilter& f) { f.user_id = "person-1"; },
       [](const Record& r) { return r.user_id == "person-1"; }},
      {"user id and outcome and system",
       [](SearchFilter& f) {
         f.user_id = "person-3";
         f.outcome = "ok";
         f.systems = {"rita"};
       },
       [](const Record& r) {
         return r.user_id == "person-3" && r.outcome == "ok" &&
                (r.from == "rita" || r.to == "rita");
       }},
      {"quote", [](SearchFilter& f) { f.user_id = "x' OR '1'='1"; },
       [](const Record&) { return false; }},
  };
  auto run_all = [&](const char* when) {
    for (const Case& c : cases) {
      SearchFilter f;
      f.page_size = 37;  // several pages
      c.set(f);
      EXPECT_EQ(AllPages(f), Expected(c.keep)) << c.name << ", " << when;
    }
  };
  run_all("not indexed");
  // Indexed before a checkpoint seals them (what the evidence thread does every second).
  ASSERT_TRUE(store().IndexCommitted().ok());
  EXPECT_TRUE(store().Checkpoints().value().empty()) << "indexing seals nothing";
  run_all("indexed, not sealed yet");
  AddExchanges(60, 25);  // a tail again, after the committed ones were indexed
  run_all("indexed and a tail");
  ASSERT_TRUE(store().Seal(1'700'000'000'000).ok());
  ASSERT_TRUE(store().IndexSealed().ok());
  run_all("sealed and indexed");
  ASSERT_TRUE(store().IndexSealed().ok()) << "nothing new: nothing";
  ASSERT_TRUE(store().IndexCommitted().ok()) << "nothing new: nothing";
  run_all("indexed twice");
}

TEST_P(EvidenceStoreContract, SearchRefusesInputOutOfBounds) {
  AddExchanges(0, 1);
  auto refused = [&](const std::function<void(SearchFilter&)>& set) {
    SearchFilter f;
    set(f);
    return store().Search(f).status().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused([](SearchFilter& f) { f.page_size = 0; }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.page_size = kMaxSearchPageSize + 1; }));
  EXPECT_TRUE(
      refused([](SearchFilter& f) { f.code = std::string(kMaxSearchValueBytes + 1, 'c'); }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.systems.assign(kMaxSearchSystems + 1, "s"); }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.user_id = std::string(257, 'u'); }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.from_ms = 5, f.to_ms = 4; }));
  EXPECT_TRUE(refused([](SearchFilter& f) { f.cursor = "not a cursor"; }));
  // A cursor the store made goes on where the page stopped.
  SearchFilter fine;
  fine.page_size = kMaxSearchPageSize;
  EXPECT_EQ(AllPages(fine), Expected([](const Record&) { return true; }));
  fine.page_size = 3;
  auto page = store().Search(fine);
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_cursor.empty());
  fine.cursor = page->next_cursor;
  page = store().Search(fine);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].seq, 1);
}

TEST_P(EvidenceStoreContract, QueryFindsWhoAccessedWhatAndWhen) {
  std::vector<Record> records = {
      Step(1000, "r1", "nida-request", "moh", "bus", "NIDA01", "19900101-1", "ok"),
      Step(1001, "r1", "response", "bus", "moh", "NIDA01", "19900101-1", "ok"),
      Step(2000, "r2", "nida-request", "tra", "bus", "NIDA01", "19900101-1", "PERMISSION_DENIED"),
      Step(3000, "r3", "request", "moh", "bus", "BRTHCRT", "", "ok"),
      Step(4000, "r4", "nida-request", "moh", "bus", "NIDA01", "19851212-9", "ok"),
  };
  ASSERT_TRUE(Append(records).ok());
  QueryFilter person;
  person.user_id = "19900101-1";
  EXPECT_EQ(RequestIds(person), (std::vector<std::string>{"r1", "r1", "r2"}));
  person.kind = "nida-request";
  person.outcome = "ok";
  EXPECT_EQ(RequestIds(person), (std::vector<std::string>{"r1"}));
  QueryFilter tra;
  tra.systems = {"tra", "nobody"};
  EXPECT_EQ(RequestIds(tra), (std::vector<std::string>{"r2"}));
  QueryFilter window;
  window.from_ms = 1001;
  window.to_ms = 4000;
  window.code = "NIDA01";
  EXPECT_EQ(RequestIds(window), (std::vector<std::string>{"r1", "r2"}));
  QueryFilter quote;
  quote.user_id = "x' OR '1'='1";
  EXPECT_TRUE(RequestIds(quote).empty()) << "values are compared, never spliced into a query";
  QueryFilter one;
  one.limit = 2;
  EXPECT_EQ(RequestIds(one).size(), 2u);

  // By request id: the same before the records are sealed and indexed, and after.
  QueryFilter exchange;
  exchange.request_id = "r1";
  EXPECT_EQ(RequestIds(exchange), (std::vector<std::string>{"r1", "r1"}));
  ASSERT_TRUE(store().Seal(5000).ok());
  ASSERT_TRUE(store().IndexSealed().ok());
  EXPECT_EQ(RequestIds(exchange), (std::vector<std::string>{"r1", "r1"}));
  // An exchange appended after indexing is found too.
  ASSERT_TRUE(Append({Step(6000, "r1", "push", "moh", "bus", "PUSH1", "", "ok")}).ok());
  EXPECT_EQ(RequestIds(exchange), (std::vector<std::string>{"r1", "r1", "r1"}));
  SearchFilter by_user;
  by_user.user_id = "19851212-9";
  auto page = store().Search(by_user);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].record.request_id, "r4");
}

TEST_P(EvidenceStoreContract, ArchivedRecordsStayVerifiableSearchableAndProvable) {
  if (!harness_->CanArchive()) {
    AddExchanges(0, 1);
    ASSERT_TRUE(store().Seal(1'000).ok());
    EXPECT_EQ(store().Archive(2'000).status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(All().size(), 4u) << "nothing moved";
    GTEST_SKIP() << GetParam().name << " does not archive (it says so)";
  }
  AddExchanges(0, 3);
  ASSERT_TRUE(store().Seal(1'000).ok());
  AddExchanges(3, 2);
  ASSERT_TRUE(store().Seal(5'000).ok());
  AddExchanges(5, 1);
  auto archived = store().Archive(/*cutoff_ms=*/2'000);
  ASSERT_TRUE(archived.ok()) << archived.status().message();
  EXPECT_EQ(archived->records, 12) << "the first checkpoint's records";
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 24);
  EXPECT_EQ(All().size(), 24u);
  SearchFilter f;
  f.request_id = "req-1";
  auto page = store().Search(f);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 4u);
  EXPECT_TRUE(page->records[0].archived);
  auto proof = store().BuildProof("req-1", harness_->bus_key());
  ASSERT_TRUE(proof.ok()) << proof.status().message();
  EXPECT_TRUE(CheckProof(*proof, harness_->bus_key()).ok());
  auto again = store().Archive(2'000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->records, 0) << "nothing more before the cutoff";
}

const Adapter kAdapters[] = {
    {"Sqlite", [] { return std::make_unique<SqliteHarness>(); }},
    {"Postgres", [] { return std::make_unique<PostgresHarness>(); }},
};

INSTANTIATE_TEST_SUITE_P(Adapters, EvidenceStoreContract, ::testing::ValuesIn(kAdapters),
                         [](const ::testing::TestParamInfo<Adapter>& adapter) {
                           return std::string(adapter.param.name);
                         });

}  // namespace
}  // namespace govesb::evidence
