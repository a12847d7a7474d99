#include "evidence/log.h"

#include <gtest/gtest.h>

#include <future>

#include "base/encoding.h"
#include "base/temp_dir.h"

namespace govesb::evidence {
namespace {

class EvidenceLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/e.db";
    db_ = store::Database::Open(path_).value();
    ASSERT_TRUE(MigrateEvidenceStore(*db_).ok());
    ASSERT_TRUE(MigrateEvidenceStore(*db_).ok()) << "migrating twice is a no-op";
    key_.emplace(crypto::PrivateKey::Generate(crypto::Curve::kSecp256k1).value());
    signer_ = std::make_unique<crypto::LocalSigner>(*key_);
    writer_ = store::GroupCommitWriter::Open(path_).value();
    log_ = std::make_unique<EvidenceLog>(*writer_, *signer_);
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
    std::promise<Status> p;
    auto f = p.get_future();
    log_->Append(std::move(records), [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }

  Status Seal() {
    std::promise<Status> p;
    auto f = p.get_future();
    log_->Checkpoint(1'800'000'000'000, [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }

  VerifyReport Check() {
    auto report = Verify(*db_, signer_->public_key());
    GOVESB_CHECK(report.ok());
    return *report;
  }

  void Exec(const std::string& sql) { ASSERT_TRUE(db_->Exec(sql).ok()) << sql; }

  // 20 records in two sealed checkpoints (1-12, 13-16) and 4 unsealed (17-20).
  void Fill() {
    ASSERT_TRUE(Append(0, 12).ok());
    ASSERT_TRUE(Seal().ok());
    ASSERT_TRUE(Append(12, 4).ok());
    ASSERT_TRUE(Seal().ok());
    ASSERT_TRUE(Append(16, 4).ok());
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<store::Database> db_;
  std::optional<crypto::PrivateKey> key_;
  std::unique_ptr<crypto::LocalSigner> signer_;
  std::unique_ptr<store::GroupCommitWriter> writer_;
  std::unique_ptr<EvidenceLog> log_;
};

TEST_F(EvidenceLogTest, AnUntouchedLogIsIntact) {
  EXPECT_TRUE(Check().intact) << "an empty log";
  Fill();
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 20);
  EXPECT_EQ(r.checkpoints, 2);
  EXPECT_EQ(r.unsealed, 4);
  ASSERT_TRUE(Seal().ok());
  ASSERT_TRUE(Seal().ok()) << "nothing new: no checkpoint, no error";
  r = Check();
  EXPECT_EQ(r.checkpoints, 3);
  EXPECT_EQ(r.unsealed, 0);
}

TEST_F(EvidenceLogTest, TheChainContinuesAcrossRestarts) {
  ASSERT_TRUE(Append(0, 3).ok());
  writer_->Stop();
  writer_ = store::GroupCommitWriter::Open(path_).value();
  log_ = std::make_unique<EvidenceLog>(*writer_, *signer_);
  ASSERT_TRUE(Append(3, 3).ok());
  ASSERT_TRUE(Seal().ok());
  VerifyReport r = Check();
  EXPECT_TRUE(r.intact) << r.problem;
  EXPECT_EQ(r.records, 6);
}

TEST_F(EvidenceLogTest, RecordsAreCanonicalJson) {
  std::string text = CanonicalRecord(7, Step(1));
  EXPECT_EQ(text.rfind(R"({"seq":7,"at":1700000000001,"requestId":"req0","kind":"request",)", 0),
            0u)
      << text;
  EXPECT_NE(text.find(R"("latencyUs":801,"size":1024,)"), std::string::npos);
}

TEST_F(EvidenceLogTest, AChangedByteIsFoundAndLocated) {
  Fill();
  Exec("UPDATE evidence_records SET record = replace(record, 'BRTHCRT', 'BRTHCRX') WHERE seq = 5");
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 5);
  EXPECT_NE(r.problem.find("record 5 was changed"), std::string::npos) << r.problem;
}

TEST_F(EvidenceLogTest, AChangeWithItsHashesRewrittenIsCaughtByTheCheckpoint) {
  Fill();
  // A careful forger rewrites record 5 and recomputes every hash and link after it.
  std::string forged = CanonicalRecord(5, Step(4, "forged"));
  auto stmt = db_->Prepare("SELECT seq, record FROM evidence_records ORDER BY seq");
  ASSERT_TRUE(stmt.ok());
  Hash chain{};
  std::vector<std::tuple<int64_t, std::string, std::string>> rows;
  while (*stmt->Step()) {
    int64_t seq = stmt->ColumnInt64(0);
    std::string text = seq == 5 ? forged : stmt->ColumnText(1);
    Hash h = crypto::Sha256(text);
    std::string buffer(reinterpret_cast<const char*>(chain.data()), 32);
    buffer.append(reinterpret_cast<const char*>(h.data()), 32);
    chain = crypto::Sha256(buffer);
    rows.emplace_back(
        seq, text,
        HexEncode(std::span<const uint8_t>(h)) + "|" + HexEncode(std::span<const uint8_t>(chain)));
  }
  for (auto& [seq, text, hashes] : rows) {
    auto u = db_->Prepare(
        "UPDATE evidence_records SET record = ?, record_hash = ?, chain = ?"
        " WHERE seq = ?");
    ASSERT_TRUE(u.ok());
    ASSERT_TRUE(u->Bind(1, text).ok());
    ASSERT_TRUE(u->Bind(2, hashes.substr(0, 64)).ok());
    ASSERT_TRUE(u->Bind(3, hashes.substr(65)).ok());
    ASSERT_TRUE(u->Bind(4, seq).ok());
    ASSERT_TRUE(u->Run().ok());
  }
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 1) << "located to the sealed range 1-12";
  EXPECT_NE(r.problem.find("checkpoint 1 (records 1-12) no longer matches"), std::string::npos)
      << r.problem;
}

TEST_F(EvidenceLogTest, ADeletedRecordIsFound) {
  Fill();
  Exec("DELETE FROM evidence_records WHERE seq = 9");
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 9);
  EXPECT_NE(r.problem.find("record 9 is missing"), std::string::npos) << r.problem;

  // Removing the tail of a sealed range is found too.
  Exec("DELETE FROM evidence_records WHERE seq >= 9");
  r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_NE(r.problem.find("records were removed"), std::string::npos) << r.problem;
}

TEST_F(EvidenceLogTest, SwappedRecordsAreFound) {
  Fill();
  Exec(
      "UPDATE evidence_records SET seq = -3 WHERE seq = 3;"
      "UPDATE evidence_records SET seq = 3 WHERE seq = 4;"
      "UPDATE evidence_records SET seq = 4 WHERE seq = -3;");
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 3);
  EXPECT_NE(r.problem.find("out of place"), std::string::npos) << r.problem;
}

TEST_F(EvidenceLogTest, AForgedInsertedRecordIsFound) {
  Fill();
  // Make room after record 6 and put a forged record there, numbered and hashed correctly.
  Exec(
      "UPDATE evidence_records SET seq = seq + 1000 WHERE seq > 6;"
      "UPDATE evidence_records SET seq = seq - 999 WHERE seq > 1000;");
  std::string forged = CanonicalRecord(7, Step(99, "response"));
  auto prev = db_->Prepare("SELECT chain FROM evidence_records WHERE seq = 6");
  ASSERT_TRUE(prev.ok() && *prev->Step());
  auto chain = HexDecode(prev->ColumnText(0)).value();
  Hash h = crypto::Sha256(forged);
  chain.append(reinterpret_cast<const char*>(h.data()), 32);
  auto ins = db_->Prepare(
      "INSERT INTO evidence_records(seq, request_id, record, record_hash, chain)"
      " VALUES(7, 'req24', ?, ?, ?)");
  ASSERT_TRUE(ins.ok());
  ASSERT_TRUE(ins->Bind(1, forged).ok());
  ASSERT_TRUE(ins->Bind(2, HexEncode(std::span<const uint8_t>(h))).ok());
  ASSERT_TRUE(ins->Bind(3, HexEncode(std::span<const uint8_t>(crypto::Sha256(chain)))).ok());
  ASSERT_TRUE(ins->Run().ok());
  VerifyReport r = Check();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_seq, 8) << r.problem << ": the record after the forged one";
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

}  // namespace
}  // namespace govesb::evidence
