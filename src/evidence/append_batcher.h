#pragma once

// Appends gathered into one write job, for both evidence adapters: every append made while a
// job is queued on the group-commit writer rides in that job, so that many exchanges share one
// job (one savepoint) and one commit.

#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "base/status.h"
#include "evidence/record.h"
#include "store/group_commit.h"

namespace govesb::evidence::internal {

class AppendBatcher {
 public:
  struct Pending {
    PreparedRecords prepared;
    std::function<void(Status)> done;
  };
  // Writes the gathered appends, in the order they were made, inside the writer's job.
  using Write = std::function<Status(store::WriteContext&, const std::vector<Pending>&)>;

  // Queues the append; when no job is queued, submits one to `writer` that takes every append
  // made until it runs and writes them with `write`. Each `done` gets the job's outcome (also
  // when the job never ran because the writer was stopping). Thread-safe; the batcher must
  // outlive the jobs it submits.
  void Append(
      store::GroupCommitWriter& writer, PreparedRecords prepared, std::function<void(Status)> done,
      const Write& write,
      store::GroupCommitWriter::Writes writes = store::GroupCommitWriter::Writes::kDatabase) {
    {
      std::lock_guard lock(mutex_);
      pending_.push_back(Pending{std::move(prepared), std::move(done)});
      if (job_queued_) return;  // the queued job takes this one too
      job_queued_ = true;
    }
    struct Batch {
      std::vector<Pending> appends;
      bool taken = false;
    };
    auto batch = std::make_shared<Batch>();
    auto take = [this, batch] {
      std::lock_guard lock(mutex_);
      batch->appends.swap(pending_);
      batch->taken = true;
      job_queued_ = false;
    };
    writer.Submit(
        [batch, take, write](store::WriteContext& ctx) -> Status {
          take();
          return write(ctx, batch->appends);
        },
        [batch, take](const Status& s) {
          // A job that never ran (the writer was stopping) still owns what is pending.
          if (!batch->taken) take();
          for (Pending& p : batch->appends) {
            if (p.done) p.done(s);
          }
        },
        writes);
  }

 private:
  std::mutex mutex_;
  std::vector<Pending> pending_;  // appends not yet taken by a write job
  bool job_queued_ = false;       // a write job that will take pending_ is queued
};

}  // namespace govesb::evidence::internal
