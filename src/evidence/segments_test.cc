#include "evidence/segments.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/file_size_limit.h"
#include "base/temp_dir.h"
#include "evidence/log.h"
#include "evidence/records.h"

namespace govesb::evidence {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The file's written part: its first line and its entries, not the zeros written ahead.
std::string Written(const std::string& path) {
  uint64_t end = kSegmentMagic.size();
  GOVESB_CHECK(ForEachSegmentEntry(path, [&](const SegmentEntry& e) {
                 end = e.end;
                 return true;
               }).ok());
  return ReadAll(path).substr(0, end);
}

void AppendBytes(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

class SegmentWriterTest : public ::testing::Test {
 protected:
  std::string Dir() const { return dir_.path() + "/evidence-log"; }

  std::unique_ptr<SegmentWriter> OpenWriter(int64_t sealed_through = 0,
                                            uint64_t max_bytes = uint64_t{64} << 20,
                                            int64_t database_through = 0) {
    auto w = SegmentWriter::Open(Dir(), SegmentWriter::Tip{}, sealed_through, database_through,
                                 SegmentWriter::Options{max_bytes});
    GOVESB_CHECK(w.ok());
    return std::move(*w);
  }

  // Appends one exchange of `n` records with sound hashes and chain, as the log does.
  static void AppendExchange(SegmentWriter& w, const std::string& request_id, int n) {
    std::string records(1, kCompactRowMarker);
    std::string hashes;
    Hash chain = w.tip().chain;
    for (int i = 0; i < n; ++i) {
      Record r;
      r.at_ms = 1'700'000'000'000 + i;
      r.request_id = request_id;
      r.kind = "request";
      r.outcome = "ok";
      EncodeCompact(r, records);
      const Hash h = crypto::Sha256(CanonicalRecord(w.tip().seq + 1 + i, r));
      hashes.append(reinterpret_cast<const char*>(h.data()), h.size());
      chain = ChainLink(chain, h);
    }
    w.Append(1'700'000'000'000, request_id, records, hashes, n, chain);
  }

  // Appends and commits, as a group commit does.
  static Status Commit(SegmentWriter& w, const std::string& request_id, int n) {
    AppendExchange(w, request_id, n);
    Status s = w.Flush();
    if (s.ok()) {
      w.Committed();
    } else {
      w.Abandon();
    }
    return s;
  }

  std::vector<std::pair<int64_t, std::string>> Entries() {
    std::vector<std::pair<int64_t, std::string>> out;
    EXPECT_TRUE(ForEachLiveEntry(Dir(), 1, [&](const SegmentEntry& e) {
                  out.emplace_back(e.first_seq, std::string(e.request_id));
                  EXPECT_TRUE(EntryIsSound(e, nullptr)) << e.first_seq;
                  return true;
                }).ok());
    return out;
  }

  std::string OnlyFile() {
    auto files = ListSegments(Dir()).value();
    GOVESB_CHECK(files.size() == 1);
    return files[0].path;
  }

  TempDir dir_;
};

TEST_F(SegmentWriterTest, AppendsAreReadBackAndTheTipSurvivesReopening) {
  {
    auto w = OpenWriter();
    ASSERT_TRUE(Commit(*w, "a", 4).ok());
    ASSERT_TRUE(Commit(*w, "b", 2).ok());
    EXPECT_EQ(w->durable_seq(), 6);
  }
  const std::string file = OnlyFile();
  EXPECT_GT(std::filesystem::file_size(file), Written(file).size()) << "zeros written ahead";
  auto w = OpenWriter();
  EXPECT_EQ(w->tip().seq, 6);
  ASSERT_TRUE(Commit(*w, "c", 1).ok());
  EXPECT_EQ(Entries(),
            (std::vector<std::pair<int64_t, std::string>>{{1, "a"}, {5, "b"}, {7, "c"}}));
  EXPECT_EQ(ListSegments(Dir()).value().size(), 1u) << "reopening goes on in the same file";
}

TEST_F(SegmentWriterTest, AFailedJobAndAnAbandonedBatchLeaveNothing) {
  auto w = OpenWriter();
  ASSERT_TRUE(Commit(*w, "a", 2).ok());
  const size_t size = Written(OnlyFile()).size();
  // A job that fails after appending: rolled back to its mark.
  const uint64_t mark = w->Mark();
  AppendExchange(*w, "failed", 3);
  w->RollbackTo(mark);
  EXPECT_EQ(w->tip().seq, 2);
  // A batch that was flushed, then its database COMMIT failed: cut off again.
  AppendExchange(*w, "orphan", 2);
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_GT(Written(OnlyFile()).size(), size);
  w->Abandon();
  EXPECT_EQ(Written(OnlyFile()).size(), size);
  EXPECT_EQ(w->tip().seq, 2);
  EXPECT_EQ(w->durable_seq(), 2);
  ASSERT_TRUE(Commit(*w, "b", 1).ok());
  EXPECT_EQ(Entries(), (std::vector<std::pair<int64_t, std::string>>{{1, "a"}, {3, "b"}}));
}

TEST_F(SegmentWriterTest, AWriteThatFailsIsCutBackAndReported) {
  auto w = OpenWriter();
  ASSERT_TRUE(Commit(*w, "a", 2).ok());
  const std::string file = OnlyFile();
  const size_t size = Written(file).size();
  // Nothing may be written past a few more bytes (as on a full disk): the write fails part way.
  AppendExchange(*w, "too-big", 3);
  Status s = Status::Ok();
  {
    FileSizeLimit full(size + 10);
    s = w->Flush();
  }
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("could not be written"), std::string::npos) << s.message();
  w->Abandon();
  EXPECT_EQ(ReadAll(file).size(), size) << "the part written was cut off, and the zeros ahead";
  EXPECT_EQ(w->tip().seq, 2);
  ASSERT_TRUE(Commit(*w, "b", 1).ok()) << "the log goes on once it can";
  EXPECT_EQ(Entries(), (std::vector<std::pair<int64_t, std::string>>{{1, "a"}, {3, "b"}}));
}

// After a failed write, a batch with nothing to write checks the file (the writer's readiness
// probe): it fails while the file takes no writes, succeeds once it does, and leaves the log as
// it was.
TEST_F(SegmentWriterTest, AfterAFailedWriteAnEmptyFlushChecksTheFile) {
  auto w = OpenWriter();
  ASSERT_TRUE(Commit(*w, "a", 2).ok());
  EXPECT_TRUE(w->Flush().ok()) << "nothing to write, nothing failed: nothing done";
  const std::string file = OnlyFile();
  const size_t size = Written(file).size();
  {
    FileSizeLimit full(size);
    AppendExchange(*w, "refused", 1);
    ASSERT_FALSE(w->Flush().ok());
    w->Abandon();
    Status probe = w->Flush();
    EXPECT_FALSE(probe.ok()) << "the file still takes no writes";
    EXPECT_NE(probe.message().find("still cannot be written"), std::string::npos)
        << probe.message();
  }
  EXPECT_TRUE(w->Flush().ok()) << "writable again";
  w->Committed();
  EXPECT_EQ(Written(file).size(), size) << "only zeros after the entries";
  ASSERT_TRUE(Commit(*w, "b", 1).ok());
  EXPECT_EQ(Entries(), (std::vector<std::pair<int64_t, std::string>>{{1, "a"}, {3, "b"}}));
  w.reset();
  auto reopened = OpenWriter();
  EXPECT_EQ(reopened->tip().seq, 3) << "the probe's zeros read as the end";
}

TEST_F(SegmentWriterTest, ATornEndIsCutOffAndKept) {
  {
    auto w = OpenWriter();
    ASSERT_TRUE(Commit(*w, "a", 2).ok());
    ASSERT_TRUE(Commit(*w, "b", 2).ok());
  }
  const std::string file = OnlyFile();
  const std::string sound = Written(file);
  // A crash part way through the next write: a whole frame with zeros where its records were
  // (blocks not written), then the start of another.
  std::string next;
  {
    auto w = OpenWriter();
    AppendExchange(*w, "c", 2);
    ASSERT_TRUE(w->Flush().ok());
    w->Committed();
    next = Written(file).substr(sound.size());
  }
  ASSERT_GT(next.size(), 60u);
  std::filesystem::resize_file(file, sound.size());
  std::string torn = next;
  for (size_t i = 20; i < torn.size() - 40; ++i) torn[i] = '\0';
  AppendBytes(file, torn + next.substr(0, 7));
  auto w = OpenWriter(/*sealed_through=*/4);
  EXPECT_EQ(w->tip().seq, 4);
  EXPECT_EQ(ReadAll(file), sound) << "cut back to the last sound entry";
  std::vector<std::string> kept;
  for (const auto& f : std::filesystem::directory_iterator(Dir())) {
    if (f.path().filename().string().find(".torn-") != std::string::npos) {
      kept.push_back(f.path().string());
    }
  }
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(ReadAll(kept[0]), torn + next.substr(0, 7)) << "the cut bytes are kept";
  ASSERT_TRUE(Commit(*w, "c", 2).ok());
  EXPECT_EQ(Entries().back(), (std::pair<int64_t, std::string>{5, "c"}));
}

TEST_F(SegmentWriterTest, ALastBatchWhoseDatabaseCommitDidNotHappenIsCutOff) {
  {
    auto w = OpenWriter();
    ASSERT_TRUE(Commit(*w, "a", 2).ok());  // evidence only: records 1-2
    w->BeginBatch(/*with_database=*/true);
    ASSERT_TRUE(Commit(*w, "push", 2).ok());  // with its database rows, committed: 3-4
    w->BeginBatch(false);
    ASSERT_TRUE(Commit(*w, "b", 1).ok());  // evidence only: 5
    // A batch with database rows: its evidence is durable, then the process stops before
    // the database's COMMIT (neither Committed nor Abandon).
    w->BeginBatch(true);
    AppendExchange(*w, "orphan", 2);
    ASSERT_TRUE(w->Flush().ok());
  }
  const std::string file = OnlyFile();
  const std::string before = Written(file);
  {
    // The database did commit it (up to record 7): nothing is cut.
    auto w = OpenWriter(0, uint64_t{64} << 20, /*database_through=*/7);
    EXPECT_EQ(w->tip().seq, 7);
    EXPECT_EQ(Written(file), before);
  }
  // The database's last commit covers record 4: the batch after record 5 never committed.
  auto w = OpenWriter(0, uint64_t{64} << 20, /*database_through=*/4);
  EXPECT_EQ(w->tip().seq, 5);
  EXPECT_EQ(Entries(),
            (std::vector<std::pair<int64_t, std::string>>{{1, "a"}, {3, "push"}, {5, "b"}}));
  bool kept = false;
  for (const auto& f : std::filesystem::directory_iterator(Dir())) {
    if (f.path().filename().string().find(".torn-") == std::string::npos) continue;
    kept = true;
    EXPECT_NE(ReadAll(f.path().string()).find("orphan"), std::string::npos);
  }
  EXPECT_TRUE(kept) << "the cut entries are kept beside the file";
  ASSERT_TRUE(Commit(*w, "c", 1).ok());
  EXPECT_EQ(Entries().back(), (std::pair<int64_t, std::string>{6, "c"}));
}

TEST_F(SegmentWriterTest, DamageToSealedRecordsIsNotCutOff) {
  {
    auto w = OpenWriter();
    ASSERT_TRUE(Commit(*w, "a", 2).ok());
    ASSERT_TRUE(Commit(*w, "b", 2).ok());
  }
  const std::string file = OnlyFile();
  std::string bytes = ReadAll(file);
  bytes[Written(file).size() - 40] ^= 1;  // inside the last entry's hashes
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  auto refused = SegmentWriter::Open(Dir(), SegmentWriter::Tip{}, /*sealed_through=*/4);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("damaged at record 3"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(ReadAll(file), bytes) << "nothing was changed";
}

TEST_F(SegmentWriterTest, ReadersStopAtAnEntryBeingWritten) {
  auto w = OpenWriter();
  ASSERT_TRUE(Commit(*w, "a", 2).ok());
  std::string partial;
  SegmentEntry e;
  e.first_seq = 3;
  e.last_seq = 3;
  e.request_id = "b";
  e.records = "x";
  EncodeSegmentEntry(e, partial);
  // At the end of a file with nothing written ahead (as one cut back after a failure).
  const std::string file = OnlyFile();
  std::filesystem::resize_file(file, Written(file).size());
  AppendBytes(file, partial.substr(0, partial.size() - 2));
  EXPECT_EQ(Entries(), (std::vector<std::pair<int64_t, std::string>>{{1, "a"}}));
}

TEST_F(SegmentWriterTest, FullSegmentsRollOverAndArchivedOnesAreRemoved) {
  auto w = OpenWriter(0, /*max_bytes=*/1);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Commit(*w, id, 2).ok());
  auto files = ListSegments(Dir()).value();
  ASSERT_EQ(files.size(), 4u) << "one per commit, and the next one, empty";
  EXPECT_EQ(files[0].first_seq, 1);
  EXPECT_EQ(files[1].first_seq, 3);
  EXPECT_EQ(files[3].first_seq, 7);
  EXPECT_EQ(Entries().size(), 3u);
  std::vector<std::pair<int64_t, std::string>> from_four;
  ASSERT_TRUE(ForEachLiveEntry(Dir(), 4, [&](const SegmentEntry& en) {
                from_four.emplace_back(en.first_seq, std::string(en.request_id));
                return true;
              }).ok());
  EXPECT_EQ(from_four, (std::vector<std::pair<int64_t, std::string>>{{3, "b"}, {5, "c"}}));

  ASSERT_TRUE(RemoveArchivedSegments(Dir(), 3).ok());
  EXPECT_EQ(ListSegments(Dir()).value().size(), 3u) << "records 3-4 are not all archived";
  ASSERT_TRUE(RemoveArchivedSegments(Dir(), 100).ok());
  files = ListSegments(Dir()).value();
  ASSERT_EQ(files.size(), 1u) << "the file being appended to stays";
  EXPECT_EQ(files[0].first_seq, 7);
  ASSERT_TRUE(Commit(*w, "d", 1).ok());
}

TEST_F(SegmentWriterTest, AReaderComesBackWhereItsCursorStopped) {
  auto w = OpenWriter(0, /*max_bytes=*/400);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Commit(*w, id, 2).ok());
  EntryCursor cursor;
  std::vector<int64_t> seen;
  auto read_from = [&](int64_t first, int64_t up_to) {
    seen.clear();
    return ForEachLiveEntry(
        Dir(), first,
        [&](const SegmentEntry& e) -> Result<bool> {
          if (e.last_seq > up_to) return false;  // not taken: the cursor stays before it
          seen.push_back(e.first_seq);
          return true;
        },
        &cursor);
  };
  ASSERT_TRUE(read_from(1, 4).ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(cursor.next_seq, 5);
  for (const char* id : {"d", "e"}) ASSERT_TRUE(Commit(*w, id, 2).ok());
  // Make the start of the first file unreadable: only a reader that starts there notices.
  const std::string first_file = ListSegments(Dir()).value().front().path;
  std::string bytes = ReadAll(first_file);
  bytes[kSegmentMagic.size()] = '\xff';
  bytes[kSegmentMagic.size() + 1] = '\xff';
  bytes[kSegmentMagic.size() + 2] = '\xff';
  bytes[kSegmentMagic.size() + 3] = '\x7f';
  std::ofstream(first_file, std::ios::binary | std::ios::trunc) << bytes;
  ASSERT_TRUE(read_from(5, 100).ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{5, 7, 9})) << "across files, from the cursor";
  EXPECT_EQ(cursor.next_seq, 11);
  // The cursor stands at record 11: a reader of record 3 on starts at the file's start.
  EXPECT_FALSE(read_from(3, 100).ok()) << "read from the start, which is damaged";
}

TEST_F(SegmentWriterTest, EntriesLargerThanAReadChunkAreRead) {
  auto w = OpenWriter();
  ASSERT_TRUE(Commit(*w, "small", 1).ok());
  // A record that keeps a large body (3 MB, read in 1 MB chunks), between small ones.
  Record big;
  big.request_id = "big";
  big.kind = "request";
  big.body_encrypted = std::string(3 << 20, 'b');
  std::string records(1, kCompactRowMarker);
  EncodeCompact(big, records);
  const Hash h = crypto::Sha256(CanonicalRecord(2, big));
  w->Append(0, "big", records, std::string_view(reinterpret_cast<const char*>(h.data()), 32), 1,
            ChainLink(w->tip().chain, h));
  ASSERT_TRUE(w->Flush().ok());
  w->Committed();
  ASSERT_TRUE(Commit(*w, "after", 2).ok());
  EXPECT_EQ(Entries(),
            (std::vector<std::pair<int64_t, std::string>>{{1, "small"}, {2, "big"}, {3, "after"}}));
}

TEST_F(SegmentWriterTest, AFileThatIsNotASegmentIsReported) {
  std::filesystem::create_directories(Dir());
  std::ofstream(Dir() + "/000000000001.seg") << "not a segment\n";
  Status s = ForEachLiveEntry(Dir(), 1, [](const SegmentEntry&) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("not a segment file"), std::string::npos) << s.message();
}

// ---- the cut that goes with a copy of the database (govesb backup) ----

// Copies what `cut` keeps into `to` (as a backup does).
void CopyCut(const LiveLogCut& cut, const std::string& to) {
  std::filesystem::create_directories(to);
  for (const LiveLogCut::File& f : cut.files) {
    std::ofstream(to + "/" + f.name, std::ios::binary) << ReadAll(f.path).substr(0, f.bytes);
  }
}

TEST_F(SegmentWriterTest, TheCutKeepsWhatTheDatabaseKnewAndABusGoesOnFromThere) {
  auto w = OpenWriter();
  ASSERT_TRUE(Commit(*w, "a", 3).ok());
  ASSERT_TRUE(Commit(*w, "b", 2).ok());  // the database's last commit covered records 1-5
  // A later batch, written and synced but (say) not committed in the database copy's view.
  AppendExchange(*w, "c", 4);
  ASSERT_TRUE(w->Flush().ok());
  auto cut = CutLiveLog(Dir(), 0, 5);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  ASSERT_EQ(cut->files.size(), 1u);
  EXPECT_EQ(cut->last_seq, 5);
  EXPECT_EQ(cut->files[0].first_seq, 1);
  EXPECT_EQ(cut->files[0].last_seq, 5);
  EXPECT_EQ(cut->files[0].name, "000000000001.seg");
  EXPECT_LT(cut->files[0].bytes, Written(OnlyFile()).size());
  w->Committed();

  const std::string copy = dir_.path() + "/copy";
  CopyCut(*cut, copy);
  // A bus on the copy: its tip is record 5, nothing is cut off (no torn file), it appends on.
  auto reopened = SegmentWriter::Open(copy, SegmentWriter::Tip{}, 0, 5, {});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->tip().seq, 5);
  EXPECT_EQ((*reopened)->tip().chain, [&] {
    Hash chain{};
    EXPECT_TRUE(ForEachLiveEntry(copy, 1, [&](const SegmentEntry& e) {
                  chain = *StoredHash(e.chain, !e.chain_hex);
                  return true;
                }).ok());
    return chain;
  }());
  ASSERT_TRUE(Commit(**reopened, "d", 1).ok());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(copy), {}), 1)
      << "one segment file, nothing torn";
  EXPECT_TRUE(CutLiveLog(Dir(), 0, 9).ok()) << "the original has all nine";
}

TEST_F(SegmentWriterTest, TheCutSpansFilesAndLeavesOutArchivedAndLaterOnes) {
  auto w = OpenWriter(0, 300);  // a new file every few entries
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(Commit(*w, "r" + std::to_string(i), 2).ok());
  auto files = ListSegments(Dir()).value();
  ASSERT_GE(files.size(), 4u);
  // Archived through the end of the second file; the database committed into the third.
  const int64_t after = files[2].first_seq - 1;
  const int64_t through = files[2].first_seq + 1;  // an entry ends there (two records each)
  auto cut = CutLiveLog(Dir(), after, through);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  ASSERT_EQ(cut->files.size(), 1u);
  EXPECT_EQ(cut->files[0].path, files[2].path);
  EXPECT_EQ(cut->files[0].first_seq, after + 1);
  EXPECT_EQ(cut->last_seq, through);
  // Nothing archived: from the first file on, the later files left out.
  auto all = CutLiveLog(Dir(), 0, through);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->files.size(), 3u);
  EXPECT_EQ(all->files[0].first_seq, 1);
}

TEST_F(SegmentWriterTest, TheCutReportsRecordsThatAreNotThere) {
  auto w = OpenWriter(0, 300);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Commit(*w, "r" + std::to_string(i), 2).ok());
  auto files = ListSegments(Dir()).value();
  ASSERT_GE(files.size(), 3u);
  // More than the files hold: damage, not a race.
  auto beyond = CutLiveLog(Dir(), 0, 40);
  EXPECT_EQ(beyond.status().code(), StatusCode::kInternal);
  EXPECT_NE(beyond.status().message().find("ends at record 16"), std::string::npos)
      << beyond.status().message();
  // Inside an entry (entries hold two records).
  EXPECT_EQ(CutLiveLog(Dir(), 0, 3).status().code(), StatusCode::kInternal);
  // The first file deleted (archived after the database was copied): copy again.
  std::filesystem::remove(files[0].path);
  auto gone = CutLiveLog(Dir(), 0, 10);
  EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable) << gone.status().ToString();
  // A file in the middle missing: the records there are not in the log.
  auto middle = CutLiveLog(Dir(), files[1].first_seq - 1, 16);
  ASSERT_TRUE(middle.ok()) << middle.status().ToString();
  std::filesystem::remove(files[1].path);
  EXPECT_EQ(CutLiveLog(Dir(), 0, 16).status().code(), StatusCode::kUnavailable);
  auto hole = CutLiveLog(Dir(), files[1].first_seq - 1, 16);
  EXPECT_EQ(hole.status().code(), StatusCode::kUnavailable) << hole.status().ToString();
}

}  // namespace
}  // namespace govesb::evidence
