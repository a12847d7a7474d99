#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "base/result.h"
#include "store/database.h"

namespace govesb::store {

class WriteContext;

// A store outside the database whose writes commit with the writer's batches (the evidence
// log's append-only files): jobs write to it through WriteContext::participant(), and the
// writer makes those writes durable just before the database's COMMIT, so that a batch's
// writes to both are durable, or undone, together. Called on the writer thread only.
class CommitParticipant {
 public:
  virtual ~CommitParticipant() = default;
  // Before a batch's jobs: whether the batch writes the database too (then BeforeCommit comes).
  virtual void BeginBatch(bool with_database) = 0;
  // Before each job: a mark to roll back to when the job fails (as its savepoint is).
  virtual uint64_t Mark() = 0;
  virtual void RollbackTo(uint64_t mark) = 0;
  // Before COMMIT: makes the batch's writes durable. An error rolls the batch back.
  virtual Status Flush() = 0;
  // After Flush, inside the batch's database transaction (batches that write the database
  // only): what the database must remember of the participant's writes, committed with them.
  virtual Status BeforeCommit(WriteContext& ctx) = 0;
  // After COMMIT succeeded: the batch's writes may now be read as done.
  virtual void Committed() = 0;
  // The batch was rolled back (Flush or COMMIT failed): undo its writes, flushed or not.
  virtual void Abandon() = 0;
};

// What a write job sees: the writer's connection, inside the open batch transaction, a cache
// of prepared statements (preparing costs more than running a small INSERT), and the
// participant, if any, that commits with it.
class WriteContext {
 public:
  explicit WriteContext(Database& db) : db_(db) {}
  Database& db() { return db_; }
  // The statement for `sql`, prepared once and reset for reuse. `sql` must be a string with
  // static storage (a literal or constexpr): it is the cache key.
  Result<Statement*> Prepared(std::string_view sql);
  // nullptr when none was set (GroupCommitWriter::SetParticipant).
  CommitParticipant* participant() { return participant_; }

 private:
  friend class GroupCommitWriter;
  Database& db_;
  std::unordered_map<const char*, Statement> cache_;
  CommitParticipant* participant_ = nullptr;
};

// GroupCommitOptions::min_commit_interval_us unless set.
inline constexpr int64_t kDefaultMinCommitIntervalUs = 1000;

struct GroupCommitOptions {
  // Jobs per transaction at most. 1 gives one commit (and one fsync) per job, for comparison.
  size_t max_batch = 2048;
  // kFull: every commit is fsync'd before any job of it is reported done.
  Synchronous synchronous = Synchronous::kFull;
  // The least time between the starts of two commits while the process is busy (`load`). A
  // job that arrives sooner waits for the rest of it, so that the jobs arriving meanwhile share
  // its commit; one that arrives later commits at once, with the jobs that arrived while the
  // previous commit synced (natural batching). So nothing waits while commits are rarer than
  // this, nor once a commit takes longer than this (a large batch under saturation, or a slow
  // disk); in between, a busy process commits at most once per interval, for a commit's CPU
  // (its system calls, the disk's interrupts, the wake-ups) is dear next to an exchange's: on
  // the machine of docs/performance.md ("Commits capped at one a millisecond"), one commit per
  // exchange at half the maximum rate kept the bus's core 88 % busy, and this cap took an
  // eighth of the CPU per exchange and a third of the p99 off, for half a millisecond more at
  // the median. 0: commit as soon as a job is queued. Ignored when max_batch is 1.
  int64_t min_commit_interval_us = kDefaultMinCommitIntervalUs;
  // How busy the process is, as a share of the CPUs it works on (0 to 1: ProcessCpuShare), read
  // on the writer thread when a commit would wait for the interval; it waits only while this is
  // at least `pace_above_load`. An idle process gains nothing from fewer commits and would only
  // make its answers wait. Null: the interval alone decides.
  std::function<double()> load;
  double pace_above_load = 0.6;
  // How long a batch waits for another process's write lock (the admin CLI) before its writes
  // fail (and their requests are refused).
  int busy_timeout_ms = 5000;
  // After a batch failed, while no job comes, an empty batch (a probe: a transaction, and the
  // participant's check that it can write again) is tried this often, so that health() sees
  // the store recover without waiting for traffic. 0: no probes.
  std::chrono::milliseconds probe_interval{1000};
  // SQLite: once the write-ahead log holds this many pages after a commit, a thread of the
  // writer's own copies it into the database file (a passive checkpoint on a connection of its
  // own), so that the writer's commits never wait for that copy and its sync: SQLite's own
  // checkpoint runs on the committing thread and held the writer for 20 ms or more at a time
  // (docs/performance.md). That thread copies while the writer goes on writing, so under
  // steady writes it rarely copies everything: once the WAL holds twice this, the writer makes
  // one itself (the rest to copy, and the WAL then starts over). 0: SQLite's own, on the
  // writer thread.
  int wal_checkpoint_pages = 1000;
};

// The one writer of a database file for durable records (delivery queue, evidence): jobs
// submitted from any thread are run by one writer thread, many to a transaction, so that many
// concurrent requests share one commit and one fsync (group commit). A job's `done` is called
// only after the transaction holding it is durable, or with the error that kept it from being.
//
// Each job runs in its own savepoint: a job that fails is rolled back alone and reported
// alone; the others of the batch still commit. When the savepoint cannot be rolled back, the
// whole batch fails (nothing of it is reported done).
class GroupCommitWriter {
 public:
  using Job = std::function<Status(WriteContext&)>;
  // Called on the writer thread; must be quick and must not block (post elsewhere).
  using Done = std::function<void(const Status&)>;

  // Opens a connection of its own to `path` (which must exist and be migrated) and starts the
  // writer thread.
  static Result<std::unique_ptr<GroupCommitWriter>> Open(const std::string& path,
                                                         GroupCommitOptions options = {});
  // The same over a connection the caller opened (and hands over), on either backend. On
  // SQLite the connection's own settings stand (synchronous, busy timeout: open it with the
  // ones wanted). On PostgreSQL a batch is `BEGIN` (READ COMMITTED, no database-wide lock:
  // writers of several nodes run side by side) … `COMMIT`, every batch opens a transaction
  // (there is no participant-only commit: a participant there writes into the database), a
  // lost connection is opened again at the next batch, and a failed job is rolled back to its
  // savepoint, which also ends PostgreSQL's aborted state, so the rest of the batch commits.
  // kInvalidArgument for a null `db`.
  static Result<std::unique_ptr<GroupCommitWriter>> Start(std::unique_ptr<Database> db,
                                                          GroupCommitOptions options = {});
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // What a job writes to.
  enum class Writes {
    kDatabase,         // the database (and perhaps the participant)
    kParticipantOnly,  // only the participant: a batch of such jobs opens no transaction
    // Database rows that can be made again from what is durable elsewhere (the evidence log's
    // indexes, rebuilt from its files). Such jobs commit in batches of their own, and on SQLite
    // without waiting for the disk (synchronous=NORMAL for those commits; the next synced
    // commit makes them durable too, the WAL being written in order): `done` then means
    // committed and visible, not durable. So that a batch of them holds the writer, and the
    // exchanges' commits queued behind it, only for its statements, not for a sync. The
    // participant takes part as in any database batch (what its BeforeCommit records is lost
    // with such a commit only when nothing it covers needed it). On PostgreSQL they commit as
    // kDatabase jobs do.
    kRebuildable,
  };
  // Thread-safe. After Stop, `done` is called at once (on the caller's thread) with
  // kUnavailable.
  void Submit(Job job, Done done, Writes writes = Writes::kDatabase);
  // Finishes every job submitted so far, then stops the thread. Idempotent.
  void Stop();

  // Sets (or, with nullptr, clears) the one store that commits with the batches. Waits for a
  // batch in progress to end, so that a participant being destroyed can clear itself safely.
  void SetParticipant(CommitParticipant* participant);

  struct Stats {
    uint64_t commits = 0;
    uint64_t jobs = 0;
    uint64_t failed_commits = 0;
    uint64_t delayed_commits = 0;  // commits that waited for min_commit_interval_us
    uint64_t probes = 0;           // empty batches tried after a failure (not in the above)
    size_t queued = 0;             // jobs waiting for a batch now
    uint64_t wal_checkpoints = 0;  // made by the checkpoint thread (wal_checkpoint_pages)
  };
  Stats stats() const;

  // Whether writes can be made durable now (for readiness): the writer is running, and the
  // last batch (a probe's included) committed. A failure says where it happened: in the
  // participant's flush (the evidence log's files) or in the database. Any thread; cheap.
  enum class Failure : uint8_t { kNone = 0, kDatabase, kParticipant };
  struct Health {
    bool running = true;
    Failure last_batch = Failure::kNone;
  };
  Health health() const;

 private:
  struct Pending {
    Job job;
    Done done;
    Writes writes = Writes::kDatabase;
  };
  GroupCommitWriter(std::unique_ptr<Database> db, GroupCommitOptions options);
  void Run();
  // `probe`: an empty batch after a failure, kept out of the counts.
  void RunBatch(std::deque<Pending>& batch, bool probe = false);
  // On SQLite, before a batch that commits the database: the connection's synchronous setting
  // lowered to NORMAL (a rebuildable batch), or back to its own (any other). An error when it
  // could not be set back: that batch must not commit.
  Status LowerSynchronous(bool lower);
  // Opens the checkpoint thread's connection and hooks the writer's commits to it (SQLite,
  // wal_checkpoint_pages > 0); without them (in memory, or that connection failed to open)
  // SQLite's own checkpoints stay on the writer thread.
  void StartCheckpoints();
  void RunCheckpoints();
  void StopCheckpoints();

  std::unique_ptr<Database> db_;
  WriteContext context_;
  GroupCommitOptions options_;
  std::mutex batch_mutex_;  // held while a batch runs; guards context_.participant_
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  // The writer sleeps until the interval after a commit is over (Run), and is not to be woken
  // for the first job meanwhile.
  bool pacing_ = false;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> jobs_{0};
  std::atomic<uint64_t> failed_commits_{0};
  std::atomic<uint64_t> delayed_commits_{0};
  std::atomic<uint64_t> probes_{0};
  std::atomic<Failure> last_failure_{Failure::kNone};
  std::atomic<bool> stopped_{false};
  int own_synchronous_ = -1;  // the SQLite connection's own setting, once read (writer thread)
  bool synchronous_lowered_ = false;
  // The checkpoint thread (StartCheckpoints).
  std::unique_ptr<Database> checkpoint_db_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_due_ = false;
  bool checkpoint_stop_ = false;
  std::atomic<uint64_t> wal_checkpoints_{0};
  std::thread checkpointer_;
  std::thread thread_;
};

}  // namespace govesb::store
