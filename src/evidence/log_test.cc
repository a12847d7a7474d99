#include "evidence/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>

#include "base/encoding.h"
#include "base/temp_dir.h"
#include "evidence/archive.h"
#include "evidence/chain.h"
#include "evidence/files.h"
#include "evidence/proof.h"
#include "evidence/query.h"
#include "evidence/records.h"
#include "evidence/segments.h"
#include "evidence/test_log_fixture.h"

namespace govesb::evidence {
namespace {

class EvidenceLogTest : public EvidenceLogFixture {
 protected:
  void SetUp() override {
    Open(crypto::Curve::kSecp256k1);
    ASSERT_TRUE(MigrateEvidenceStore(*db_).ok()) << "migrating twice is a no-op";
  }

  static Record Step(int i, std::string kind = "request") {
    Record r;
    r.at_ms = 1'700'000'000'000 + i;
    r.request_id = "req" + std::to_string(i / 4);
    r.kind = std::move(kind);
    r.from = "consumer-client-id";
    r.to = "bus";
    r.code = "BRTHCRT";
    r.user_id = i % 4 == 0 ? "19900101-12345-00001-12" : "";
    r.outcome = "ok";
    r.latency_us = 800 + i;
    r.size = 1024;
    r.body_sha256 = std::string(64, 'a');
    r.signature = "MEUCIQ...";
    r.signature_sha256 = std::string(64, 'b');
    return r;
  }

  Status Append(int from, int count) {
    std::vector<Record> records;
    for (int i = from; i < from + count; ++i) records.push_back(Step(i));
    return AppendRecords(std::move(records));
  }

  void SealsTheHashesIndexingRead(const std::function<Status()>& index,
                                  const std::function<Status()>& seal);

  VerifyReport Check() {
    auto report = Verify(*db_, signer_->public_key());
    GOVESB_CHECK(report.ok());
    return *report;
  }

  void Exec(const std::string& sql) { ASSERT_TRUE(db_->Exec(sql).ok()) << sql; }

  static std::string Join(const std::vector<std::string>& lines, std::string* hashes) {
    std::string out;
    for (const std::string& line : lines) {
      if (!out.empty()) out += '\n';
      out += line;
      Hash h = crypto::Sha256(line);
      hashes->append(reinterpret_cast<const char*>(h.data()), 32);
    }
    return out;
  }

  // The canonical texts of the live records first..last, as the log reads them back.
  std::vector<std::string> Texts(int64_t first, int64_t last) {
    std::vector<std::string> out;
    GOVESB_CHECK(ForEachLiveRecord(*db_, first, last, [&](const StoredRecord& r) {
                   out.emplace_back(r.text);
                   return true;
                 }).ok());
    return out;
  }

  // An entry of the live log, as someone with write access to its files could read and
  // rewrite it.
  struct Row {
    int64_t first = 0;
    int64_t last = 0;
    int64_t at = 0;
    std::string request_id, records, hashes, chain;
    bool hashes_hex = false;
    bool chain_hex = false;
  };

  std::vector<Row> Rows() {
    std::vector<Row> out;
    GOVESB_CHECK(ForEachLiveEntry(SegmentDir(), 1, [&](const SegmentEntry& e) {
                   out.push_back(Row{e.first_seq, e.last_seq, e.at_ms, std::string(e.request_id),
                                     std::string(e.records), std::string(e.hashes),
                                     std::string(e.chain), e.hashes_hex, e.chain_hex});
                   return true;
                 }).ok());
    return out;
  }

  // Replaces the live log's files with one file holding `rows` (as a forger with write access
  // to the directory could).
  void WriteRows(const std::vector<Row>& rows) {
    const std::vector<SegmentFile> files = ListSegments(SegmentDir()).value();
    for (const SegmentFile& f : files) std::filesystem::remove(f.path);
    if (rows.empty()) return;
    std::vector<SegmentEntry> entries;
    for (const Row& r : rows) {
      entries.push_back(SegmentEntry{r.first, r.last, r.at, r.request_id, r.records, r.hashes,
                                     r.chain, r.hashes_hex, r.chain_hex});
    }
    ASSERT_TRUE(
        WriteSegmentFile(SegmentDir() + "/" + SegmentFileName(rows[0].first), entries).ok());
  }

  Row* RowAt(std::vector<Row>& rows, int64_t first_seq) {
    for (Row& r : rows) {
      if (r.first == first_seq) return &r;
    }
    ADD_FAILURE() << "no entry starts at " << first_seq;
    return nullptr;
  }

  // Edits one entry's records in place (writing them back as texts, a form the log also
  // reads) and, with `rehash`, rewrites their stored hashes (not the chain).
  void RewriteRow(int64_t first_seq, const std::function<void(std::vector<std::string>&)>& edit,
                  bool rehash = true) {
    std::vector<Row> rows = Rows();
    Row* row = RowAt(rows, first_seq);
    ASSERT_NE(row, nullptr);
    std::vector<std::string> lines = Texts(first_seq, row->last);
    edit(lines);
    std::string hashes;
    row->records = Join(lines, &hashes);
    if (rehash) row->hashes = hashes;
    WriteRows(rows);
  }

  // Record 6 (in the entry of records 5-8) edited as text, its stored hash left as it was.
  void AlterRecordSix() {
    RewriteRow(
        5,
        [](std::vector<std::string>& texts) {
          const size_t at = texts[1].find("\"latencyUs\":805");
          ASSERT_NE(at, std::string::npos);
          texts[1].replace(at, 15, "\"latencyUs\":905");
        },
        /*rehash=*/false);
  }

  // Changes one stored byte of a compact entry's records, in place.
  void FlipStoredByte(int64_t first_seq, size_t at) {
    std::vector<Row> rows = Rows();
    Row* row = RowAt(rows, first_seq);
    ASSERT_NE(row, nullptr);
    ASSERT_LT(at, row->records.size());
    row->records[at] = static_cast<char>(row->records[at] ^ 0x01);
    WriteRows(rows);
  }

  // Edits the whole live log's records (as one list) and recomputes every hash and link.
  void RewriteLog(const std::function<void(std::vector<std::string>&)>& edit) {
    std::vector<Row> rows = Rows();
    std::vector<std::string> all;
    for (const Row& r : rows) {
      for (std::string& line : Texts(r.first, r.last)) all.push_back(std::move(line));
    }
    edit(all);
    Hash chain{};
    size_t next = 0;
    for (Row& r : rows) {
      std::vector<std::string> lines(
          all.begin() + static_cast<long>(next),
          all.begin() + static_cast<long>(next + (r.last - r.first + 1)));
      next += lines.size();
      std::string hashes;
      r.records = Join(lines, &hashes);
      for (size_t i = 0; i < lines.size(); ++i) {
        std::string link(reinterpret_cast<const char*>(chain.data()), 32);
        link.append(hashes, i * 32, 32);
        chain = crypto::Sha256(link);
      }
      r.hashes = hashes;
      r.chain.assign(reinterpret_cast<const char*>(chain.data()), 32);
    }
    WriteRows(rows);
  }

  // 20 records in two sealed checkpoints (1-12, 13-16) and 4 unsealed (17-20).
  void Fill() {
    ASSERT_TRUE(Append(0, 12).ok());
    ASSERT_TRUE(Seal().ok());
    ASSERT_TRUE(Append(12, 4).ok());
    ASSERT_TRUE(Seal().ok());
    ASSERT_TRUE(Append(16, 4).ok());
  }
};

TEST_F(EvidenceLogTest, ACheckpointReadFromAnotherConnectionSealsTheSame) {
  ASSERT_TRUE(Append(0, 12).ok());
  ASSERT_TRUE(log_->CheckpointFrom(*db_, 1'800'000'000'000).ok());
  ASSERT_TRUE(log_->CheckpointFrom(*db_, 1'800'000'000'001).ok()) << "nothing new: nothing";
  ASSERT_TRUE(Append(12, 4).ok());
  ASSERT_TRUE(Seal().ok());  // the writer's own way, interleaved
  ASSERT_TRUE(Append(16, 4).ok());
  ASSERT_TRUE(log_->CheckpointFrom(*db_, 1'800'000'000'002).ok());
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 20);
  EXPECT_EQ(r.checkpoints, 3);
  EXPECT_EQ(r.unsealed, 0);
}

TEST_F(EvidenceLogTest, CheckpointsAfterIndexingSealTheSameWhicheverWayTheyAreMade) {
  // Indexing passes, checkpoints read from another connection and the writer's own, in turns:
  // each checkpoint seals what was committed since the last one, whatever indexing read.
  int next = 0;
  for (int round = 0; round < 6; ++round) {
    ASSERT_TRUE(Append(next, 3 + round).ok());
    next += 3 + round;
    if (round % 2 == 0) {
      ASSERT_TRUE(log_->IndexCommitted(*db_, 2).ok());
    }
    ASSERT_TRUE(Append(next, 2).ok());
    next += 2;
    if (round % 3 != 2) {
      ASSERT_TRUE(log_->IndexCommitted(*db_).ok());
    }
    if (round == 3) {
      ASSERT_TRUE(Seal().ok());
    } else {
      ASSERT_TRUE(log_->CheckpointFrom(*db_, 1'800'000'000'000 + round).ok());
    }
  }
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, next);
  EXPECT_EQ(r.checkpoints, 6);
  EXPECT_EQ(r.unsealed, 0);
}

// 8 records indexed, then 4 appended, then record 6's stored hash changed in place; `seal`
// seals them. Its root is that of the hashes as written: the change is not sealed (indexing
// read the hash before it), and verification finds it.
void EvidenceLogTest::SealsTheHashesIndexingRead(const std::function<Status()>& index,
                                                 const std::function<Status()>& seal) {
  ASSERT_TRUE(Append(0, 8).ok());
  ASSERT_TRUE(index().ok());
  ASSERT_TRUE(Append(8, 4).ok());  // not indexed: read by the checkpoint
  std::vector<Hash> written;
  for (const Row& row : Rows()) {
    auto hashes =
        StoredHashes(row.hashes, !row.hashes_hex, static_cast<size_t>(row.last - row.first + 1));
    ASSERT_TRUE(hashes.has_value());
    written.insert(written.end(), hashes->begin(), hashes->end());
  }
  ASSERT_EQ(written.size(), 12u);
  // Record 6's stored hash is changed in place, after indexing read it.
  const std::string file = ListSegments(SegmentDir()).value().at(0).path;
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at =
      bytes.find(std::string_view(reinterpret_cast<const char*>(written[5].data()), 32));
  ASSERT_NE(at, std::string::npos);
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  {
    std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at));
    out.put(bytes[at]);
  }
  ASSERT_TRUE(seal().ok());
  std::vector<StoredCheckpoint> checkpoints = ListCheckpoints(*db_).value();
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].last, 12);
  EXPECT_EQ(CanonicalMember(checkpoints[0].body, "root"), HashHex(MerkleRoot(written)));
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 6) << r.problem;
}

TEST_F(EvidenceLogTest, ACheckpointSealsTheHashesIndexingReadNotTheFilesLaterBytes) {
  SealsTheHashesIndexingRead([&] { return log_->IndexCommitted(*db_); },
                             [&] { return log_->CheckpointFrom(*db_, 1'800'000'000'000); });
}

TEST_F(EvidenceLogTest, TheStoresFinalSealStartsWhereIndexingStoppedToo) {
  OpenStore();
  SealsTheHashesIndexingRead([&] { return store_->IndexCommitted(); },
                             [&] { return store_->SealAll(1'800'000'000'000); });
}

class EvidenceCacheTest : public EvidenceLogFixture {
 protected:
  void SetUp() override {
    max_segment_bytes_ = uint64_t{4} << 20;
    Open(crypto::Curve::kSecp256k1);
  }

  // Appends exchanges of 4 records of about 2 KB each (a long signature) until the log's
  // second file holds `second_bytes`; returns where its last entry ends.
  uint64_t FillTwoFiles(uint64_t second_bytes) {
    int next = 0;
    for (;;) {
      std::vector<Record> records;
      for (int i = next; i < next + 200; ++i) {
        Record r;
        r.at_ms = 1'700'000'000'000 + i;
        r.request_id = "req" + std::to_string(i / 4);
        r.kind = "request";
        r.from = "consumer";
        r.to = "bus";
        r.code = "BRTHCRT";
        r.outcome = "ok";
        r.signature = std::string(2000, static_cast<char>('A' + i % 26));
        records.push_back(std::move(r));
      }
      next += 200;
      GOVESB_CHECK(AppendRecords(std::move(records)).ok());
      std::vector<SegmentFile> files = ListSegments(SegmentDir()).value();
      if (files.size() < 2) continue;
      GOVESB_CHECK(files.size() == 2);
      uint64_t end = 0;
      GOVESB_CHECK(ForEachSegmentEntry(files[1].path, [&](const SegmentEntry& e) {
                     end = e.end;
                     return true;
                   }).ok());
      if (end >= second_bytes) return end;
    }
  }

  // Which pages of the file are in the page cache.
  static std::vector<bool> Cached(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    GOVESB_CHECK(fd.valid());
    const auto size = static_cast<size_t>(::lseek(fd.get(), 0, SEEK_END));
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
    GOVESB_CHECK(map != MAP_FAILED);
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> in((size + page - 1) / page);
    GOVESB_CHECK(::mincore(map, size, in.data()) == 0);
    ::munmap(map, size);
    std::vector<bool> out;
    for (unsigned char c : in) out.push_back((c & 1) != 0);
    return out;
  }
};

TEST_F(EvidenceCacheTest, IndexedPagesLeaveThePageCacheButTheLastMegabyte) {
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir_.path().c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) {
    GTEST_SKIP() << "the temporary directory is on tmpfs, whose pages are the files themselves";
  }
  const uint64_t end = FillTwoFiles(uint64_t{5} << 19);  // 2.5 MiB in the second file
  const std::vector<SegmentFile> files = ListSegments(SegmentDir()).value();
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  // Just written: cached.
  EXPECT_TRUE(Cached(files[0].path)[0]);
  EXPECT_TRUE(Cached(files[1].path)[0]);

  ASSERT_TRUE(log_->IndexCommitted(*db_).ok());
  const std::vector<bool> first = Cached(files[0].path);
  EXPECT_EQ(std::count(first.begin(), first.end(), true), 0) << "the whole first file goes";
  const std::vector<bool> second = Cached(files[1].path);
  const size_t kept_from = (end - (uint64_t{1} << 20)) / page;  // the last MiB stays
  // The kernel drops whole folios only: one that reaches into the last MiB stays. Folios are
  // no larger than the writes that made them, 256 KiB of zeros written ahead at a time.
  const size_t dropped_to = kept_from - (size_t{256} << 10) / page;
  for (size_t i = 0; i < dropped_to; ++i) ASSERT_FALSE(second[i]) << "page " << i;
  for (size_t i = kept_from; i <= (end - 1) / page; ++i) ASSERT_TRUE(second[i]) << "page " << i;

  // A checkpoint and verification read what they need from the disk.
  ASSERT_TRUE(log_->CheckpointFrom(*db_, 1'800'000'000'000).ok());
  auto report = Verify(*db_, signer_->public_key());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->unsealed, 0);
}

TEST(EvidenceMigrationTest, ALogOfTheOneRowPerRecordLayoutIsCarriedOver) {
  TempDir dir;
  const std::string path = dir.path() + "/old.db";
  auto db = store::Database::Open(path).value();
  // Version 1 of the "evidence" component, as released: one row per record, hex hashes.
  constexpr std::string_view kV1 = R"sql(
CREATE TABLE evidence_records (seq INTEGER PRIMARY KEY, request_id TEXT NOT NULL,
  record TEXT NOT NULL, record_hash TEXT NOT NULL, chain TEXT NOT NULL);
CREATE INDEX evidence_by_request ON evidence_records(request_id);
CREATE TABLE evidence_checkpoints (id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL, body TEXT NOT NULL, signature TEXT NOT NULL);
)sql";
  const std::array<std::string_view, 1> v1 = {kV1};
  ASSERT_TRUE(store::Migrate(*db, "evidence", v1).ok());
  Hash chain{};
  for (int seq = 1; seq <= 3; ++seq) {
    Record r;
    r.at_ms = 1'700'000'000'000 + seq;
    r.request_id = "old" + std::to_string(seq);
    r.kind = "request";
    r.outcome = "ok";
    const std::string text = CanonicalRecord(seq, r);
    const Hash h = crypto::Sha256(text);
    std::string link(reinterpret_cast<const char*>(chain.data()), 32);
    link.append(reinterpret_cast<const char*>(h.data()), 32);
    chain = crypto::Sha256(link);
    auto ins = db->Prepare(
        "INSERT INTO evidence_records(seq, request_id, record, record_hash, chain)"
        " VALUES(?, ?, ?, ?, ?)");
    ASSERT_TRUE(ins.ok());
    ASSERT_TRUE(ins->Bind(1, seq).ok() && ins->Bind(2, r.request_id).ok() &&
                ins->Bind(3, text).ok() && ins->Bind(4, HashHex(h)).ok() &&
                ins->Bind(5, HashHex(chain)).ok() && ins->Run().ok());
  }
  ASSERT_TRUE(MigrateEvidenceStore(*db).ok());
  auto key = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value();
  crypto::LocalSigner signer(key);
  {
    EXPECT_EQ(ListSegments(SegmentDirFor(path)).value().size(), 1u) << "carried over";
    auto rows = db->Prepare("SELECT count(*) FROM evidence_entries");
    ASSERT_TRUE(rows.ok() && *rows->Step());
    EXPECT_EQ(rows->ColumnInt64(0), 0);
    // They were committed rows: a reader without the writer (another process) reads them.
    EXPECT_EQ(QueryRecords(*db, QueryFilter{}).value().size(), 3u);
    auto writer = store::GroupCommitWriter::Open(path).value();
    auto opened = EvidenceLog::Open(*db, *writer, signer);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    EvidenceLog& log = **opened;
    std::vector<Record> more(2);
    for (size_t i = 0; i < more.size(); ++i) {
      more[i].request_id = "new";
      more[i].kind = "request";
    }
    std::promise<Status> p;
    log.Append(std::move(more), [&p](Status st) { p.set_value(std::move(st)); });
    ASSERT_TRUE(p.get_future().get().ok());
    std::promise<Status> sealed;
    log.Checkpoint(1'800'000'000'000, [&sealed](Status st) { sealed.set_value(std::move(st)); });
    ASSERT_TRUE(sealed.get_future().get().ok());
  }
  auto report = Verify(*db, signer.public_key());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->records, 5) << "3 carried over, 2 appended after them on the same chain";
  EXPECT_EQ(report->checkpoints, 1);
  // A carried-over record that was altered in its file is still found.
  const std::string file = ListSegments(SegmentDirFor(path)).value().front().path;
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = bytes.find("old2");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] = '9';
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  report = Verify(*db, signer.public_key());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->intact);
  EXPECT_EQ(report->first_bad_seq, 2) << report->problem;
}

TEST_F(EvidenceLogTest, RecordsAreCanonicalJson) {
  std::string text = CanonicalRecord(7, Step(1));
  EXPECT_EQ(text.rfind(R"({"seq":7,"at":1700000000001,"requestId":"req0","kind":"request",)", 0),
            0u)
      << text;
  EXPECT_NE(text.find(R"("latencyUs":801,"size":1024,)"), std::string::npos);
}

TEST_F(EvidenceLogTest, PreparedTextsAreTheRecordsAndSurviveMoves) {
  // Records 3..5: req0 once, then req1 twice (kept once in the buffer).
  std::vector<Record> records = {Step(3), Step(4), Step(5)};
  std::vector<PreparedRecords> moved;
  moved.push_back(Prepare(records));
  for (int i = 0; i < 8; ++i) moved.push_back(Prepare({}));  // the vector grows: moves
  const PreparedRecords& p = moved.front();
  ASSERT_EQ(p.records().size(), 3u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(p.records()[i].request_id, records[i].request_id);
    EXPECT_EQ(p.records()[i].at_ms, records[i].at_ms);
    std::string tail;
    AppendCanonicalTail(records[i], tail);
    EXPECT_EQ(p.records()[i].tail, tail);
    std::string compact;
    EncodeCompact(records[i], compact);
    EXPECT_EQ(p.records()[i].compact, compact);
  }
  EXPECT_EQ(p.records()[1].request_id.data(), p.records()[2].request_id.data());
  EXPECT_NE(p.records()[0].request_id.data(), p.records()[1].request_id.data());
}

TEST_F(EvidenceLogTest, RecordsMadeFromViewsAreTheSameAsFromRecords) {
  // A step as the engine records it: the body's SHA-256 as bytes, the signature's made here.
  const std::string data = R"({"apiCode":"BRTHCRT","esbBody":{"id":7}})";
  const std::string signature = "MEUCIQDx+signature/base64==";
  const crypto::Sha256Digest digest = crypto::Sha256(data);
  Record r = Step(9, "reply");
  AttachSigned(r, data, signature);
  RecordView v = ViewOf(r);
  v.body_digest = &digest;
  v.body_sha256 = {};
  v.signature_sha256 = {};  // derived: made from the signature
  std::string tail;
  AppendCanonicalTail(v, tail);
  EXPECT_EQ(tail, CanonicalRecord(1, r).substr(std::string_view("{\"seq\":1").size()));
  std::string compact, expected;
  EncodeCompact(v, compact);
  EncodeCompact(r, expected);
  EXPECT_EQ(compact, expected);

  // Many records added one by one: the buffer grows and moves, the earlier views follow it.
  PreparedRecords p;
  std::vector<Record> steps;
  for (int i = 0; i < 40; ++i) steps.push_back(Step(i));
  for (const Record& step : steps) p.Add(ViewOf(step));
  PreparedRecords whole = Prepare(steps);
  ASSERT_EQ(p.records().size(), whole.records().size());
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(p.records()[i].request_id, whole.records()[i].request_id);
    EXPECT_EQ(p.records()[i].tail, whole.records()[i].tail) << i;
    EXPECT_EQ(p.records()[i].compact, whole.records()[i].compact) << i;
  }
}

TEST_F(EvidenceLogTest, AppendedPreparedRecordsAreTheRecordsOfBothInOrder) {
  // Several exchanges' records gathered into one append: the same texts as if prepared
  // together, whatever the buffers' sizes (the second is larger, so the first's buffer moves).
  std::vector<Record> first = {Step(0), Step(1)};
  std::vector<Record> second;
  for (int i = 2; i < 30; ++i) second.push_back(Step(i));
  PreparedRecords merged = Prepare(first);
  merged.Append(Prepare(second));
  merged.Append(PreparedRecords());  // nothing to add
  const std::vector<Record> last = {Step(30)};
  PreparedRecords empty;
  empty.Append(Prepare(last));  // into an empty one
  std::vector<Record> all = first;
  all.insert(all.end(), second.begin(), second.end());
  PreparedRecords whole = Prepare(all);
  ASSERT_EQ(merged.records().size(), whole.records().size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(merged.records()[i].request_id, whole.records()[i].request_id) << i;
    EXPECT_EQ(merged.records()[i].at_ms, whole.records()[i].at_ms) << i;
    EXPECT_EQ(merged.records()[i].tail, whole.records()[i].tail) << i;
    EXPECT_EQ(merged.records()[i].compact, whole.records()[i].compact) << i;
  }
  ASSERT_EQ(empty.records().size(), 1u);
  EXPECT_EQ(empty.records()[0].tail, Prepare(last).records()[0].tail);
}

TEST_F(EvidenceLogTest, OneEntryPerExchange) {
  Fill();  // 20 records of 5 exchanges (4 steps each)
  int n = 0;
  for (const Row& r : Rows()) {
    EXPECT_EQ(r.first, 4 * n + 1);
    EXPECT_EQ(r.last, 4 * n + 4);
    EXPECT_EQ(r.request_id, "req" + std::to_string(n));
    ++n;
  }
  EXPECT_EQ(n, 5);
}

TEST_F(EvidenceLogTest, AChangedByteIsFoundAndLocated) {
  Fill();
  AlterRecordSix();
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 6);
  EXPECT_NE(r.problem.find("record 6 was changed"), std::string::npos) << r.problem;
}

TEST_F(EvidenceLogTest, AChangedStoredByteIsFound) {
  Fill();
  // Every byte of a stored row matters: flip some in the middle of the row of records 5-8.
  for (size_t at : {5u, 40u, 120u, 300u}) {
    FlipStoredByte(5, at);
    VerifyReport r = Check();
    EXPECT_FALSE(r.intact) << "byte " << at;
    ASSERT_TRUE(r.first_bad_seq.has_value());
    EXPECT_GE(*r.first_bad_seq, 5) << r.problem;
    EXPECT_LE(*r.first_bad_seq, 8) << r.problem;
    FlipStoredByte(5, at);  // restore
    EXPECT_TRUE(Check().intact);
  }
}

TEST_F(EvidenceLogTest, AChangeWithItsHashesRewrittenIsCaughtByTheCheckpoint) {
  Fill();
  // A careful forger rewrites record 5 and recomputes every hash and link after it.
  RewriteLog(
      [](std::vector<std::string>& texts) { texts[4] = CanonicalRecord(5, Step(4, "forged")); });
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 1) << "located to the sealed range 1-12";
  EXPECT_NE(r.problem.find("checkpoint 1 (records 1-12) no longer matches"), std::string::npos)
      << r.problem;
}

TEST_F(EvidenceLogTest, ADeletedRecordIsFound) {
  Fill();
  std::vector<Row> rows = Rows();
  rows.erase(rows.begin() + 2);  // records 9-12
  WriteRows(rows);
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 9);
  EXPECT_NE(r.problem.find("record 9 is missing"), std::string::npos) << r.problem;

  // Removing the tail of a sealed range is found too.
  rows.resize(2);  // records 1-8 left
  WriteRows(rows);
  r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_NE(r.problem.find("records were removed"), std::string::npos) << r.problem;
}

TEST_F(EvidenceLogTest, ARecordDeletedFromItsRowIsFound) {
  Fill();
  RewriteRow(5, [](std::vector<std::string>& texts) { texts.erase(texts.begin() + 1); });
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 6) << r.problem;
}

TEST_F(EvidenceLogTest, SwappedRecordsAreFound) {
  Fill();
  RewriteRow(1, [](std::vector<std::string>& texts) { std::swap(texts[2], texts[3]); });
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 3);
  EXPECT_NE(r.problem.find("out of place"), std::string::npos) << r.problem;
}

TEST_F(EvidenceLogTest, AForgedInsertedRecordIsFound) {
  Fill();
  // Make room after record 8 and put a forged record there, numbered and hashed correctly.
  std::vector<Row> rows = Rows();
  for (Row& r : rows) {
    if (r.first > 8) {
      r.first += 1;
      r.last += 1;
    }
  }
  std::string forged = CanonicalRecord(9, Step(99, "response"));
  Row* before = RowAt(rows, 5);
  ASSERT_NE(before, nullptr);
  std::string link = before->chain;
  Hash h = crypto::Sha256(forged);
  link.append(reinterpret_cast<const char*>(h.data()), 32);
  Hash linked = crypto::Sha256(link);
  rows.insert(rows.begin() + 2, Row{9, 9, 0, "req24", forged,
                                    std::string(reinterpret_cast<const char*>(h.data()), 32),
                                    std::string(reinterpret_cast<const char*>(linked.data()), 32)});
  WriteRows(rows);
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 10) << r.problem << ": the record after the forged one";
}

TEST_F(EvidenceLogTest, AReplacedCheckpointSignatureIsFound) {
  Fill();
  auto other = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value();
  auto body = db_->Prepare("SELECT body FROM evidence_checkpoints WHERE id = 2");
  ASSERT_TRUE(body.ok() && *body->Step());
  auto u = db_->Prepare("UPDATE evidence_checkpoints SET signature = ? WHERE id = 2");
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(u->Bind(1, other.SignBase64(body->ColumnText(0))).ok());
  ASSERT_TRUE(u->Run().ok());
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 13);
  EXPECT_NE(r.problem.find("checkpoint 2 (records 13-16) does not carry a valid signature"),
            std::string::npos)
      << r.problem;
}

// ---- key rotation ----

// Checkpoints name the key that signed them; a log sealed before and after a rotation verifies
// with the ring's keys, and a proof spanning the rotation carries both keys.
class EvidenceRotationTest : public EvidenceLogTest {
 protected:
  static constexpr int64_t kT0 = 1'700'000'000'000;
  void SetUp() override {
    old_key_ = crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value();
    new_key_ = crypto::PrivateKey::Generate(crypto::Curve::kP256).value();
    ring_ = crypto::KeyRing::Single(*old_key_, kT0, kT0);
    ring_now_ms_ = kT0;
    EvidenceLogTest::SetUp();
  }
  void Rotate() {
    crypto::KeyRing rotated = *ring_->Stage(*new_key_, kT0 + 10, 0)->Activate(kT0 + 10, kT0 + 10);
    ASSERT_TRUE(ring_signer_->Update(rotated, kT0 + 10));
    ring_ = rotated;
  }
  std::string BodyOf(int id) {
    auto body = db_->Prepare("SELECT body FROM evidence_checkpoints WHERE id = ?");
    GOVESB_CHECK(body.ok() && body->Bind(1, id).ok() && *body->Step());
    return body->ColumnText(0);
  }
  std::optional<crypto::PrivateKey> old_key_;
  std::optional<crypto::PrivateKey> new_key_;
};

TEST_F(EvidenceRotationTest, CheckpointsBeforeAndAfterARotationVerifyWithTheRing) {
  ASSERT_TRUE(Append(0, 6).ok());  // req0 (0-3), req1 (4-5)
  ASSERT_TRUE(Seal().ok());
  Rotate();
  ASSERT_TRUE(Append(6, 6).ok());  // req1 (6-7), req2
  ASSERT_TRUE(Seal().ok());
  EXPECT_EQ(CheckpointKeyId(BodyOf(1)), crypto::KeyId(old_key_->public_key()));
  EXPECT_EQ(CheckpointKeyId(BodyOf(2)), crypto::KeyId(new_key_->public_key()));

  auto both = Verify(*db_, ring_->VerifyingKeys(kT0 + 10));
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->intact) << both->problem;
  EXPECT_EQ(both->checkpoints, 2);
  // With the new key alone, the first checkpoint names a key it was not given.
  auto new_only = Verify(*db_, new_key_->public_key());
  ASSERT_TRUE(new_only.ok());
  EXPECT_FALSE(new_only->intact);
  EXPECT_NE(new_only->problem.find("checkpoint 1 (records 1-6) is signed by bus key " +
                                   crypto::KeyId(old_key_->public_key()) + ", which is not one"),
            std::string::npos)
      << new_only->problem;

  // req1 spans both checkpoints: its proof carries both keys and checks with them, with the
  // keys inside it, or with the auditor's two keys; not with the new key alone.
  auto proof = BuildProof(*db_, "req1", ring_->VerifyingKeys(kT0 + 10));
  ASSERT_TRUE(proof.ok()) << proof.status().message();
  EXPECT_NE(proof->find("\"busPublicKeys\":[\"" + old_key_->public_key().SpkiBase64()),
            std::string::npos)
      << *proof;
  auto inside = CheckProof(*proof, std::nullopt);
  ASSERT_TRUE(inside.ok()) << inside.status().message();
  EXPECT_EQ(inside->bus_public_keys.size(), 2u);
  EXPECT_TRUE(CheckProof(*proof, std::optional<crypto::KeySet>(crypto::KeySet(
                                     {new_key_->public_key(), old_key_->public_key()})))
                  .ok());
  auto refused = CheckProof(*proof, new_key_->public_key());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("checkpoint 1 is not signed by the bus key you gave"),
            std::string::npos)
      << refused.status().message();
  // A proof within one checkpoint names one key, as before rotation.
  auto req2 = BuildProof(*db_, "req2", ring_->VerifyingKeys(kT0 + 10));
  ASSERT_TRUE(req2.ok());
  EXPECT_EQ(req2->find("busPublicKeys"), std::string::npos);
  EXPECT_NE(req2->find(new_key_->public_key().SpkiBase64()), std::string::npos);
}

TEST_F(EvidenceRotationTest, ACheckpointFromBeforeKeyIdsVerifiesWithAnyKeyGiven) {
  // A checkpoint body without "keyId" (as every checkpoint made before rotation existed),
  // re-signed by the old key: checked against each key given.
  ASSERT_TRUE(Append(0, 4).ok());
  ASSERT_TRUE(Seal().ok());
  std::string body = BodyOf(1);
  const size_t member = body.find(",\"keyId\"");
  ASSERT_NE(member, std::string::npos);
  body = body.substr(0, member) + "}";
  auto u = db_->Prepare("UPDATE evidence_checkpoints SET body = ?, signature = ? WHERE id = 1");
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(u->Bind(1, body).ok() && u->Bind(2, old_key_->SignBase64(body)).ok());
  ASSERT_TRUE(u->Run().ok());
  Rotate();
  auto both = Verify(*db_, ring_->VerifyingKeys(kT0 + 10));
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->intact) << both->problem;
  auto new_only = Verify(*db_, new_key_->public_key());
  EXPECT_FALSE(new_only->intact);
  EXPECT_NE(new_only->problem.find("does not carry a valid signature"), std::string::npos);
}

// ---- retention: archives ----

class EvidenceArchiveTest : public EvidenceLogTest {
 protected:
  // A new segment file after every commit, so that archiving has whole files to delete.
  void SetUp() override {
    max_segment_bytes_ = 1;
    EvidenceLogTest::SetUp();
  }

  std::string ArchiveDir() const { return dir_.path() + "/archive"; }

  ArchiveSummary Archive(int64_t cutoff_ms, int64_t max_records = 200'000) {
    ArchiveOptions o;
    o.archive_dir = ArchiveDir();
    o.cutoff_ms = cutoff_ms;
    o.max_records_per_file = max_records;
    auto summary = ArchiveSealed(*db_, o);
    GOVESB_CHECK(summary.ok());
    return *summary;
  }

  VerifyReport CheckAll() {
    auto report = Verify(*db_, signer_->public_key(), ArchiveDir());
    GOVESB_CHECK(report.ok());
    return *report;
  }

  // Entries in the live log's files.
  int64_t LiveRows() { return static_cast<int64_t>(Rows().size()); }

  static constexpr int64_t kSealedAt = 1'800'000'000'000;  // Seal()'s time
};

TEST_F(EvidenceArchiveTest, ArchivedRecordsStayVerifiableQueryableAndProvable) {
  Fill();
  EXPECT_TRUE(Archive(kSealedAt).files.empty()) << "checkpoints made at the cutoff stay live";
  ArchiveSummary a = Archive(kSealedAt + 1, /*max_records=*/12);
  ASSERT_EQ(a.files.size(), 2u) << "one file per 12 records at most, whole checkpoints";
  EXPECT_EQ(a.files[0], "evidence-000000000001-000000000012.jsonl.gz");
  EXPECT_EQ(a.files[1], "evidence-000000000013-000000000016.jsonl.gz");
  EXPECT_EQ(a.records, 16);
  EXPECT_EQ(LiveRows(), 1) << "only the unsealed exchange (records 17-20) is live";
  EXPECT_TRUE(Archive(kSealedAt + 1).files.empty()) << "nothing left to archive";

  VerifyReport r = CheckAll();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 20);
  EXPECT_EQ(r.checkpoints, 2);
  EXPECT_EQ(r.unsealed, 4);

  // Queries read archived and live records alike.
  QueryFilter all;
  auto every = QueryRecords(*db_, all, ArchiveDir(), log().durable_seq());
  ASSERT_TRUE(every.ok());
  ASSERT_EQ(every->size(), 20u);
  EXPECT_EQ(CanonicalInt(every->front(), "seq"), 1);
  EXPECT_EQ(CanonicalInt(every->back(), "seq"), 20);
  QueryFilter person;
  person.user_id = "19900101-12345-00001-12";
  auto about = QueryRecords(*db_, person, ArchiveDir(), log().durable_seq());
  ASSERT_TRUE(about.ok());
  EXPECT_EQ(about->size(), 5u) << "the first step of each of the 5 exchanges";
  QueryFilter one;
  one.request_id = "req1";
  auto exchange = QueryRecords(*db_, one, ArchiveDir(), log().durable_seq());
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(exchange->size(), 4u);

  // A proof of an archived exchange verifies offline.
  auto proof = BuildProof(*db_, "req1", signer_->public_key(), ArchiveDir(), log().durable_seq());
  ASSERT_TRUE(proof.ok()) << proof.status().message();
  auto checked = CheckProof(*proof, signer_->public_key());
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  EXPECT_EQ(checked->records.size(), 4u);

  // The chain continues after archiving, also when everything was archived.
  ASSERT_TRUE(Seal().ok());
  EXPECT_EQ(Archive(kSealedAt + 1).records, 4);
  EXPECT_EQ(LiveRows(), 0);
  ASSERT_TRUE(Append(20, 8).ok());
  ASSERT_TRUE(Seal().ok());
  r = CheckAll();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 28);
  EXPECT_EQ(r.unsealed, 0);
}

TEST_F(EvidenceArchiveTest, AnAlteredOrMissingArchiveIsFound) {
  Fill();
  ASSERT_EQ(Archive(kSealedAt + 1, 12).files.size(), 2u);
  const std::string first = ArchiveDir() + "/evidence-000000000001-000000000012.jsonl.gz";
  // Rewrite the archive with record 7 altered (a valid gzip file, as a forger would).
  std::vector<std::string> lines;
  ASSERT_TRUE(ForEachArchiveLine(first, [&](std::string_view line) -> Result<bool> {
                lines.emplace_back(line);
                return true;
              }).ok());
  ASSERT_GT(lines.size(), 8u);
  const size_t at = lines[7].find("\"latencyUs\":806");
  ASSERT_NE(at, std::string::npos) << lines[7];
  lines[7].replace(at, std::string_view("\"latencyUs\":806").size(), "\"latencyUs\":999");
  {
    gzFile gz = gzopen(first.c_str(), "wb");
    for (const std::string& line : lines) gzprintf(gz, "%s\n", line.c_str());
    gzclose(gz);
  }
  VerifyReport r = CheckAll();
  EXPECT_FALSE(r.intact);
  // Found within the file's records (1-12), and the file is named.
  ASSERT_TRUE(r.first_bad_seq.has_value());
  EXPECT_GE(*r.first_bad_seq, 1);
  EXPECT_LE(*r.first_bad_seq, 12) << r.problem;
  EXPECT_NE(r.problem.find("evidence-000000000001-000000000012.jsonl.gz"), std::string::npos)
      << r.problem;

  std::filesystem::remove(first);
  r = CheckAll();
  EXPECT_FALSE(r.intact);
  EXPECT_NE(r.problem.find("evidence-000000000001-000000000012.jsonl.gz"), std::string::npos)
      << r.problem;
  EXPECT_NE(r.problem.find("cannot be read"), std::string::npos) << r.problem;
}

TEST_F(EvidenceArchiveTest, ADamagedLiveLogIsNotArchived) {
  Fill();
  AlterRecordSix();
  ArchiveOptions o;
  o.archive_dir = ArchiveDir();
  o.cutoff_ms = kSealedAt + 1;
  auto a = ArchiveSealed(*db_, o);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("record 6"), std::string::npos) << a.status().message();
  EXPECT_EQ(LiveRows(), 5) << "nothing was moved";
  EXPECT_FALSE(
      std::filesystem::exists(ArchiveDir() + "/evidence-000000000001-000000000016.jsonl.gz"));
}

}  // namespace
}  // namespace govesb::evidence
