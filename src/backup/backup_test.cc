#include "backup/backup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>

#include "backup/tar_stream.h"
#include "base/encoding.h"
#include "base/temp_dir.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "evidence/log.h"
#include "evidence/records.h"
#include "evidence/segments.h"
#include "evidence/sqlite_store.h"
#include "store/data_dir.h"
#include "store/data_dir_format.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::backup {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  GOVESB_CHECK(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// The last record in the live log's files of `data_dir`.
int64_t LastLiveRecord(const std::string& data_dir) {
  int64_t last = 0;
  GOVESB_CHECK(evidence::ForEachLiveEntry(data_dir + "/evidence-log", 1,
                                          [&](const evidence::SegmentEntry& e) {
                                            last = e.last_seq;
                                            return true;
                                          })
                   .ok());
  return last;
}

// A bus's data directory with its evidence log being written: sealed, archived, indexed
// (database commits) and not yet known to the database (appends after its last commit).
class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.path() + "/data";
    auto dir = store::DataDir::Open({.path = data_});
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_.emplace(std::move(*dir));
    auto db = dir_->OpenDatabase();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(evidence::MigrateEvidenceStore(*db_).ok());
    signer_ = std::make_unique<crypto::LocalSigner>(dir_->bus_key());
    writer_ = store::GroupCommitWriter::Open(dir_->database_path()).value();
    store_ = evidence::SqliteEvidenceStore::Open(
                 dir_->database_path(), *writer_, *signer_,
                 {.archive_dir = data_ + "/evidence-archive", .max_segment_bytes = 4096})
                 .value();
  }

  void TearDown() override {
    store_.reset();
    writer_.reset();
  }

  // `n` exchanges of two records each, durable when it returns.
  void Append(int n) {
    for (int i = 0; i < n; ++i) {
      std::vector<evidence::Record> records(2);
      for (evidence::Record& r : records) {
        r.at_ms = 1'000 + i;
        r.request_id = crypto::NewRequestId();
        r.kind = "request";
        r.outcome = "ok";
      }
      records[1].request_id = records[0].request_id;
      records[1].kind = "response";
      std::promise<Status> done;
      store_->Append(evidence::Prepare(records), [&](Status s) { done.set_value(s); });
      ASSERT_TRUE(done.get_future().get().ok());
    }
  }

  // The log as a running bus leaves it: sealed and archived records, indexed ones (which the
  // database's commits cover), and a last few that no database commit covers yet.
  void WriteLog() {
    Append(30);
    ASSERT_TRUE(store_->Seal(2'000).ok());
    auto archived = store_->Archive(3'000);
    ASSERT_TRUE(archived.ok()) << archived.status().ToString();
    ASSERT_GT(archived->records, 0);
    Append(20);
    ASSERT_TRUE(store_->IndexCommitted().ok());  // a database commit: it covers these
    Append(3);                                   // appended after the database's last commit
    auto committed = evidence::CommittedThrough(*db_);
    ASSERT_TRUE(committed.ok());
    committed_ = *committed;
    ASSERT_EQ(committed_, 100);
    ASSERT_EQ(LastLiveRecord(data_), 106);
  }

  Result<BackupSummary> Backup(const std::string& out) {
    return MakeBackup({.data_dir = data_, .out = out});
  }

  TempDir tmp_;
  std::string data_;
  std::optional<store::DataDir> dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<crypto::LocalSigner> signer_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<evidence::SqliteEvidenceStore> store_;
  int64_t committed_ = 0;
};

TEST_F(BackupTest, ARestoredDirectoryHoldsWhatTheDatabaseKnewWithItsKeysAndModes) {
  WriteLog();
  for (const char* name : {"/b.tar", "/b.tar.gz"}) {
    SCOPED_TRACE(name);
    const std::string out = tmp_.path() + name;
    auto made = Backup(out);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    const Manifest& m = made->manifest;
    EXPECT_EQ(m.evidence_committed_through, 100);
    EXPECT_EQ(m.evidence_live_through, 100) << "the three appended after it are left out";
    EXPECT_GT(m.evidence_archived_through, 0);
    EXPECT_EQ(m.data_dir_format, store::kDataDirFormat);
    EXPECT_EQ(m.database_schema.at("evidence"), 4);
    EXPECT_EQ(Mode(out), 0600u) << "a backup holds the bus's keys";
    EXPECT_EQ(ReadFile(out).substr(0, 2) == "\x1f\x8b", std::string(name).ends_with(".gz"));

    const std::string restored = tmp_.path() + "/restored" + (name + 1);
    auto back = RestoreBackup({.in = out, .data_dir = restored});
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    // The keys byte for byte, with their modes; the directories private.
    for (const char* key :
         {"keys/esb-keys.json", "keys/token-secret", "keys/evidence-body-key", "format"}) {
      EXPECT_EQ(ReadFile(restored + "/" + key), ReadFile(data_ + "/" + key)) << key;
      EXPECT_EQ(Mode(restored + "/" + key), Mode(data_ + "/" + key)) << key;
    }
    EXPECT_EQ(Mode(restored + "/keys/esb-keys.json"), 0600u);
    for (const char* d : {"", "/keys", "/tls"}) EXPECT_EQ(Mode(restored + d), 0700u) << d;
    EXPECT_FALSE(fs::exists(restored + "/govesb.db-wal"));
    // The evidence: exactly what the database knew, intact, with the archives.
    EXPECT_EQ(LastLiveRecord(restored), 100);
    auto db = store::Database::Open(restored + "/govesb.db", {.create = false});
    ASSERT_TRUE(db.ok());
    auto report =
        evidence::Verify(**db, dir_->bus_key().public_key(), restored + "/evidence-archive");
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->intact) << report->problem;
    EXPECT_EQ(report->records, 100);
    // A bus on it goes on from record 100: its log opens with nothing to cut off.
    auto copy_db = store::DataDir::Open({.path = restored, .create = false});
    ASSERT_TRUE(copy_db.ok()) << copy_db.status().ToString();
    auto writer = store::GroupCommitWriter::Open(restored + "/govesb.db").value();
    auto reopened =
        evidence::SqliteEvidenceStore::Open(restored + "/govesb.db", *writer, *signer_,
                                            {.archive_dir = restored + "/evidence-archive"});
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    for (const auto& e : fs::directory_iterator(restored + "/evidence-log")) {
      EXPECT_EQ(e.path().string().find(".torn"), std::string::npos) << e.path();
    }
    reopened->reset();
  }
}

TEST_F(BackupTest, DamagedAndTruncatedBackupsAreRefusedAndWriteNothing) {
  WriteLog();
  for (const char* name : {"/b.tar", "/b.tgz"}) {
    SCOPED_TRACE(name);
    const std::string out = tmp_.path() + name;
    ASSERT_TRUE(Backup(out).ok());
    const std::string whole = ReadFile(out);
    const std::string target = tmp_.path() + "/target";
    auto refused = [&](const std::string& bytes, const std::string& what) {
      WriteFile(out, bytes);
      auto back = RestoreBackup({.in = out, .data_dir = target});
      ASSERT_FALSE(back.ok()) << what;
      EXPECT_EQ(back.status().code(), StatusCode::kFailedPrecondition) << what;
      EXPECT_NE(back.status().message().find("nothing was restored"), std::string::npos)
          << what << ": " << back.status().message();
      EXPECT_FALSE(fs::exists(target)) << what;
    };
    // Changed bytes: one, in a plain archive (every byte is covered by a tar checksum, the
    // zero padding or the manifest's hashes); sixteen in a compressed one (a single changed bit
    // of a deflate stream can, rarely, change nothing: the code of a symbol never used).
    const size_t width = std::string(name).ends_with(".tgz") ? 16 : 1;
    for (size_t at : {size_t{600}, whole.size() / 3, whole.size() / 2, whole.size() - 2000}) {
      std::string changed = whole;
      for (size_t i = at; i < at + width; ++i) changed[i] = static_cast<char>(changed[i] ^ 0x5a);
      refused(changed, "bytes from " + std::to_string(at) + " changed");
    }
    for (size_t size : {size_t{10}, whole.size() / 2, whole.size() - 1500, whole.size() - 1}) {
      refused(whole.substr(0, size), "cut at " + std::to_string(size));
    }
    WriteFile(out, whole);
    auto checked = RestoreBackup({.in = out, .check_only = true});
    ASSERT_TRUE(checked.ok()) << checked.status().ToString();
    EXPECT_FALSE(fs::exists(target)) << "a check writes nothing";
  }
}

// Rewrites the backup `in` into `out` with its manifest changed by `change` (and its SHA-256
// made to match), as a newer govesb would have written it.
void RewriteManifest(const std::string& in, const std::string& out,
                     const std::function<void(Manifest&)>& change) {
  const int from = ::open(in.c_str(), O_RDONLY);
  const int to = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  GOVESB_CHECK(from >= 0 && to >= 0);
  auto reader = TarReader::Open(from, in).value();
  auto writer = TarWriter::Open(to, false, out).value();
  std::string manifest;
  while (auto e = reader->Next().value()) {
    std::string data(e->size, '\0');
    for (size_t at = 0; at < data.size();)
      at += reader->Read(data.data() + at, data.size() - at).value();
    if (e->path == "manifest.json") {
      Manifest m = Manifest::FromJson(data).value();
      change(m);
      data = manifest = m.ToJson();
    } else if (e->path == "manifest.sha256") {
      data = HexEncode(crypto::Sha256(manifest)) + "  manifest.json\n";
    }
    if (e->type == '5') {
      GOVESB_CHECK(writer->AddDirectory(e->path, e->mode).ok());
      continue;
    }
    GOVESB_CHECK(writer->BeginFile(e->path, e->mode, data.size()).ok());
    GOVESB_CHECK(writer->Write(data).ok());
    GOVESB_CHECK(writer->EndFile().ok());
  }
  GOVESB_CHECK(writer->Finish().ok());
  ::close(from);
  ::close(to);
}

TEST_F(BackupTest, ABackupOfANewerFormatIsRefusedNamingTheVersions) {
  WriteLog();
  const std::string out = tmp_.path() + "/b.tar";
  ASSERT_TRUE(Backup(out).ok());
  const std::string target = tmp_.path() + "/target";
  // A manifest whose hashes match but which lists a file changed: still refused.
  RewriteManifest(out, tmp_.path() + "/lying.tar", [](Manifest& m) { m.files[0].size += 1; });
  auto lying = RestoreBackup({.in = tmp_.path() + "/lying.tar", .data_dir = target});
  EXPECT_NE(lying.status().message().find("damaged"), std::string::npos)
      << lying.status().message();

  RewriteManifest(out, tmp_.path() + "/newer-dir.tar", [](Manifest& m) {
    m.data_dir_format = store::kDataDirFormat + 1;
    m.govesb_version = "9.0.0";
  });
  auto newer = RestoreBackup({.in = tmp_.path() + "/newer-dir.tar", .data_dir = target});
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(
      newer.status().message().find("format version " + std::to_string(store::kDataDirFormat + 1)),
      std::string::npos)
      << newer.status().message();
  EXPECT_NE(newer.status().message().find("govesb 9.0.0"), std::string::npos);
  EXPECT_NE(newer.status().message().find("at least as new"), std::string::npos);
  EXPECT_FALSE(fs::exists(target));

  RewriteManifest(out, tmp_.path() + "/newer-backup.tar",
                  [](Manifest& m) { m.format_version = 2; });
  auto format = RestoreBackup({.in = tmp_.path() + "/newer-backup.tar", .data_dir = target});
  EXPECT_NE(format.status().message().find("backup format 2"), std::string::npos)
      << format.status().message();
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(BackupTest, ANonEmptyTargetIsRefusedAndLeftAlone) {
  WriteLog();
  const std::string out = tmp_.path() + "/b.tar";
  ASSERT_TRUE(Backup(out).ok());
  const std::string target = tmp_.path() + "/target";
  fs::create_directory(target);
  WriteFile(target + "/notes.txt", "mine");
  auto back = RestoreBackup({.in = out, .data_dir = target});
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("is not empty"), std::string::npos)
      << back.status().message();
  EXPECT_EQ(std::distance(fs::directory_iterator(target), {}), 1);
  // The running bus's own directory is not empty either.
  EXPECT_FALSE(RestoreBackup({.in = out, .data_dir = data_}).ok());
  // An empty existing directory is fine.
  fs::remove(target + "/notes.txt");
  EXPECT_TRUE(RestoreBackup({.in = out, .data_dir = target}).ok());
}

TEST_F(BackupTest, WhatCannotBeBackedUpIsRefusedWithoutWritingABackup) {
  WriteLog();
  const std::string out = tmp_.path() + "/b.tar";
  WriteFile(out, "already here");
  EXPECT_EQ(Backup(out).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(out), "already here");
  EXPECT_EQ(Backup(data_ + "/inside.tar").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeBackup({.data_dir = tmp_.path() + "/absent", .out = tmp_.path() + "/x.tar"})
                .status()
                .code(),
            StatusCode::kNotFound);
  // A directory in a newer format: refused, and the directory is left as it is.
  const std::string format = ReadFile(data_ + "/format");
  WriteFile(data_ + "/format", "govesb-data-dir 99\n");
  auto newer = Backup(tmp_.path() + "/newer.tar");
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("format version 99"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_.path() + "/newer.tar"));
  WriteFile(data_ + "/format", format);
  // Nothing left behind beside the output by the failures.
  for (const auto& e : fs::directory_iterator(tmp_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    EXPECT_EQ(e.path().filename().string().find(".staging"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace govesb::backup
