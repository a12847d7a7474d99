#include "store/group_commit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/thread_name.h"

namespace govesb::store {

Result<Statement*> WriteContext::Prepared(std::string_view sql) {
  auto it = cache_.find(sql.data());
  if (it == cache_.end()) {
    GOVESB_ASSIGN_OR_RETURN(Statement stmt, db_.Prepare(sql));
    it = cache_.emplace(sql.data(), std::move(stmt)).first;
  } else {
    GOVESB_RETURN_IF_ERROR(it->second.Reset());
  }
  return &it->second;
}

Result<std::unique_ptr<GroupCommitWriter>> GroupCommitWriter::Open(const std::string& path,
                                                                   GroupCommitOptions options) {
  DatabaseOptions dopts;
  dopts.synchronous = options.synchronous;
  dopts.busy_timeout_ms = options.busy_timeout_ms;
  dopts.create = false;
  GOVESB_ASSIGN_OR_RETURN(auto db, Database::Open(path, dopts));
  return Start(std::move(db), options);
}

Result<std::unique_ptr<GroupCommitWriter>> GroupCommitWriter::Start(std::unique_ptr<Database> db,
                                                                    GroupCommitOptions options) {
  if (db == nullptr) return InvalidArgument("the group-commit writer needs a connection");
  if (options.max_batch == 0) options.max_batch = 1;
  return std::unique_ptr<GroupCommitWriter>(new GroupCommitWriter(std::move(db), options));
}

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<Database> db, GroupCommitOptions options)
    : db_(std::move(db)), context_(*db_), options_(options) {
  StartCheckpoints();
  thread_ = std::thread([this] {
    NameThisThread("govesb-writer");
    Run();
  });
}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

void GroupCommitWriter::Submit(Job job, Done done, Writes writes) {
  std::unique_lock lock(mutex_);
  if (stopping_) {
    lock.unlock();
    done(Unavailable("the store is shutting down; nothing was written"));
    return;
  }
  queue_.push_back(Pending{std::move(job), std::move(done), writes});
  // The writer waits for the first job (unless pacing: it commits when the interval is over),
  // or (while delaying a commit) for a full batch.
  const bool wake = (queue_.size() == 1 && !pacing_) || queue_.size() == options_.max_batch;
  // Woken after the lock is released: woken under it, the writer (often on the same core, and
  // preferred by the scheduler as it mostly sleeps) would run at once only to block on the
  // mutex still held here, two context switches and two futex calls more per commit.
  lock.unlock();
  if (wake) wake_.notify_one();
}

void GroupCommitWriter::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stopped_.store(true, std::memory_order_relaxed);
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  StopCheckpoints();
}

void GroupCommitWriter::StartCheckpoints() {
  const int pages = options_.wal_checkpoint_pages;
  if (pages <= 0 || db_->backend() != Backend::kSqlite) return;
  const std::string& path = db_->path();
  if (path.empty() || path == ":memory:" || path.starts_with("file::memory:")) return;  // no WAL
  DatabaseOptions dopts;
  dopts.synchronous = options_.synchronous;
  dopts.busy_timeout_ms = options_.busy_timeout_ms;
  dopts.create = false;
  Result<std::unique_ptr<Database>> db = Database::Open(path, dopts);
  if (!db.ok()) {
    spdlog::warn("store: checkpoints stay on the writer thread: {}", db.status().message());
    return;
  }
  checkpoint_db_ = std::move(*db);
  // On the writer thread, after each commit of the database. The thread copies the log while
  // the writer goes on, so it rarely copies all of it: a log that reaches twice the mark is
  // checkpointed by the writer itself, which then has only the rest to copy, and which, with
  // no other write going on, completes it, so that the next commit starts the log over.
  Status hooked = db_->SetWalHook([this, pages, asked = 0](int wal_pages) mutable {
    if (wal_pages < asked) asked = 0;  // started over
    if (wal_pages >= 2 * pages) {
      (void)db_->CheckpointWal();
      return;
    }
    // Once at the mark, then each half of it more.
    if (wal_pages < pages || wal_pages < asked + pages / 2) return;
    asked = wal_pages;
    {
      std::lock_guard lock(checkpoint_mutex_);
      checkpoint_due_ = true;
    }
    checkpoint_wake_.notify_one();
  });
  if (!hooked.ok()) {
    spdlog::warn("store: checkpoints stay on the writer thread: {}", hooked.message());
    checkpoint_db_.reset();
    return;
  }
  checkpointer_ = std::thread([this] {
    NameThisThread("govesb-walckpt");
    RunCheckpoints();
  });
}

void GroupCommitWriter::RunCheckpoints() {
  bool failing = false;
  std::unique_lock lock(checkpoint_mutex_);
  for (;;) {
    checkpoint_wake_.wait(lock, [&] { return checkpoint_due_ || checkpoint_stop_; });
    if (checkpoint_stop_) return;
    checkpoint_due_ = false;
    lock.unlock();
    Result<Database::WalCheckpoint> made = checkpoint_db_->CheckpointWal();
    if (made.ok()) {
      // Busy: the writer's own was under way (the next commit past the mark asks again).
      if (!made->busy) wal_checkpoints_.fetch_add(1, std::memory_order_relaxed);
      if (failing) spdlog::info("store: the write-ahead log is checkpointed again");
      failing = false;
    } else if (!failing) {
      // The next commit past the mark asks again; the writer's own bound keeps the WAL small.
      spdlog::warn("store: a checkpoint of the write-ahead log failed: {}",
                   made.status().message());
      failing = true;
    }
    lock.lock();
  }
}

void GroupCommitWriter::StopCheckpoints() {
  if (!checkpointer_.joinable()) return;
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_stop_ = true;
  }
  checkpoint_wake_.notify_one();
  checkpointer_.join();
}

void GroupCommitWriter::SetParticipant(CommitParticipant* participant) {
  std::lock_guard lock(batch_mutex_);
  context_.participant_ = participant;
}

GroupCommitWriter::Stats GroupCommitWriter::stats() const {
  size_t queued = 0;
  {
    std::lock_guard lock(mutex_);
    queued = queue_.size();
  }
  return Stats{commits_.load(), jobs_.load(), failed_commits_.load(), delayed_commits_.load(),
               probes_.load(),  queued,       wal_checkpoints_.load()};
}

GroupCommitWriter::Health GroupCommitWriter::health() const {
  return Health{!stopped_.load(std::memory_order_relaxed),
                last_failure_.load(std::memory_order_acquire)};
}

void GroupCommitWriter::Run() {
  using Clock = std::chrono::steady_clock;
  const auto interval = options_.max_batch > 1
                            ? std::chrono::microseconds(options_.min_commit_interval_us)
                            : std::chrono::microseconds(0);
  Clock::time_point last_commit{};
  std::deque<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] { return stopping_ || !queue_.empty(); };
      const auto due = last_commit + interval;
      // What ends a wait for `due` early: stopping, or a full batch.
      auto cut_short = [&] { return stopping_ || queue_.size() >= options_.max_batch; };
      // Whether the next commit is to wait for `due`: too soon after the last one, in a busy
      // process, and neither stopping nor a full batch.
      auto pace = [&] {
        return interval.count() > 0 && !cut_short() && Clock::now() < due &&
               (!options_.load || options_.load() >= options_.pace_above_load);
      };
      // Right after a commit, in a busy process: sleep until the interval is over whether or
      // not jobs come meanwhile (Submit does not wake a pacing writer for its first job), and
      // commit what has gathered then. Woken for the first job, the writer would only go back
      // to sleep until `due`: a wake-up and a context switch more per commit, on a core that
      // is busy with the exchanges.
      if (pace()) {
        pacing_ = true;
        wake_.wait_until(lock, due, cut_short);
        pacing_ = false;
        if (!queue_.empty()) delayed_commits_.fetch_add(1, std::memory_order_relaxed);
      }
      if (last_failure_.load(std::memory_order_relaxed) != Failure::kNone &&
          options_.probe_interval.count() > 0) {
        // After a failure: when nothing comes within the interval, try an empty batch, which
        // says whether the store (and the participant) can write again.
        if (!wake_.wait_for(lock, options_.probe_interval, ready)) {
          lock.unlock();
          batch.push_back(
              Pending{[](WriteContext&) { return Status::Ok(); }, nullptr, Writes::kDatabase});
          RunBatch(batch, /*probe=*/true);
          batch.clear();
          continue;
        }
      }
      wake_.wait(lock, ready);
      if (queue_.empty()) return;  // stopping and drained
      // Too soon after the last commit, in a process that was not busy then but is now: let
      // more jobs join this one (not when stopping).
      if (pace()) {
        delayed_commits_.fetch_add(1, std::memory_order_relaxed);
        wake_.wait_until(lock, due, cut_short);
      }
      // Rebuildable jobs and the others never share a batch: the jobs from the front that are
      // of the same kind as the first.
      const bool rebuildable = queue_.front().writes == Writes::kRebuildable;
      size_t n = 0;
      while (n < queue_.size() && n < options_.max_batch &&
             (queue_[n].writes == Writes::kRebuildable) == rebuildable) {
        ++n;
      }
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    last_commit = Clock::now();
    RunBatch(batch);
    batch.clear();
  }
}

void GroupCommitWriter::RunBatch(std::deque<Pending>& batch, bool probe) {
  static constexpr std::string_view kBeginSqlite = "BEGIN IMMEDIATE";
  // READ COMMITTED: the writers of several nodes write side by side (each its own rows).
  static constexpr std::string_view kBeginPostgres = "BEGIN";
  static constexpr std::string_view kCommit = "COMMIT";
  static constexpr std::string_view kRollback = "ROLLBACK";
  static constexpr std::string_view kSavepoint = "SAVEPOINT job";
  static constexpr std::string_view kRelease = "RELEASE job";
  static constexpr std::string_view kRollbackTo = "ROLLBACK TO job";

  std::lock_guard batch_lock(batch_mutex_);
  // A batch is rebuildable jobs only, or none (Run).
  const bool rebuildable = !batch.empty() && batch.front().writes == Writes::kRebuildable;
  CommitParticipant* participant = context_.participant_;
  // A batch that only writes to the participant (the evidence of synchronous exchanges) opens
  // no database transaction: its commit is the participant's flush alone.
  // On PostgreSQL every batch is a transaction: a participant there writes into it.
  const bool postgres = db_->backend() == Backend::kPostgres;
  const bool database = participant == nullptr || postgres ||
                        std::any_of(batch.begin(), batch.end(), [](const Pending& p) {
                          return p.writes != Writes::kParticipantOnly;
                        });
  auto run = [&](std::string_view sql) -> Status {
    if (!database) return Status::Ok();
    GOVESB_ASSIGN_OR_RETURN(Statement * stmt, context_.Prepared(sql));
    return stmt->Run();
  };

  std::vector<Status> results(batch.size());
  Failure failure = Failure::kDatabase;  // where the batch failed, if it does
  if (participant != nullptr) participant->BeginBatch(database);
  Status begun = postgres ? db_->ReconnectIfLost() : Status::Ok();
  if (begun.ok() && database && !postgres) {
    Status set = LowerSynchronous(rebuildable);
    // Not lowered: the rebuildable batch commits synced, which is only slower.
    if (!rebuildable) begun = set;
  }
  if (begun.ok()) begun = run(postgres ? kBeginPostgres : kBeginSqlite);
  if (begun.ok()) {
    for (size_t i = 0; i < batch.size() && begun.ok(); ++i) {
      Status s = run(kSavepoint);
      if (!s.ok()) {
        begun = s;  // no savepoint to undo the job with: the batch fails whole
        break;
      }
      const uint64_t mark = participant != nullptr ? participant->Mark() : 0;
      s = batch[i].job(context_);
      // A job that reports success after a failed statement of its own is caught here on
      // PostgreSQL (RELEASE fails in an aborted transaction) and undone like a failed one.
      if (s.ok()) s = run(kRelease);
      if (!s.ok()) {
        if (participant != nullptr) participant->RollbackTo(mark);
        Status undone = run(kRollbackTo);
        if (undone.ok()) undone = run(kRelease);
        if (!undone.ok()) {
          // What the job wrote may still be in the transaction (and on PostgreSQL it stays
          // aborted, where COMMIT would roll back without an error): the batch fails whole.
          spdlog::error("store: could not undo a failed write: {}", undone.message());
          begun = undone;
        }
      }
      results[i] = std::move(s);
    }
    // The participant's writes first: once the database commits, its writes must be durable.
    Status committed = begun;
    if (committed.ok() && participant != nullptr) {
      committed = participant->Flush();
      if (!committed.ok()) failure = Failure::kParticipant;
    }
    if (committed.ok() && participant != nullptr && database) {
      committed = participant->BeforeCommit(context_);
    }
    if (committed.ok()) committed = run(kCommit);
    if (!committed.ok()) {
      (void)run(kRollback);
      begun = committed;
    }
  }
  if (participant != nullptr) {
    if (begun.ok()) {
      participant->Committed();
    } else {
      participant->Abandon();
    }
  }
  // A probe is counted before its outcome is published: whoever sees the health it restored
  // (health(), acquire) also sees it counted.
  if (probe) probes_.fetch_add(1, std::memory_order_relaxed);
  const Failure before =
      last_failure_.exchange(begun.ok() ? Failure::kNone : failure, std::memory_order_acq_rel);
  if (before != Failure::kNone && begun.ok()) {
    spdlog::info("store: writes are made durable again");
  }
  if (probe) return;  // a failed probe: the batch that failed first was logged
  if (!begun.ok()) {
    failed_commits_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("store: a batch of {} writes could not be made durable: {}", batch.size(),
                  begun.message());
    Status failed = Unavailable("the store could not make the write durable: " + begun.message());
    for (Status& s : results) s = failed;
  } else {
    commits_.fetch_add(1, std::memory_order_relaxed);
  }
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].done) batch[i].done(results[i]);
  }
}

Status GroupCommitWriter::LowerSynchronous(bool lower) {
  if (lower == synchronous_lowered_) return Status::Ok();
  if (own_synchronous_ < 0) {
    GOVESB_ASSIGN_OR_RETURN(Statement read, db_->Prepare("PRAGMA synchronous"));
    GOVESB_ASSIGN_OR_RETURN(bool row, read.Step());
    if (!row) return Internal("PRAGMA synchronous gave no value");
    own_synchronous_ = static_cast<int>(read.ColumnInt64(0));
  }
  // NORMAL (1) or OFF (0) already: commits do not wait for the disk, nothing to lower.
  if (own_synchronous_ <= 1) return Status::Ok();
  GOVESB_RETURN_IF_ERROR(
      db_->Exec("PRAGMA synchronous = " + std::to_string(lower ? 1 : own_synchronous_)));
  synchronous_lowered_ = lower;
  return Status::Ok();
}

}  // namespace govesb::store
