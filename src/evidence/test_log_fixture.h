#pragma once

// Test-only: an evidence log on a fresh database in a temporary directory, for the module's
// tests (log_test.cc, proof_test.cc).

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/temp_dir.h"
#include "crypto/key_ring.h"
#include "crypto/keys.h"
#include "evidence/log.h"
#include "evidence/segments.h"
#include "evidence/sqlite_store.h"
#include "store/database.h"
#include "store/group_commit.h"

namespace govesb::evidence {

class EvidenceLogFixture : public ::testing::Test {
 protected:
  // Opens the database (migrated), a bus key on `curve`, the writer and the log.
  void Open(crypto::Curve curve) {
    path_ = dir_.path() + "/e.db";
    db_ = store::Database::Open(path_).value();
    ASSERT_TRUE(MigrateEvidenceStore(*db_).ok());
    key_.emplace(crypto::PrivateKey::Generate(curve).value());
    if (ring_.has_value()) {
      auto ring = std::make_unique<crypto::RingSigner>(*ring_, ring_now_ms_);
      ring_signer_ = ring.get();
      signer_ = std::move(ring);
    } else {
      signer_ = std::make_unique<crypto::LocalSigner>(*key_);
    }
    writer_ = store::GroupCommitWriter::Open(path_).value();
    log_ = EvidenceLog::Open(*db_, *writer_, *signer_, max_segment_bytes_).value();
  }

  // Replaces the log by the embedded EvidenceStore on the same database and writer (with
  // connections of its own), for tests of what uses the port (EvidenceMaintenance).
  void OpenStore() {
    log_.reset();
    store_ = SqliteEvidenceStore::Open(
                 path_, *writer_, *signer_,
                 {.archive_dir = dir_.path() + "/archive", .max_segment_bytes = max_segment_bytes_})
                 .value();
  }
  EvidenceLog& log() { return store_ != nullptr ? *store_->log() : *log_; }

  // Appends and waits until the records are durable.
  Status AppendRecords(std::vector<Record> records) {
    std::promise<Status> p;
    auto f = p.get_future();
    log().Append(std::move(records), [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }

  // A checkpoint, made at a fixed time, through the writer; waits for it.
  Status Seal() {
    std::promise<Status> p;
    auto f = p.get_future();
    log().Checkpoint(1'800'000'000'000, [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }

  // The live log's segment files beside the database.
  std::string SegmentDir() const { return SegmentDirFor(path_); }

  uint64_t max_segment_bytes_ = uint64_t{64} << 20;  // set before Open
  // Set before Open: the bus signs through a key ring as of ring_now_ms_ (then key_ is unused).
  std::optional<crypto::KeyRing> ring_;
  int64_t ring_now_ms_ = 0;
  crypto::RingSigner* ring_signer_ = nullptr;
  TempDir dir_;
  std::string path_;
  std::unique_ptr<store::Database> db_;
  std::optional<crypto::PrivateKey> key_;
  std::unique_ptr<crypto::Signer> signer_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<EvidenceLog> log_;
  std::unique_ptr<SqliteEvidenceStore> store_;  // after OpenStore (then log_ is null)
};

}  // namespace govesb::evidence
