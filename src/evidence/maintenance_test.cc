#include "evidence/maintenance.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <memory>

#include "evidence/records.h"
#include "evidence/test_log_fixture.h"

namespace govesb::evidence {
namespace {

// While alive, this process can open no more files (as when the bus holds as many connections
// as its file-descriptor limit allows): RLIMIT_NOFILE is lowered to the lowest free descriptor,
// so that the next open fails with EMFILE. Restored on destruction. Process-wide: tests only.
// UBSan's vptr check reads the process's memory map the first time it meets a type, which it
// cannot do without a descriptor: under the sanitizers such a test reports false errors from
// any virtual call (spdlog's, ours), so it is skipped there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GOVESB_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS() \
  GTEST_SKIP() << "needs virtual calls while out of file descriptors (UBSan's vptr check)"
#else
#define GOVESB_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS() (void)0
#endif

class NoMoreFiles {
 public:
  NoMoreFiles() {
    GOVESB_CHECK(::getrlimit(RLIMIT_NOFILE, &before_) == 0);
    const int lowest_free = ::fcntl(0, F_DUPFD_CLOEXEC, 0);
    GOVESB_CHECK(lowest_free >= 0);
    ::close(lowest_free);
    rlimit limited = before_;
    limited.rlim_cur = static_cast<rlim_t>(lowest_free);
    GOVESB_CHECK(::setrlimit(RLIMIT_NOFILE, &limited) == 0);
    GOVESB_CHECK(::fcntl(0, F_DUPFD_CLOEXEC, 0) < 0 && errno == EMFILE);
  }
  ~NoMoreFiles() { GOVESB_CHECK(::setrlimit(RLIMIT_NOFILE, &before_) == 0); }
  NoMoreFiles(const NoMoreFiles&) = delete;
  NoMoreFiles& operator=(const NoMoreFiles&) = delete;

 private:
  rlimit before_{};
};

// The warnings the default logger writes while alive.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
    before_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(before_); }
  std::vector<std::string> Lines() { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> before_;
};

class EvidenceMaintenanceTest : public EvidenceLogFixture {
 protected:
  void SetUp() override {
    Open(crypto::Curve::kP256);
    OpenStore();  // the store's connections open, their files too (as in the bus)
    ASSERT_TRUE(Exchange("a").ok());
    ASSERT_TRUE(store_->Checkpoints().ok());
  }

  Status Exchange(const std::string& request_id) {
    std::vector<Record> steps;
    for (const char* kind : {"request", "response"}) {
      Record r;
      r.at_ms = clock_.NowMillis();
      r.request_id = request_id;
      r.kind = kind;
      r.from = "a";
      r.to = "b";
      r.outcome = "ok";
      steps.push_back(r);
    }
    return AppendRecords(std::move(steps));
  }

  size_t Checkpoints() { return ListCheckpoints(*db_).value().size(); }

  SimulatedClock clock_;
};

TEST_F(EvidenceMaintenanceTest, ASegmentThatCannotBeOpenedIsNotReportedAsDamage) {
  GOVESB_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS();
  Status sealed = Status::Ok();
  {
    NoMoreFiles limit;
    sealed = store_->Seal(clock_.NowMillis());
  }
  EXPECT_EQ(sealed.code(), StatusCode::kUnavailable) << sealed.message();
  EXPECT_NE(sealed.message().find("cannot open the evidence"), std::string::npos)
      << sealed.message();
  EXPECT_NE(sealed.message().find("Too many open files"), std::string::npos) << sealed.message();
  EXPECT_EQ(sealed.message().find("damaged"), std::string::npos) << sealed.message();
  EXPECT_EQ(Checkpoints(), 0u);
  // The same call, with files to spare again, seals.
  ASSERT_TRUE(store_->Seal(clock_.NowMillis()).ok());
  EXPECT_EQ(Checkpoints(), 1u);
  auto report = Verify(*db_, signer_->public_key());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
}

TEST_F(EvidenceMaintenanceTest, FileFailuresBackOffAreLoggedOnceAndPass) {
  GOVESB_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS();
  EvidenceMaintenance::Options o;
  o.interval_ms = 1000;
  o.max_backoff_ms = 3000;
  EvidenceMaintenance upkeep(*store_, clock_, o);
  LogCapture log;
  {
    NoMoreFiles limit;
    for (int round = 1; round <= 4; ++round) {
      const int64_t now = clock_.NowMillis();
      Status s = upkeep.RunRound();
      EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.message();
      EXPECT_EQ(upkeep.file_failures(), round);
      // The interval, then twice, then four times it, at most max_backoff_ms.
      const int64_t wait = std::min<int64_t>(1000 << (round - 1), 3000);
      EXPECT_EQ(upkeep.next_round_ms(), now + wait) << round;
      // Before then, nothing is tried.
      clock_.Advance(std::chrono::milliseconds(wait - 1));
      EXPECT_TRUE(upkeep.RunRound().ok());
      EXPECT_EQ(upkeep.file_failures(), round);
      clock_.Advance(std::chrono::milliseconds(1));
    }
  }
  EXPECT_EQ(Checkpoints(), 0u);
  ASSERT_TRUE(upkeep.RunRound().ok());
  EXPECT_EQ(Checkpoints(), 1u) << "the first round with files to spare seals";
  EXPECT_EQ(upkeep.file_failures(), 0);
  EXPECT_EQ(upkeep.next_round_ms(), 0);
  // Indexed too: the exchange is found through the index.
  auto found = FindLiveExchange(*db_, "a", this->log().durable_seq());
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 1u);

  int warnings = 0;
  int recovered = 0;
  for (const std::string& line : log.Lines()) {
    EXPECT_EQ(line.find("is damaged"), std::string::npos) << line;
    if (line.find("[warning]") != std::string::npos) {
      ++warnings;
      EXPECT_NE(line.find("Too many open files"), std::string::npos) << line;
      EXPECT_NE(line.find("not damaged"), std::string::npos) << line;
    }
    if (line.find("work again after 4 failed round(s)") != std::string::npos) ++recovered;
  }
  EXPECT_EQ(warnings, 1) << "once for the kind, not once per round";
  EXPECT_EQ(recovered, 1);
}

TEST_F(EvidenceMaintenanceTest, IndexingBetweenRoundsCoversCommittedRecordsWithoutSealing) {
  EvidenceMaintenance upkeep(*store_, clock_, {});
  ASSERT_TRUE(Exchange("b").ok());
  ASSERT_TRUE(upkeep.RunIndexing().ok());
  EXPECT_EQ(Checkpoints(), 0u) << "indexing only";
  auto state = db_->Prepare(
      "SELECT (SELECT indexed_through FROM evidence_index_state),"
      " (SELECT indexed_through FROM evidence_search_state),"
      " (SELECT count(*) FROM evidence_index WHERE request_id = 'b')");
  ASSERT_TRUE(state.ok() && *state->Step());
  EXPECT_EQ(state->ColumnInt64(0), 4) << "both exchanges' records";
  EXPECT_EQ(state->ColumnInt64(1), 4);
  EXPECT_EQ(state->ColumnInt64(2), 1);
  ASSERT_TRUE(state->Reset().ok());  // its snapshot ends
  // A round after it seals them; the index is not made twice.
  ASSERT_TRUE(upkeep.RunRound().ok());
  EXPECT_EQ(Checkpoints(), 1u);
  auto rows = db_->Prepare("SELECT count(*) FROM evidence_index");
  ASSERT_TRUE(rows.ok() && *rows->Step());
  EXPECT_EQ(rows->ColumnInt64(0), 2);
}

TEST_F(EvidenceMaintenanceTest, IndexingThatCannotOpenAFileBacksOff) {
  GOVESB_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS();
  EvidenceMaintenance::Options o;
  o.interval_ms = 1000;
  EvidenceMaintenance upkeep(*store_, clock_, o);
  LogCapture log;
  Status indexed = Status::Ok();
  {
    NoMoreFiles limit;
    indexed = upkeep.RunIndexing();
  }
  EXPECT_EQ(indexed.code(), StatusCode::kUnavailable) << indexed.message();
  EXPECT_EQ(upkeep.file_failures(), 1);
  EXPECT_EQ(upkeep.next_round_ms(), clock_.NowMillis() + 1000);
  EXPECT_TRUE(upkeep.RunIndexing().ok()) << "waits";
  EXPECT_TRUE(FindLiveExchange(*db_, "a", this->log().durable_seq()).ok());
  auto state = db_->Prepare("SELECT indexed_through FROM evidence_search_state");
  ASSERT_TRUE(state.ok() && *state->Step());
  EXPECT_EQ(state->ColumnInt64(0), 0) << "nothing tried while backing off";
  clock_.Advance(std::chrono::milliseconds(1000));
  ASSERT_TRUE(upkeep.RunIndexing().ok());
  EXPECT_EQ(upkeep.file_failures(), 0);
  ASSERT_TRUE(state->Reset().ok());
  ASSERT_TRUE(*state->Step());
  EXPECT_EQ(state->ColumnInt64(0), 2);
  int warnings = 0;
  for (const std::string& line : log.Lines()) {
    EXPECT_EQ(line.find("is damaged"), std::string::npos) << line;
    if (line.find("[warning]") != std::string::npos) ++warnings;
  }
  EXPECT_EQ(warnings, 1);
}

TEST_F(EvidenceMaintenanceTest, DamageIsStillDamage) {
  // A segment file whose first line was changed: damage, reported as such every round, no
  // back-off.
  auto files = ListSegments(SegmentDir()).value();
  ASSERT_FALSE(files.empty());
  {
    const int fd = ::open(files[0].path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "X", 1, 0), 1);
    ::close(fd);
  }
  EvidenceMaintenance upkeep(*store_, clock_, {});
  Status s = upkeep.RunRound();
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.message();
  EXPECT_NE(s.message().find("damaged"), std::string::npos) << s.message();
  EXPECT_EQ(upkeep.next_round_ms(), 0);
  EXPECT_EQ(upkeep.file_failures(), 0);
}

}  // namespace
}  // namespace govesb::evidence
