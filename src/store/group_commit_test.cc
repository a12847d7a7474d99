#include "store/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/temp_dir.h"
#include "postgres/test_server.h"

namespace govesb::store {
namespace {

constexpr std::string_view kInsert = "INSERT INTO items(value) VALUES(?)";

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/t.db";
    auto db = Database::Open(path_);
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Exec("CREATE TABLE items(id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);"
                          "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
                          "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER"
                          " REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);")
                    .ok());
  }

  int64_t Count(std::string_view table) {
    auto stmt = db_->Prepare("SELECT count(*) FROM " + std::string(table));
    EXPECT_TRUE(stmt.ok());
    EXPECT_TRUE(*stmt->Step());
    return stmt->ColumnInt64(0);
  }

  static GroupCommitWriter::Job Insert(std::string value) {
    return [value = std::move(value)](WriteContext& ctx) -> Status {
      GOVESB_ASSIGN_OR_RETURN(Statement * s, ctx.Prepared(kInsert));
      GOVESB_RETURN_IF_ERROR(s->Bind(1, value));
      return s->Run();
    };
  }

  // Submits an insert of `value`; the future holds its outcome.
  static std::future<Status> SubmitInsert(GroupCommitWriter& writer, std::string value) {
    auto done = std::make_shared<std::promise<Status>>();
    auto f = done->get_future();
    writer.Submit(Insert(std::move(value)), [done](const Status& s) { done->set_value(s); });
    return f;
  }

  // Holds the writer's thread in a job (a batch of its own) until the returned promise is set,
  // so that the jobs submitted meanwhile land together in the next batch. Returns once the
  // writer is inside the job: had it not taken the job yet, the jobs submitted next could join
  // the job's batch or not, depending on the threads' timing (under ThreadSanitizer they did not).
  static std::promise<void> Hold(GroupCommitWriter& writer) {
    std::promise<void> go;
    auto entered = std::make_shared<std::promise<void>>();
    std::future<void> inside = entered->get_future();
    writer.Submit(
        [gate = go.get_future().share(), entered](WriteContext&) {
          entered->set_value();
          gate.wait();
          return Status::Ok();
        },
        nullptr);
    inside.wait();
    return go;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(GroupCommitTest, ManyConcurrentWritersShareCommits) {
  auto writer = GroupCommitWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::promise<Status> done;
        auto f = done.get_future();
        (*writer)->Submit(Insert(std::to_string(t) + "-" + std::to_string(i)),
                          [&done](const Status& s) { done.set_value(s); });
        // Done means durable: the row is visible to another connection right away.
        if (f.get().ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(Count("items"), kThreads * kPerThread);
  auto stats = (*writer)->stats();
  EXPECT_EQ(stats.jobs, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LT(stats.commits, stats.jobs) << "concurrent writers should share commits";
}

TEST_F(GroupCommitTest, MaxBatchOneCommitsEachJobAlone) {
  GroupCommitOptions options;
  options.max_batch = 1;
  auto writer = GroupCommitWriter::Open(path_, options);
  ASSERT_TRUE(writer.ok());
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    (*writer)->Submit(Insert(std::to_string(i)), [&](const Status& s) {
      EXPECT_TRUE(s.ok());
      done.fetch_add(1);
    });
  }
  (*writer)->Stop();
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ((*writer)->stats().commits, 50u);
}

// Commits one job at a time, each a row with a 4 KB value (a few pages of the WAL).
void WriteBigRows(GroupCommitWriter& writer, int rows) {
  for (int i = 0; i < rows; ++i) {
    std::promise<Status> done;
    auto f = done.get_future();
    std::string value(4000, static_cast<char>('a' + i % 26));
    value += std::to_string(i);
    writer.Submit(
        [value = std::move(value)](WriteContext& ctx) -> Status {
          GOVESB_ASSIGN_OR_RETURN(Statement * s, ctx.Prepared(kInsert));
          GOVESB_RETURN_IF_ERROR(s->Bind(1, value));
          return s->Run();
        },
        [&done](const Status& s) { done.set_value(s); });
    ASSERT_TRUE(f.get().ok());
  }
}

uintmax_t FileSize(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

TEST_F(GroupCommitTest, TheWriteAheadLogIsCheckpointedOnAThreadOfItsOwnAndStaysSmall) {
  GroupCommitOptions options;
  options.wal_checkpoint_pages = 16;
  auto writer = GroupCommitWriter::Open(path_, options);
  ASSERT_TRUE(writer.ok());
  // About 2.4 MB of pages in 200 commits: without checkpoints until 1000 pages (SQLite's own)
  // the WAL would hold them all.
  WriteBigRows(**writer, 200);
  const uint64_t made = (*writer)->stats().wal_checkpoints;
  EXPECT_GE(made, 1u) << "the checkpoint thread made none";
  // Checkpointed as it went, the WAL was started over from its beginning again and again.
  EXPECT_LT(FileSize(path_ + "-wal"), uintmax_t{1} << 20);
  (*writer)->Stop();
  EXPECT_EQ(Count("items"), 200);
  // What the thread copied is in the database file, readable by a connection opened after.
  auto reader = Database::Open(path_);
  ASSERT_TRUE(reader.ok());
  auto rows = (*reader)->Prepare("SELECT count(*), sum(length(value)) FROM items");
  ASSERT_TRUE(rows.ok());
  ASSERT_TRUE(*rows->Step());
  EXPECT_EQ(rows->ColumnInt64(0), 200);
  EXPECT_GT(rows->ColumnInt64(1), 200 * 4000);
}

TEST_F(GroupCommitTest, WithoutACheckpointThreadSqliteCheckpointsOnTheWriterAt1000Pages) {
  GroupCommitOptions options;
  options.wal_checkpoint_pages = 0;
  auto writer = GroupCommitWriter::Open(path_, options);
  ASSERT_TRUE(writer.ok());
  // About 500 pages: under SQLite's 1000, nothing is copied, and the WAL holds every commit.
  WriteBigRows(**writer, 100);
  EXPECT_EQ((*writer)->stats().wal_checkpoints, 0u);
  EXPECT_GT(FileSize(path_ + "-wal"), uintmax_t{1} << 20);
  (*writer)->Stop();
  EXPECT_EQ(Count("items"), 100);
}

// The interval applies only while the process is busy (GroupCommitOptions::load).
TEST_F(GroupCommitTest, OnlyABusyProcessMakesCommitsWaitForTheInterval) {
  std::atomic<double> load{0.1};
  GroupCommitOptions options;
  options.min_commit_interval_us = 300'000;  // long, so that the test does not race it
  options.load = [&load] { return load.load(); };
  options.pace_above_load = 0.6;
  auto writer = GroupCommitWriter::Open(path_, options);
  ASSERT_TRUE(writer.ok());
  auto commit = [&](std::string value) {
    std::promise<Status> done;
    auto f = done.get_future();
    (*writer)->Submit(Insert(std::move(value)), [&done](const Status& s) { done.set_value(s); });
    return f.get();
  };
  // Idle: each job, right after the last commit, is committed at once.
  const auto before = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(commit("idle" + std::to_string(i)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(250));
  EXPECT_EQ((*writer)->stats().commits, 3u);
  EXPECT_EQ((*writer)->stats().delayed_commits, 0u);
  // Busy: the next one waits for the interval.
  load = 0.9;
  const auto busy = std::chrono::steady_clock::now();
  ASSERT_TRUE(commit("busy").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - busy, std::chrono::milliseconds(200));
  EXPECT_EQ((*writer)->stats().delayed_commits, 1u);
  (*writer)->Stop();
  EXPECT_EQ(Count("items"), 4);
}

// The writer thread of this process, as the kernel sees it: its scheduling state (R, S, ...)
// and how often it has gone to sleep. Nullopt unless exactly one thread is named so.
struct WriterThread {
  char state = '?';
  uint64_t sleeps = 0;  // voluntary context switches
};
std::optional<WriterThread> FindWriterThread() {
  std::optional<WriterThread> found;
  int named = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "govesb-writer") continue;
    ++named;
    WriterThread t;
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("State:", 0) == 0) {
        const size_t at = line.find_first_not_of(" \t", 6);
        if (at != std::string::npos) t.state = line[at];
      } else if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        t.sleeps = std::stoull(line.substr(24));
      }
    }
    found = t;
  }
  if (named != 1) return std::nullopt;
  return found;
}

// Waits (up to 5 s) until the writer thread sleeps, and returns what it was then.
std::optional<WriterThread> WhenWriterSleeps() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    auto t = FindWriterThread();
    if (!t) return std::nullopt;
    if (t->state == 'S') return t;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::nullopt;
}

// In a busy process, right after a commit, the writer sleeps until the interval is over and
// is not woken by the jobs arriving meanwhile: it would only go back to sleep (a wake-up and a
// context switch per commit, on a core busy with the exchanges).
TEST_F(GroupCommitTest, APacingWriterIsNotWokenByTheJobsItWaitsFor) {
  GroupCommitOptions options;
  options.synchronous = Synchronous::kOff;  // no sync: the writer sleeps only when it waits
  options.wal_checkpoint_pages = 0;
  options.min_commit_interval_us = 400'000;  // long, so that the test does not race it
  options.load = [] { return 0.9; };
  auto writer = GroupCommitWriter::Open(path_, options);
  ASSERT_TRUE(writer.ok());
  auto submit = [&](std::string value) { return SubmitInsert(**writer, std::move(value)); };
  // The first job commits at once; then the writer paces.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(submit("first").get().ok());
  auto before = WhenWriterSleeps();
  ASSERT_TRUE(before.has_value());
  std::vector<std::future<Status>> jobs;
  for (const char* value : {"a", "b", "c"}) {
    jobs.push_back(submit(value));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& job : jobs) EXPECT_TRUE(job.get().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(350));
  auto after = WhenWriterSleeps();
  ASSERT_TRUE(after.has_value());
  // One sleep: the pacing after the second commit. Woken by "a", the writer would have slept
  // twice (once more until the interval's end).
  EXPECT_EQ(after->sleeps - before->sleeps, 1u);
  auto stats = (*writer)->stats();
  EXPECT_EQ(stats.commits, 2u);
  EXPECT_EQ(stats.delayed_commits, 1u);
  (*writer)->Stop();
  EXPECT_EQ(Count("items"), 4);
}

TEST_F(GroupCommitTest, JobsArrivingSoonAfterACommitShareTheNext) {
  GroupCommitOptions options;
  options.min_commit_interval_us = 300'000;  // long, so that the test does not race it
  auto writer = GroupCommitWriter::Open(path_, options);
  ASSERT_TRUE(writer.ok());
  auto submit = [&](std::string value) { return SubmitInsert(**writer, std::move(value)); };
  // Idle: the first job is committed at once, alone.
  ASSERT_TRUE(submit("first").get().ok());
  EXPECT_EQ((*writer)->stats().commits, 1u);
  EXPECT_EQ((*writer)->stats().delayed_commits, 0u);
  // Right after a commit: the next job waits for the interval, and the jobs arriving
  // meanwhile join its commit.
  auto a = submit("a");
  auto b = submit("b");
  auto c = submit("c");
  EXPECT_TRUE(a.get().ok());
  EXPECT_TRUE(b.get().ok());
  EXPECT_TRUE(c.get().ok());
  auto stats = (*writer)->stats();
  EXPECT_EQ(stats.commits, 2u);
  EXPECT_EQ(stats.delayed_commits, 1u);
  EXPECT_EQ(Count("items"), 4);
  // Stopping does not wait for the interval.
  auto last = submit("last");
  const auto before = std::chrono::steady_clock::now();
  (*writer)->Stop();
  EXPECT_TRUE(last.get().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(250));
  EXPECT_EQ(Count("items"), 5);
}

TEST_F(GroupCommitTest, AFailingJobIsRolledBackAloneAndReported) {
  auto writer = GroupCommitWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  std::vector<Status> results(3);
  (*writer)->Submit(Insert("a"), [&](const Status& s) { results[0] = s; });
  // Writes a row, then fails: its row must not survive.
  (*writer)->Submit(
      [](WriteContext& ctx) -> Status {
        GOVESB_ASSIGN_OR_RETURN(Statement * s, ctx.Prepared(kInsert));
        GOVESB_RETURN_IF_ERROR(s->Bind(1, "half"));
        GOVESB_RETURN_IF_ERROR(s->Run());
        return FailedPrecondition("changed my mind");
      },
      [&](const Status& s) { results[1] = s; });
  (*writer)->Submit(Insert("a"), [&](const Status& s) { results[2] = s; });  // duplicate
  (*writer)->Stop();
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(results[2].ok());
  EXPECT_EQ(Count("items"), 1);
}

TEST_F(GroupCommitTest, AFailedCommitFailsEveryJobOfTheBatch) {
  auto writer = GroupCommitWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  std::vector<Status> results(2);
  // Hold the writer so that both jobs below land in one batch.
  std::promise<void> go = Hold(**writer);
  (*writer)->Submit(Insert("fine"), [&](const Status& s) { results[0] = s; });
  // A deferred foreign key violation passes the statement and fails the COMMIT.
  (*writer)->Submit(
      [](WriteContext& ctx) { return ctx.db().Exec("INSERT INTO child(parent_id) VALUES(42)"); },
      [&](const Status& s) { results[1] = s; });
  go.set_value();
  (*writer)->Stop();
  EXPECT_EQ(results[0].code(), StatusCode::kUnavailable) << results[0].message();
  EXPECT_EQ(results[1].code(), StatusCode::kUnavailable);
  EXPECT_EQ(Count("items"), 0) << "nothing of a failed batch may be reported or kept";
  EXPECT_GE((*writer)->stats().failed_commits, 1u);
}

// A participant keeping its writes in memory, as a file would: `durable` is what it flushed.
class ListParticipant : public CommitParticipant {
 public:
  explicit ListParticipant(std::function<int64_t()> committed_rows)
      : committed_rows_(std::move(committed_rows)) {}
  void BeginBatch(bool with_database) override { batches_with_database.push_back(with_database); }
  Status BeforeCommit(WriteContext& ctx) override {
    return ctx.db().Exec("INSERT INTO items(value) VALUES('participant-" +
                         std::to_string(before_commits++) + "')");
  }
  uint64_t Mark() override { return pending.size(); }
  void RollbackTo(uint64_t mark) override { pending.resize(mark); }
  Status Flush() override {
    rows_seen_at_flush = committed_rows_();
    if (fail_flush) return Internal("disk full");
    flushed = pending;
    return Status::Ok();
  }
  void Committed() override {
    durable.insert(durable.end(), flushed.begin(), flushed.end());
    pending.clear();
    flushed.clear();
  }
  void Abandon() override {
    ++abandoned;
    pending.clear();
    flushed.clear();
  }

  std::vector<std::string> pending, flushed, durable;
  std::vector<bool> batches_with_database;
  std::atomic<bool> fail_flush{false};  // set by the test while the writer's probes run
  int abandoned = 0;
  int before_commits = 0;  // also numbers the participant's rows
  int64_t rows_seen_at_flush = -1;

 private:
  std::function<int64_t()> committed_rows_;
};

GroupCommitWriter::Job InsertBoth(std::string value, bool fail = false) {
  return [value = std::move(value), fail](WriteContext& ctx) -> Status {
    static_cast<ListParticipant*>(ctx.participant())->pending.push_back(value);
    GOVESB_ASSIGN_OR_RETURN(Statement * s, ctx.Prepared(kInsert));
    GOVESB_RETURN_IF_ERROR(s->Bind(1, value));
    GOVESB_RETURN_IF_ERROR(s->Run());
    return fail ? FailedPrecondition("changed my mind") : Status::Ok();
  };
}

TEST_F(GroupCommitTest, AParticipantFlushesBeforeTheCommitAndUndoesAFailedJob) {
  auto writer = GroupCommitWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  ListParticipant p([this] { return Count("items"); });
  (*writer)->SetParticipant(&p);
  std::promise<void> go = Hold(**writer);
  std::vector<Status> results(3);
  (*writer)->Submit(InsertBoth("a"), [&](const Status& s) { results[0] = s; });
  (*writer)->Submit(InsertBoth("b", /*fail=*/true), [&](const Status& s) { results[1] = s; });
  (*writer)->Submit(InsertBoth("c"), [&](const Status& s) { results[2] = s; });
  go.set_value();
  (*writer)->Stop();
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(p.durable, (std::vector<std::string>{"a", "c"})) << "the failed job's write is undone";
  // The holding job's batch committed first, with the participant's row of that batch.
  EXPECT_EQ(p.rows_seen_at_flush, 1) << "flushed before the database committed the jobs";
  EXPECT_EQ(Count("items"), 4)
      << "the holding batch's participant row, then the jobs' two and the participant's";
  EXPECT_EQ(p.batches_with_database, (std::vector<bool>{true, true}));
  EXPECT_EQ(p.abandoned, 0);
}

TEST_F(GroupCommitTest, AFailedFlushRollsTheBatchBack) {
  auto writer = GroupCommitWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  ListParticipant p([] { return 0; });
  p.fail_flush = true;
  (*writer)->SetParticipant(&p);
  std::promise<Status> result;
  (*writer)->Submit(InsertBoth("a"), [&](const Status& s) { result.set_value(s); });
  EXPECT_EQ(result.get_future().get().code(), StatusCode::kUnavailable);
  (*writer)->SetParticipant(nullptr);
  (*writer)->Stop();
  EXPECT_EQ(Count("items"), 0) << "the database's part is rolled back too";
  EXPECT_TRUE(p.durable.empty());
  EXPECT_EQ(p.abandoned, 1);
}

// Readiness: health() says where the last batch failed, and the writer's own probes (empty
// batches while nothing else comes) find out when writing works again, with no job needed.
TEST_F(GroupCommitTest, HealthSaysWhereTheLastBatchFailedUntilAProbeCommits) {
  GroupCommitOptions options;
  options.probe_interval = std::chrono::milliseconds(20);
  auto writer = GroupCommitWriter::Open(path_, options);
  ASSERT_TRUE(writer.ok());
  auto eventually = [](auto pred) {
    for (int i = 0; i < 1000 && !pred(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  };
  using Failure = GroupCommitWriter::Failure;
  EXPECT_TRUE((*writer)->health().running);
  EXPECT_EQ((*writer)->health().last_batch, Failure::kNone);
  ListParticipant p([] { return 0; });
  p.fail_flush = true;
  (*writer)->SetParticipant(&p);
  std::promise<Status> result;
  (*writer)->Submit(InsertBoth("a"), [&](const Status& s) { result.set_value(s); });
  EXPECT_FALSE(result.get_future().get().ok());
  EXPECT_EQ((*writer)->health().last_batch, Failure::kParticipant);
  const uint64_t commits = (*writer)->stats().commits;
  ASSERT_TRUE(eventually([&] { return (*writer)->stats().probes >= 2; }));
  EXPECT_EQ((*writer)->health().last_batch, Failure::kParticipant) << "the probes fail too";
  p.fail_flush = false;
  ASSERT_TRUE(eventually([&] { return (*writer)->health().last_batch == Failure::kNone; }));
  const uint64_t probes = (*writer)->stats().probes;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ((*writer)->stats().probes, probes) << "no probes while healthy";
  EXPECT_EQ((*writer)->stats().commits, commits) << "probes are not counted as commits";
  (*writer)->SetParticipant(nullptr);

  // A failed database commit, then a probe that commits.
  std::promise<Status> failed;
  (*writer)->Submit(
      [](WriteContext& ctx) { return ctx.db().Exec("INSERT INTO child(parent_id) VALUES(42)"); },
      [&](const Status& s) { failed.set_value(s); });
  EXPECT_FALSE(failed.get_future().get().ok());
  EXPECT_EQ((*writer)->health().last_batch, Failure::kDatabase);
  ASSERT_TRUE(eventually([&] { return (*writer)->health().last_batch == Failure::kNone; }));
  (*writer)->Stop();
  EXPECT_FALSE((*writer)->health().running);
  EXPECT_EQ(Count("child"), 0);
}

TEST_F(GroupCommitTest, AFailedCommitAbandonsWhatTheParticipantFlushed) {
  auto writer = GroupCommitWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  ListParticipant p([] { return 0; });
  (*writer)->SetParticipant(&p);
  std::promise<Status> result;
  (*writer)->Submit(
      [](WriteContext& ctx) {
        static_cast<ListParticipant*>(ctx.participant())->pending.push_back("orphan");
        return ctx.db().Exec("INSERT INTO child(parent_id) VALUES(42)");
      },
      [&](const Status& s) { result.set_value(s); });
  EXPECT_EQ(result.get_future().get().code(), StatusCode::kUnavailable);
  (*writer)->Stop();
  EXPECT_TRUE(p.durable.empty());
  EXPECT_EQ(p.abandoned, 1);
}

TEST_F(GroupCommitTest, ABatchThatOnlyWritesTheParticipantOpensNoTransaction) {
  GroupCommitOptions o;
  o.busy_timeout_ms = 50;
  auto writer = GroupCommitWriter::Open(path_, o);
  ASSERT_TRUE(writer.ok());
  ListParticipant p([] { return 0; });
  (*writer)->SetParticipant(&p);
  // Another connection holds the database's write lock: a database job cannot commit, but a
  // batch of participant-only jobs needs no transaction and still commits.
  auto lock = Transaction::Begin(*db_, TransactionMode::kImmediate);
  ASSERT_TRUE(lock.ok());
  auto submit = [&](std::string value, GroupCommitWriter::Writes writes) {
    auto done = std::make_shared<std::promise<Status>>();
    auto f = done->get_future();
    (*writer)->Submit(
        [value](WriteContext& ctx) {
          static_cast<ListParticipant*>(ctx.participant())->pending.push_back(value);
          return Status::Ok();
        },
        [done](const Status& s) { done->set_value(s); }, writes);
    return f;
  };
  EXPECT_TRUE(submit("evidence", GroupCommitWriter::Writes::kParticipantOnly).get().ok());
  EXPECT_EQ(submit("row", GroupCommitWriter::Writes::kDatabase).get().code(),
            StatusCode::kUnavailable);
  (*writer)->SetParticipant(nullptr);
  (*writer)->Stop();
  EXPECT_EQ(p.durable, (std::vector<std::string>{"evidence"}));
  EXPECT_EQ(p.abandoned, 1);
  EXPECT_EQ(p.batches_with_database, (std::vector<bool>{false, true}));
  lock->Rollback();
  EXPECT_EQ(Count("items"), 0) << "no BeforeCommit for a batch without the database";
}

// The writer connection's synchronous setting as a job sees it (2: FULL, 1: NORMAL).
GroupCommitWriter::Job InsertSeeingSynchronous(std::string value, int64_t& seen) {
  return [value = std::move(value), &seen](WriteContext& ctx) -> Status {
    GOVESB_ASSIGN_OR_RETURN(Statement read, ctx.db().Prepare("PRAGMA synchronous"));
    GOVESB_ASSIGN_OR_RETURN(bool row, read.Step());
    if (!row) return Internal("no value");
    seen = read.ColumnInt64(0);
    GOVESB_ASSIGN_OR_RETURN(Statement * s, ctx.Prepared(kInsert));
    GOVESB_RETURN_IF_ERROR(s->Bind(1, value));
    return s->Run();
  };
}

TEST_F(GroupCommitTest, RebuildableJobsCommitInBatchesOfTheirOwnWithoutWaitingForTheDisk) {
  auto writer = GroupCommitWriter::Open(path_);  // synchronous FULL
  ASSERT_TRUE(writer.ok());
  ListParticipant p([] { return 0; });
  (*writer)->SetParticipant(&p);
  using Writes = GroupCommitWriter::Writes;
  std::promise<void> go = Hold(**writer);
  std::vector<Status> results(4, Internal("not done"));
  int64_t first_seen = -1, second_seen = -1, after_seen = -1;
  (*writer)->Submit(
      [](WriteContext& ctx) {
        static_cast<ListParticipant*>(ctx.participant())->pending.push_back("evidence");
        return Status::Ok();
      },
      [&](const Status& s) { results[0] = s; }, Writes::kParticipantOnly);
  (*writer)->Submit(
      InsertSeeingSynchronous("index-1", first_seen), [&](const Status& s) { results[1] = s; },
      Writes::kRebuildable);
  (*writer)->Submit(
      InsertSeeingSynchronous("index-2", second_seen), [&](const Status& s) { results[2] = s; },
      Writes::kRebuildable);
  (*writer)->Submit(
      InsertSeeingSynchronous("row", after_seen), [&](const Status& s) { results[3] = s; },
      Writes::kDatabase);
  go.set_value();
  (*writer)->Stop();  // every job done (the participant stays set until then)
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(first_seen, 1) << "a rebuildable batch commits with synchronous=NORMAL";
  EXPECT_EQ(second_seen, 1);
  EXPECT_EQ(after_seen, 2) << "the next database batch has the connection's own setting back";
  // The holding batch, the participant-only job, the two rebuildable jobs, the database job.
  EXPECT_EQ(p.batches_with_database, (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(p.durable, (std::vector<std::string>{"evidence"}));
  EXPECT_EQ((*writer)->stats().commits, 4u) << "the two rebuildable jobs share one batch";
  EXPECT_EQ(Count("items"), 6) << "three jobs' rows and the participant's rows of three batches";
}

TEST_F(GroupCommitTest, SubmitAfterStopFailsAtOnce) {
  auto writer = GroupCommitWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  (*writer)->Stop();
  Status result;
  (*writer)->Submit(Insert("late"), [&](const Status& s) { result = s; });
  EXPECT_EQ(result.code(), StatusCode::kUnavailable);
  EXPECT_EQ(Count("items"), 0);
}

// ---- on PostgreSQL (Start over a connection the caller opened) ----

class GroupCommitOnPostgres : public GroupCommitTest {
 protected:
  void SetUp() override {
    conninfo_ = postgres::testing::FreshDatabase();
    ASSERT_FALSE(conninfo_.empty());
    reader_ = Database::OpenPostgres(conninfo_).value();
    ASSERT_TRUE(reader_
                    ->Exec("CREATE TABLE items(id BIGINT GENERATED ALWAYS AS IDENTITY,"
                           " value TEXT NOT NULL UNIQUE)")
                    .ok());
    auto writer = GroupCommitWriter::Start(Database::OpenPostgres(conninfo_).value());
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    writer_ = std::move(writer).value();
  }
  std::vector<std::string> Values() {
    auto stmt = reader_->Prepare("SELECT value FROM items ORDER BY value");
    std::vector<std::string> out;
    while (*stmt->Step()) out.push_back(stmt->ColumnText(0));
    return out;
  }

  std::string conninfo_;
  std::unique_ptr<Database> reader_;
  std::unique_ptr<GroupCommitWriter> writer_;
};

TEST_F(GroupCommitOnPostgres, AFailedJobIsRolledBackAloneAndTheRestOfTheBatchCommits) {
  std::promise<void> go = Hold(*writer_);
  std::vector<Status> results(6);
  auto record = [&](size_t i) { return [&results, i](const Status& s) { results[i] = s; }; };
  writer_->Submit(Insert("a"), record(0));
  // A failed statement aborts a PostgreSQL transaction: only its savepoint's rollback saves
  // the batch.
  writer_->Submit(Insert("a"), record(1));
  writer_->Submit(
      [](WriteContext& ctx) -> Status {
        GOVESB_ASSIGN_OR_RETURN(Statement * s, ctx.Prepared(kInsert));
        GOVESB_RETURN_IF_ERROR(s->Bind(1, "half"));
        GOVESB_RETURN_IF_ERROR(s->Run());
        return FailedPrecondition("changed my mind");
      },
      record(2));
  // A job that ignores its own failed statement and says Ok is undone too (RELEASE fails).
  writer_->Submit(
      [](WriteContext& ctx) -> Status {
        GOVESB_ASSIGN_OR_RETURN(Statement * s, ctx.Prepared(kInsert));
        GOVESB_RETURN_IF_ERROR(s->Bind(1, "swallowed"));
        GOVESB_RETURN_IF_ERROR(s->Run());
        (void)ctx.db().Exec("SELECT * FROM no_such_table");
        return Status::Ok();
      },
      record(3));
  writer_->Submit(Insert("b"), record(4));
  writer_->Submit([](WriteContext&) { return Status::Ok(); }, record(5),
                  GroupCommitWriter::Writes::kParticipantOnly);
  go.set_value();
  writer_->Stop();
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), StatusCode::kAlreadyExists) << results[1].ToString();
  EXPECT_EQ(results[2].code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(results[3].ok());
  EXPECT_TRUE(results[4].ok()) << results[4].ToString();
  EXPECT_TRUE(results[5].ok()) << results[5].ToString();
  EXPECT_EQ(Values(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(writer_->stats().commits, 2u) << "the held job's batch, then one for the rest";
  EXPECT_EQ(writer_->stats().failed_commits, 0u);
}

TEST_F(GroupCommitOnPostgres, ConcurrentWritersShareCommitsAndDoneMeansVisible) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto own = Database::OpenPostgres(conninfo_).value();
      for (int i = 0; i < kPerThread; ++i) {
        std::promise<Status> done;
        const std::string value = std::to_string(t) + "-" + std::to_string(i);
        writer_->Submit(Insert(value), [&done](const Status& s) { done.set_value(s); });
        if (!done.get_future().get().ok()) continue;
        auto seen = own->Prepare("SELECT count(*) FROM items WHERE value = ?");
        ASSERT_TRUE(seen->Bind(1, value).ok());
        if (*seen->Step() && seen->ColumnInt64(0) == 1) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(Values().size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(GroupCommitStart, RefusesNoConnection) {
  EXPECT_EQ(GroupCommitWriter::Start(nullptr).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace govesb::store
